"""Who a token or session cookie belongs to, cached in the hot store.

Every authenticated request needs the user's role and token generation; caching
them for a few seconds takes a database query off every hot path (answer saves,
live-quiz calls). The cache is shared by all nodes when Redis is configured.
A password change writes the new generation at once, so older tokens and other
browser sessions stop working on every node; logout forgets its session. When
the hot store is unreachable, authentication falls back to the database.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable
from typing import TypeVar

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.identity import repository
from studyhall.identity.models import User
from studyhall.platform.hotstore import quietly
from studyhall.platform.logging import ThrottledWarning
from studyhall.platform.runtime import Platform

CACHE_SECONDS = 30
T = TypeVar("T")
logger = logging.getLogger("studyhall.identity")
_outage = ThrottledWarning(logger, "hot store unavailable; authenticating from the database")


class CachedUser(msgspec.Struct, frozen=True):
    id: uuid.UUID
    generation: int
    role: str
    email: str
    name: str


class CachedSession(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    # The user's token generation when cached: a password change since then (which
    # deletes the user's other sessions) sends the lookup back to the database.
    generation: int
    expires_at: float


_user_decoder = msgspec.json.Decoder(CachedUser)
_session_decoder = msgspec.json.Decoder(CachedSession)


def _user_key(user_id: uuid.UUID) -> str:
    return f"auth:user:{user_id}"


def _session_key(token_hash: str) -> str:
    return f"auth:session:{token_hash}"


async def _quietly(operation: Awaitable[T]) -> T | None:
    return await quietly(operation, _outage)


async def remember_user(platform: Platform, user: User) -> CachedUser:
    cached = CachedUser(
        id=user.id,
        generation=user.token_generation,
        role=user.role,
        email=user.email,
        name=user.name,
    )
    await _quietly(
        platform.hot.set(_user_key(user.id), msgspec.json.encode(cached), ttl_seconds=CACHE_SECONDS)
    )
    return cached


async def cached_user(platform: Platform, user_id: uuid.UUID) -> CachedUser | None:
    """The user as the hot store has it; None when not cached (or unreachable)."""
    raw = await _quietly(platform.hot.get(_user_key(user_id)))
    return None if raw is None else _user_decoder.decode(raw)


async def user(session: AsyncSession, platform: Platform, user_id: uuid.UUID) -> CachedUser | None:
    cached = await cached_user(platform, user_id)
    if cached is not None:
        return cached
    found = await repository.user_by_id(session, user_id)
    return None if found is None else await remember_user(platform, found)


async def web_session_user(
    session: AsyncSession, platform: Platform, token_hash: str
) -> CachedUser | None:
    """The user of a live browser session."""
    now = platform.clock.now()
    raw = await _quietly(platform.hot.get(_session_key(token_hash)))
    if raw is not None:
        cached = _session_decoder.decode(raw)
        current = await user(session, platform, cached.user_id)
        if (
            current is not None
            and current.generation == cached.generation
            and cached.expires_at > now.timestamp()
        ):
            return current
    found = await repository.web_session_user(session, token_hash, now)
    if found is None:
        return None
    owner, expires_at = found
    current = await remember_user(platform, owner)
    entry = CachedSession(owner.id, owner.token_generation, expires_at.timestamp())
    ttl = min(CACHE_SECONDS, (expires_at - now).total_seconds())
    await _quietly(
        platform.hot.set(_session_key(token_hash), msgspec.json.encode(entry), ttl_seconds=ttl)
    )
    return current


async def forget_session(platform: Platform, token_hash: str) -> None:
    await _quietly(platform.hot.delete(_session_key(token_hash)))
