"""The files questions carry (images from Moodle XML): which are kept, how they are
stored with their question, the signed links that show them, and serving those links.

Only raster images are kept: PNG, JPEG, GIF and WebP, recognised by their first bytes
(not by the name), at most :data:`IMAGE_MAX_BYTES` each. SVG is refused rather than
served sandboxed: it is a document that can carry script, and refusing it keeps one
simple rule for everything we serve (an image, typed from its bytes, ``nosniff``);
a teacher can export the drawing as PNG. A question whose file is refused is not
imported, and the report says which file and why at the file's line, as for any
other broken question: imported without its picture, the question would reach
students unanswerable, and there is no way to attach the picture afterwards. The
same goes for a question whose texts show a file it does not carry.

Students and teachers load a file through ``/media/question-files/<id>?expires=&sig=``
(see :func:`link_expiry`), issued by whatever already decided they may see the
question; the link is the only credential the media endpoint asks for.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.content.storage import MediaMissing, media_storage
from studyhall.platform.errors import NotFound
from studyhall.platform.ids import new_id
from studyhall.platform.runtime import Platform
from studyhall.platform.signing import check_link, link_signature
from studyhall.questions import repository
from studyhall.questions.content import QuestionContent
from studyhall.questions.formats.moodlexml import EmbeddedFile
from studyhall.questions.models import FILENAME_MAX_LENGTH, QuestionFile
from studyhall.questions.render import file_references

IMAGE_MAX_BYTES = 5 * 1024 * 1024
MEDIA_PATH = "/media/question-files"
LINK_TTL_SECONDS = 4 * 3600
LINK_WINDOW_SECONDS = 3600
_IMAGE_KINDS = "PNG, JPEG, GIF or WebP"


def image_type(data: bytes) -> str | None:
    """The media type of an image we keep, from its first bytes; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def refusal(file: EmbeddedFile) -> str | None:
    """Why an embedded file cannot be kept (None: it can); its question is then refused."""
    if len(file.name) > FILENAME_MAX_LENGTH:
        return f"the embedded file name '{file.name[:40]}…' is longer than {FILENAME_MAX_LENGTH}"
    if len(file.data) > IMAGE_MAX_BYTES:
        return (
            f"the embedded file '{file.name}' has {len(file.data)} bytes; an image may have "
            f"at most {IMAGE_MAX_BYTES // (1024 * 1024)} MiB: make it smaller"
        )
    if image_type(file.data) is None:
        svg = " (SVG is refused: it can carry script; export it as PNG)"
        return (
            f"the embedded file '{file.name}' is not a {_IMAGE_KINDS} image"
            f"{svg if file.media_type == 'image/svg+xml' else ''}: only images are kept"
        )
    return None


def missing_file(content: QuestionContent, carried: Sequence[EmbeddedFile]) -> str | None:
    """Why a question cannot be imported because its texts show a file it does not carry
    (None: every file they show is there)."""
    missing = file_references(content) - {file.name for file in carried}
    if not missing:
        return None
    name = min(missing)
    return (
        f"the question shows the file '{name}' (@@PLUGINFILE@@/{name}) but carries no file "
        "of that name: add its <file>, or remove the reference"
    )


def _key(file_id: uuid.UUID) -> str:
    """The file's key in media storage, and the subject its links sign."""
    return f"question-files/{file_id}"


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


class FileBatch:
    """The embedded files of an import, stored in the transaction of their questions.

    The bytes are written first, then the rows; if anything fails, every object of the
    batch is deleted again, so no file outlives the rows that would point at it. (A
    failed commit after the service returned can still leave unreferenced objects;
    they are never served, since only a row makes a link.)
    """

    def __init__(self, bank_id: uuid.UUID, now: datetime) -> None:
        self.bank_id = bank_id
        self.now = now
        self.rows: list[dict[str, Any]] = []
        self.data: list[bytes] = []

    def add(self, question_id: uuid.UUID, files: Sequence[EmbeddedFile]) -> None:
        for file in files:
            file_id = new_id()
            self.rows.append(
                {
                    "id": file_id,
                    "bank_id": self.bank_id,
                    "question_id": question_id,
                    "filename": file.name,
                    "content_type": image_type(file.data) or file.media_type,
                    "size": len(file.data),
                    "sha256": hashlib.sha256(file.data).hexdigest(),
                    "storage_key": _key(file_id),
                    "created_at": self.now,
                }
            )
            self.data.append(file.data)

    async def store(self, session: AsyncSession, platform: Platform) -> None:
        storage = media_storage(platform.settings)
        keys = [row["storage_key"] for row in self.rows]
        try:
            for key, data in zip(keys, self.data, strict=True):
                await storage.save(_one_chunk(data), key)
            await repository.insert_rows(session, QuestionFile, self.rows)
        except BaseException:
            for key in keys:
                await storage.delete(key)
            raise


def link_expiry(now: float) -> int:
    """When a link issued at ``now`` stops working: at least :data:`LINK_TTL_SECONDS`
    later (longer than an exam sitting, so images do not break mid-exam), rounded up
    to a whole :data:`LINK_WINDOW_SECONDS`. Everyone viewing a question within one
    window gets the same URL, so browsers (which cache by URL) load each image once
    per window; the price is that a link can live one window longer than the TTL."""
    earliest = int(now) + LINK_TTL_SECONDS
    return -(-earliest // LINK_WINDOW_SECONDS) * LINK_WINDOW_SECONDS


async def file_urls(
    session: AsyncSession, platform: Platform, question_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, str]]:
    """Signed links to the questions' files, by question and file name.

    The caller has already decided the viewer may see these questions: the link is
    the only credential the media endpoint asks for.
    """
    expires = link_expiry(platform.clock.timestamp())
    secret = platform.settings.secret_key
    urls: dict[uuid.UUID, dict[str, str]] = {}
    for row in await repository.files_of(session, question_ids):
        sig = link_signature(secret, _key(row.id), expires)
        urls.setdefault(row.question_id, {})[row.filename] = (
            f"{MEDIA_PATH}/{row.id}?expires={expires}&sig={sig}"
        )
    return urls


async def bank_files(
    session: AsyncSession, bank_id: uuid.UUID
) -> dict[uuid.UUID, list[QuestionFile]]:
    """The files of every question of a bank that has any, by question."""
    found: dict[uuid.UUID, list[QuestionFile]] = {}
    for row in await repository.files_of_bank(session, bank_id):
        found.setdefault(row.question_id, []).append(row)
    return found


async def read_files(
    platform: Platform, rows: Sequence[QuestionFile]
) -> tuple[list[EmbeddedFile], list[str]]:
    """The files with their bytes (for export), and the names of any whose bytes are
    missing from storage (an operator's problem, which the export reports)."""
    storage = media_storage(platform.settings)
    found: list[EmbeddedFile] = []
    missing: list[str] = []
    for row in rows:
        chunks = storage.open_range(row.storage_key, 0, row.size - 1)
        try:
            data = b"".join([chunk async for chunk in chunks])
        except MediaMissing:
            missing.append(row.filename)
            continue
        found.append(EmbeddedFile(name=row.filename, data=data, media_type=row.content_type))
    return found, missing


@dataclass(frozen=True, slots=True)
class Download:
    """What to send for a valid link: the object and the headers that describe it."""

    storage_key: str
    content_type: str
    size: int
    etag: str
    max_age: int


class StoredMedia(Protocol):
    """A stored upload: a question file or a live quiz image."""

    @property
    def storage_key(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def sha256(self) -> str: ...


async def signed_download(
    platform: Platform,
    link_key: str,
    expires: str | None,
    sig: str | None,
    find: Callable[[], Awaitable[StoredMedia | None]],
    noun: str,
) -> Download:
    """Check a signed link (403 ``bad_signature`` / ``link_expired``), then ``find`` the
    upload. The ETag is the content hash: the bytes under an id never change."""
    remaining = check_link(
        platform.settings.secret_key, link_key, expires, sig, platform.clock.timestamp()
    )
    row = await find()
    if row is None:
        raise NotFound(f"No such {noun}")
    try:
        size = await media_storage(platform.settings).size(row.storage_key)
    except MediaMissing as exc:
        raise NotFound(f"The {noun} is missing from storage") from exc
    return Download(
        storage_key=row.storage_key,
        content_type=row.content_type,
        size=size,
        etag=f'"{row.sha256}"',
        max_age=remaining,
    )


async def download(
    session: AsyncSession,
    platform: Platform,
    file_id: uuid.UUID,
    *,
    expires: str | None,
    sig: str | None,
) -> Download:
    return await signed_download(
        platform,
        _key(file_id),
        expires,
        sig,
        lambda: repository.file_by_id(session, file_id),
        "file",
    )


def download_chunks(platform: Platform, plan: Download) -> AsyncIterator[bytes]:
    """The file's bytes, read from storage in chunks as they are sent."""
    return media_storage(platform.settings).open_range(plan.storage_key, 0, plan.size - 1)


def stream_download(platform: Platform, plan: Download) -> Stream:
    """The response for a valid link: private to the browser's cache, never sniffed."""
    return Stream(
        download_chunks(platform, plan),
        media_type=plan.content_type,
        headers={
            "Content-Length": str(plan.size),
            "ETag": plan.etag,
            "Cache-Control": f"private, max-age={plan.max_age}",
            "X-Content-Type-Options": "nosniff",
        },
    )
