"""Media storage without a server: Range headers, and files written and read in chunks."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studyhall.content.storage import (
    CHUNK_BYTES,
    ByteRange,
    LocalDiskStorage,
    MediaMissing,
    MediaTooLarge,
    RangeUnsatisfiable,
    parse_range,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", ByteRange(0, 99, 1000)),
        ("bytes=0-0", ByteRange(0, 0, 1000)),
        ("bytes=999-999", ByteRange(999, 999, 1000)),
        ("bytes=100-", ByteRange(100, 999, 1000)),
        ("bytes=900-5000", ByteRange(900, 999, 1000)),
        ("bytes=-50", ByteRange(950, 999, 1000)),
        ("bytes=-1000", ByteRange(0, 999, 1000)),
        ("bytes=-5000", ByteRange(0, 999, 1000)),
        ("bytes=0-" + "9" * 5000, ByteRange(0, 999, 1000)),
        ("bytes=-" + "9" * 5000, ByteRange(0, 999, 1000)),
        ("BYTES = 5 - 9 ", ByteRange(5, 9, 1000)),
        ("bytes=0-1,5-9", None),
        ("items=0-1", None),
    ],
)
def test_satisfiable_ranges(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=1000-",
        "bytes=1000-1000",
        "bytes=5-2",
        "bytes=-0",
        "bytes=-",
        "bytes=",
        "bytes=a-b",
        "bytes=1-2-3",
        "bytes 0-1",
        "garbage",
        "",
        "bytes=" + "9" * 5000 + "-",
        "bytes=\u0661-\u0662",
    ],
)
def test_unsatisfiable_or_malformed_ranges(header: str) -> None:
    with pytest.raises(RangeUnsatisfiable):
        parse_range(header, 1000)


def test_nothing_of_an_empty_object_is_satisfiable() -> None:
    for header in ("bytes=0-", "bytes=-1", "bytes=0-0"):
        with pytest.raises(RangeUnsatisfiable):
            parse_range(header, 0)


@given(
    data=st.binary(min_size=1, max_size=300),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=6),
    suffix=st.integers(min_value=1, max_value=400),
)
def test_ranges_cut_anywhere_reassemble_the_object(
    data: bytes, cuts: list[int], suffix: int
) -> None:
    """Consecutive ``a-b`` pieces, an open-ended last one and any suffix are exact."""
    total = len(data)
    starts = sorted({0, *(cut for cut in cuts if cut < total)})
    pieces = []
    for start, following in zip(starts, [*starts[1:], None], strict=True):
        header = f"bytes={start}-" if following is None else f"bytes={start}-{following - 1}"
        byte_range = parse_range(header, total)
        assert byte_range is not None
        assert byte_range.total == total
        assert byte_range.length == byte_range.end - byte_range.start + 1 > 0
        pieces.append(data[byte_range.start : byte_range.end + 1])
    assert b"".join(pieces) == data
    tail = parse_range(f"bytes=-{suffix}", total)
    assert tail is not None
    assert data[tail.start : tail.end + 1] == data[-suffix:]


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(storage: LocalDiskStorage, key: str, start: int, end: int) -> bytes:
    return b"".join([chunk async for chunk in storage.open_range(key, start, end)])


def _files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


async def test_local_disk_storage_saves_and_streams_exact_ranges(tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path / "media")
    data = random.Random(3).randbytes(3 * CHUNK_BYTES + 123)
    size = await storage.save(_chunks(data, 10_000), "videos/abc", max_bytes=len(data))
    assert size == len(data) == await storage.size("videos/abc")
    assert _files(tmp_path) == [tmp_path / "media" / "videos" / "abc"], "no partial file left"
    for start, end in (
        (0, len(data) - 1),
        (0, 0),
        (CHUNK_BYTES - 1, CHUNK_BYTES + 1),
        (5, 2 * CHUNK_BYTES + 7),
        (len(data) - 1, len(data) - 1),
    ):
        assert await _read(storage, "videos/abc", start, end) == data[start : end + 1]
    chunks = [chunk async for chunk in storage.open_range("videos/abc", 0, len(data) - 1)]
    assert max(len(chunk) for chunk in chunks) <= CHUNK_BYTES, "read in chunks, not whole"
    assert await _read(storage, "videos/abc", len(data) - 2, len(data) + 50) == data[-2:]

    replaced = await storage.save(_chunks(b"new", 1), "videos/abc")
    assert replaced == 3
    assert await _read(storage, "videos/abc", 0, 2) == b"new"
    await storage.delete("videos/abc")
    await storage.delete("videos/abc")
    with pytest.raises(MediaMissing):
        await storage.size("videos/abc")
    with pytest.raises(MediaMissing):
        await _read(storage, "videos/abc", 0, 1)


async def test_a_save_past_the_limit_or_broken_off_leaves_nothing(tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path)
    await storage.save(_chunks(b"old", 3), "videos/kept")
    with pytest.raises(MediaTooLarge):
        await storage.save(_chunks(b"x" * 1001, 100), "videos/big", max_bytes=1000)
    with pytest.raises(MediaTooLarge):
        await storage.save(_chunks(b"x" * 1001, 100), "videos/kept", max_bytes=1000)
    assert await storage.save(_chunks(b"x" * 1000, 100), "videos/exact", max_bytes=1000) == 1000

    async def broken() -> AsyncIterator[bytes]:
        yield b"first"
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await storage.save(broken(), "videos/broken")
    assert _files(tmp_path) == [tmp_path / "videos" / "exact", tmp_path / "videos" / "kept"]
    assert await _read(storage, "videos/kept", 0, 10) == b"old", "a refused save keeps the old"


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/../b", "a/.", "", "a b", "a/"])
async def test_keys_cannot_leave_the_root(tmp_path: Path, key: str) -> None:
    storage = LocalDiskStorage(tmp_path / "media")
    with pytest.raises(ValueError, match="invalid media key"):
        await storage.save(_chunks(b"x", 1), key)
    with pytest.raises(ValueError, match="invalid media key"):
        await storage.size(key)
