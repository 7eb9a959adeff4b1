"""Question images of live quizzes: storing an upload, the signed links that show it, serving.

A teacher uploads an image once and names it by id in any of their questions. The
rules are those of question files (``questions.files``): PNG, JPEG, GIF or WebP,
recognised by their first bytes whatever type the client claims, at most
``IMAGE_MAX_BYTES``, the bytes in the deployment's media storage. A link signs
``quiz-images/<id>`` and is handed out with the question to whoever may see it: the host
always, players only when the quiz shows questions on their own screens.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.content.storage import MediaTooLarge, media_storage
from studyhall.live import repository
from studyhall.live.models import LiveQuizImage
from studyhall.live.schemas import QuizImageOut
from studyhall.platform.errors import DomainError
from studyhall.platform.ids import new_id
from studyhall.platform.runtime import Platform
from studyhall.platform.signing import link_signature
from studyhall.questions.files import (
    IMAGE_MAX_BYTES,
    Download,
    image_type,
    link_expiry,
    signed_download,
)

MEDIA_PATH = "/media/quiz-images"
SNIFF_BYTES = 12
"""Enough leading bytes to tell every kept type apart (WebP's tag ends at byte 12)."""


class ImageTooLarge(DomainError):
    status = 413
    code = "image_too_large"
    title = f"An image may have at most {IMAGE_MAX_BYTES // (1024 * 1024)} MiB"


class UnsupportedImage(DomainError):
    status = 415
    code = "unsupported_image_type"
    title = "Upload a PNG, JPEG, GIF or WebP image"


def _key(image_id: uuid.UUID | str) -> str:
    """The image's key in media storage, and the subject its links sign."""
    return f"quiz-images/{image_id}"


def image_url(secret: str, image_id: uuid.UUID | str, now: float) -> str:
    """A signed link to the image; everyone shown it within one window gets the same URL
    (see ``questions.files.link_expiry``), so a browser loads it once."""
    expires = link_expiry(now)
    sig = link_signature(secret, _key(image_id), expires)
    return f"{MEDIA_PATH}/{image_id}?expires={expires}&sig={sig}"


@dataclass
class _Sniffed:
    """What the upload turned out to be, learnt while it streams to storage."""

    content_type: str = ""
    digest: Any = field(default_factory=hashlib.sha256)

    def accept(self, head: bytes) -> bytes:
        kind = image_type(head)
        if kind is None:
            raise UnsupportedImage()
        self.content_type = kind
        self.digest.update(head)
        return head

    async def stream(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """The upload unchanged, refused (415) as soon as its first bytes are no image."""
        head = b""
        async for chunk in chunks:
            if self.content_type:
                self.digest.update(chunk)
                yield chunk
                continue
            head += chunk
            if len(head) >= SNIFF_BYTES:
                yield self.accept(head)
        if not self.content_type:
            yield self.accept(head)


async def save_upload(
    session: AsyncSession,
    platform: Platform,
    owner_id: uuid.UUID,
    *,
    chunks: AsyncIterable[bytes],
    content_length: int | None,
) -> QuizImageOut:
    """Store the upload chunk by chunk and record it as ``owner_id``'s; a body announced
    too large is refused before a byte of it is read."""
    if content_length is not None and content_length > IMAGE_MAX_BYTES:
        raise ImageTooLarge()
    storage = media_storage(platform.settings)
    image_id = new_id()
    key = _key(image_id)
    sniffed = _Sniffed()
    try:
        size = await storage.save(sniffed.stream(chunks), key, max_bytes=IMAGE_MAX_BYTES)
    except MediaTooLarge as exc:
        raise ImageTooLarge() from exc
    try:
        image = LiveQuizImage(
            id=image_id,
            owner_id=owner_id,
            content_type=sniffed.content_type,
            size=size,
            sha256=sniffed.digest.hexdigest(),
            storage_key=key,
            created_at=platform.clock.now(),
        )
        await repository.add_image(session, image)
    except BaseException:
        await storage.delete(key)
        raise
    return QuizImageOut(
        id=image.id,
        url=image_url(platform.settings.secret_key, image.id, platform.clock.timestamp()),
        content_type=image.content_type,
        size=image.size,
    )


async def download(
    session: AsyncSession,
    platform: Platform,
    image_id: uuid.UUID,
    *,
    expires: str | None,
    sig: str | None,
) -> Download:
    return await signed_download(
        platform,
        _key(image_id),
        expires,
        sig,
        lambda: repository.image_by_id(session, image_id),
        "image",
    )
