"""Where uploaded media bytes live, behind one small interface.

:class:`LocalDiskStorage` keeps them under ``<data dir>/media`` (the embedded
deployment, or a shared volume); an S3-compatible store can implement the same
:class:`MediaStorage` protocol. Nothing here ever holds a whole file in memory:
uploads are written chunk by chunk, reads stream a byte range in chunks.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio

from studyhall.config import Settings

CHUNK_BYTES = 64 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
_BYTE_RANGE = re.compile(r"^\s*([0-9]*)\s*-\s*([0-9]*)\s*$")
_BEYOND_ANY_OBJECT = 10**18


class MediaTooLarge(Exception):
    """The stream went past the size limit; nothing of it was kept."""


class MediaMissing(Exception):
    """No object is stored under this key."""


class MediaStorage(Protocol):
    async def save(
        self, stream: AsyncIterable[bytes], key: str, *, max_bytes: int | None = None
    ) -> int:
        """Store the stream under ``key`` (replacing it atomically); returns its size.
        Raises :class:`MediaTooLarge` past ``max_bytes``, leaving nothing behind."""

    def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` inclusive (as a Range header counts), in chunks."""

    async def size(self, key: str) -> int:
        """Size in bytes; raises :class:`MediaMissing`."""

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""


class LocalDiskStorage:
    """Objects as files under ``root``; a key is a relative path of safe segments."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"invalid media key {key!r}")
        return self.root / key

    async def save(
        self, stream: AsyncIterable[bytes], key: str, *, max_bytes: int | None = None
    ) -> int:
        path = self._path(key)
        await anyio.Path(path.parent).mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{secrets.token_hex(8)}.part")
        size = 0
        try:
            async with await anyio.open_file(partial, "wb") as handle:
                async for chunk in stream:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise MediaTooLarge(f"more than {max_bytes} bytes")
                    if chunk:
                        await handle.write(chunk)
            await anyio.to_thread.run_sync(os.replace, partial, path)
        except BaseException:
            await anyio.Path(partial).unlink(missing_ok=True)
            raise
        return size

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        path = self._path(key)
        remaining = end - start + 1
        try:
            handle = await anyio.open_file(path, "rb")
        except FileNotFoundError as exc:
            raise MediaMissing(key) from exc
        async with handle:
            await handle.seek(start)
            while remaining > 0:
                chunk = await handle.read(min(CHUNK_BYTES, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk

    async def size(self, key: str) -> int:
        try:
            return (await anyio.Path(self._path(key)).stat()).st_size
        except FileNotFoundError as exc:
            raise MediaMissing(key) from exc

    async def delete(self, key: str) -> None:
        await anyio.Path(self._path(key)).unlink(missing_ok=True)


def media_storage(settings: Settings) -> MediaStorage:
    """The deployment's media store (local disk under the data dir, for now)."""
    return LocalDiskStorage(settings.data_dir / "media")


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``start`` to ``end`` inclusive of an object of ``total`` bytes."""

    start: int
    end: int
    total: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class RangeUnsatisfiable(Exception):
    """The Range asks for no byte of the object, or cannot be read at all."""


def parse_range(header: str | None, total: int) -> ByteRange | None:
    """The single byte range a ``Range`` header asks for; None means "send it all".

    Handles ``bytes=a-b`` (``b`` clipped to the end), ``bytes=a-`` and ``bytes=-n``
    (the last ``n`` bytes). Another unit, or several ranges, are ignored (the whole
    object is sent, as RFC 9110 allows); a malformed or unsatisfiable byte range
    raises :class:`RangeUnsatisfiable`.
    """
    if header is None:
        return None
    unit, separator, spec = header.strip().partition("=")
    if not separator:
        raise RangeUnsatisfiable(header)
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = _BYTE_RANGE.match(spec)
    if match is None or not (match.group(1) or match.group(2)):
        raise RangeUnsatisfiable(header)
    first, last = match.group(1), match.group(2)
    if not first:
        suffix = _position(last)
        if suffix == 0 or total == 0:
            raise RangeUnsatisfiable(header)
        return ByteRange(max(total - suffix, 0), total - 1, total)
    start = _position(first)
    end = _position(last) if last else total - 1
    if start >= total or end < start:
        raise RangeUnsatisfiable(header)
    return ByteRange(start, min(end, total - 1), total)


def _position(digits: str) -> int:
    """A byte position from a header; one too long for any object (or for ``int()``, which
    refuses thousands of digits) counts as :data:`_BEYOND_ANY_OBJECT`."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) < 18 else _BEYOND_ANY_OBJECT
