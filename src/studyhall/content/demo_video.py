"""A short lecture video drawn at demo time, so the demo ships no binary and plays in Chromium.

Each second has its own background colour and its number drawn in big blocks, and a
bar along the top (the player's controls cover the bottom) grows with the time played:
a glance at the picture tells where playback is, which is what checking a seek needs.
It is VP8 in WebM with a key frame every second and the muxer's index (Cues), so a
player can seek by byte ranges.
"""

from __future__ import annotations

import io
import random
from fractions import Fraction

import av

WIDTH = 320
HEIGHT = 180
FPS = 10
SECONDS = 20
BIT_RATE = 160_000
# One colour per second, dark enough that white marks on it are easy to read.
PALETTE = [
    (31, 95, 191),
    (29, 107, 56),
    (161, 38, 27),
    (106, 52, 150),
    (20, 110, 120),
    (140, 80, 10),
    (60, 64, 72),
    (150, 30, 90),
]
WHITE = (255, 255, 255)
# A 3x5 block font for the digits, one string of "#" and "." per row.
DIGITS = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", "###", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
}
BAR_HEIGHT = 10
# Grain levels: random bytes scaled to 0-95, dark enough for the white marks to stand out.
GRAIN_LEVELS = bytes(value * 96 // 256 for value in range(256))


class Canvas:
    """An RGB picture as rows of bytes, painted with filled rectangles."""

    def __init__(self, width: int, height: int, colour: tuple[int, int, int]) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(colour) * (width * height))

    def fill(self, x: int, y: int, w: int, h: int, colour: tuple[int, int, int]) -> None:
        x, y = max(x, 0), max(y, 0)
        w, h = min(w, self.width - x), min(h, self.height - y)
        if w <= 0 or h <= 0:
            return
        run = bytes(colour) * w
        for row in range(y, y + h):
            start = (row * self.width + x) * 3
            self.pixels[start : start + len(run)] = run

    def rows(self, line_size: int) -> bytes:
        """The pixels with each row padded to ``line_size`` bytes (the frame's stride)."""
        row_bytes = self.width * 3
        if line_size == row_bytes:
            return bytes(self.pixels)
        padding = bytes(line_size - row_bytes)
        return b"".join(
            bytes(self.pixels[start : start + row_bytes]) + padding
            for start in range(0, len(self.pixels), row_bytes)
        )


def draw_number(canvas: Canvas, text: str, colour: tuple[int, int, int]) -> None:
    """``text`` (digits) in the block font, centred below the bar."""
    block = max(1, min(canvas.width, canvas.height) // 11)  # 16 pixels at 320x180
    glyph_width, gap = 3 * block, block
    total = len(text) * glyph_width + (len(text) - 1) * gap
    left = (canvas.width - total) // 2
    top = BAR_HEIGHT + (canvas.height - BAR_HEIGHT - 5 * block) // 2
    for index, char in enumerate(text):
        x0 = left + index * (glyph_width + gap)
        for row, pattern in enumerate(DIGITS[char]):
            for column, mark in enumerate(pattern):
                if mark == "#":
                    canvas.fill(x0 + column * block, top + row * block, block, block, colour)


def draw_frame(
    index: int,
    *,
    fps: int,
    total_frames: int,
    width: int,
    height: int,
    grain: random.Random | None = None,
) -> Canvas:
    second = index // fps
    canvas = Canvas(width, height, PALETTE[second % len(PALETTE)])
    if grain is not None:
        canvas.pixels[:] = grain.randbytes(len(canvas.pixels)).translate(GRAIN_LEVELS)
    draw_number(canvas, f"{second:02d}", WHITE)
    bar = round(width * (index + 1) / total_frames)
    canvas.fill(0, 0, bar, BAR_HEIGHT, WHITE)
    return canvas


def lecture_video(
    seconds: int = SECONDS,
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    fps: int = FPS,
    bit_rate: int = BIT_RATE,
    grain: bool = False,
) -> bytes:
    """The WebM file's bytes (VP8, no audio).

    ``grain`` puts random pixels under the marks instead of the flat colour: no encoder
    can squeeze them, so the file is as big as ``bit_rate`` allows, as a real lecture's
    is. A browser reads a small file whole, so a test of seeking by byte ranges needs it.
    """
    rng = random.Random(0) if grain else None
    buffer = io.BytesIO()
    total_frames = seconds * fps
    # A seekable output lets the muxer go back and write the duration and the Cues.
    with av.open(buffer, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=fps)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bit_rate
        stream.gop_size = fps  # a key frame every second: seeks land close to the target
        stream.options = {"deadline": "realtime", "cpu-used": "8"}
        time_base = Fraction(1, fps)
        for index in range(total_frames):
            canvas = draw_frame(
                index, fps=fps, total_frames=total_frames, width=width, height=height, grain=rng
            )
            frame = av.VideoFrame(width, height, "rgb24")
            plane = frame.planes[0]
            plane.update(canvas.rows(plane.line_size))
            frame.pts = index
            frame.time_base = time_base
            container.mux(stream.encode(frame.reformat(format="yuv420p")))
        container.mux(stream.encode(None))
    return buffer.getvalue()
