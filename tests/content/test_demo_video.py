"""The demo's lecture video: a small WebM that decodes to the frames it promises, seeks
by its index, and shows where playback is."""

from __future__ import annotations

import io

import av
import pytest
from av.video.frame import VideoFrame

from studyhall.content.demo_video import BAR_HEIGHT, PALETTE, WHITE, lecture_video

Colour = tuple[int, int, int]


@pytest.fixture(scope="module")
def video() -> bytes:
    return lecture_video()


def _frames(data: bytes) -> list[VideoFrame]:
    with av.open(io.BytesIO(data)) as container:
        return list(container.decode(video=0))


def _pixel(frame: VideoFrame, x: int, y: int) -> Colour:
    rgb = frame.reformat(format="rgb24")
    plane = rgb.planes[0]
    start = y * plane.line_size + x * 3
    red, green, blue = bytes(plane)[start : start + 3]
    return red, green, blue


def _near(colour: Colour, expected: Colour) -> bool:
    """Equal but for what YUV 4:2:0 and lossy coding do to a colour."""
    return all(abs(a - b) <= 24 for a, b in zip(colour, expected, strict=True))


def test_the_lecture_video_is_a_small_webm_of_twenty_seconds(video: bytes) -> None:
    assert len(video) < 300_000
    with av.open(io.BytesIO(video)) as container:
        assert "webm" in container.format.name
        stream = container.streams.video[0]
        assert stream.codec_context.name == "vp8"
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
        assert container.duration is not None
        assert container.duration / av.time_base == pytest.approx(20, abs=0.2)
    frames = _frames(video)
    assert len(frames) == 200
    assert [frame.time for frame in frames if frame.key_frame] == list(range(20))
    assert frames[-1].time == pytest.approx(19.9)


def test_seeking_lands_on_the_key_frame_of_that_second(video: bytes) -> None:
    with av.open(io.BytesIO(video)) as container:
        container.seek(15 * av.time_base)
        frame = next(container.decode(video=0))
    assert frame.key_frame
    assert frame.time == pytest.approx(15)


def test_each_second_has_its_colour_and_the_bar_shows_the_time_played(video: bytes) -> None:
    frames = _frames(video)
    for index in (0, 55, 125, 199):
        frame = frames[index]
        background = PALETTE[(index // 10) % len(PALETTE)]
        bar = round(320 * (index + 1) / 200)
        assert _near(_pixel(frame, 2, 178), background), index
        assert _near(_pixel(frame, max(bar - 4, 0), BAR_HEIGHT // 2), WHITE), index
        if bar < 316:
            assert _near(_pixel(frame, bar + 4, BAR_HEIGHT // 2), background), index


def test_rows_are_padded_to_the_frame_stride() -> None:
    """At 100 pixels a row is 300 bytes, less than the frame's aligned stride."""
    frames = _frames(lecture_video(seconds=1, width=100, height=60))
    assert len(frames) == 10
    last = frames[-1]
    assert (last.width, last.height) == (100, 60)
    assert _near(_pixel(last, 97, 57), PALETTE[0])
    assert _near(_pixel(last, 97, 2), WHITE)  # the bar is full: a sheared row would not be


def test_grain_makes_a_file_as_big_as_its_bit_rate() -> None:
    grainy = lecture_video(seconds=2, grain=True, bit_rate=1_000_000)
    assert len(grainy) > 150_000  # 1 Mbit/s for 2 s is 250 kB; without grain, about 4 kB
    assert len(_frames(grainy)) == 20
