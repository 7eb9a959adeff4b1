"""Integrity signals from the exam page: taken in at once, written in batches, off the hot path.

``POST /api/v1/sessions/{id}/signals`` answers ``202`` as soon as the signal is
checked (owner, open session, per-session rate) and put in this process's
:class:`SignalBuffer`; a background task writes what gathered once a second in one
statement. The checks read the session snapshot the answer saves cache, so a signal
costs no database read, and a flood is refused by its own limiter key before it costs
anything else: saves never wait behind signals.

Signals are evidence for a person to read, not acknowledged writes: a ``kill -9``
loses at most the last second of them, and a buffer over its capacity drops new ones
(and logs how many). Saves, which must never be lost, take the journal path instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import uuid
from datetime import UTC
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from studyhall.exams import integrity_repository
from studyhall.exams.answers import SessionClosed, _snapshot
from studyhall.exams.repository import OPEN_STATUSES
from studyhall.exams.schemas import SignalIn
from studyhall.platform.auth import Actor
from studyhall.platform.errors import InvalidInput, NotFound, RateLimited, ServiceUnavailable
from studyhall.platform.runtime import Platform

logger = logging.getLogger("studyhall.exams.integrity")

SIGNALS_PER_MINUTE = 120
FLUSH_SECONDS = 1.0
MAX_BATCH = 1000
CAPACITY = 100_000


class SignalKind(enum.StrEnum):
    PAGE_HIDDEN = "page-hidden"
    FOCUS_LOST = "focus-lost"
    FULLSCREEN_EXIT = "fullscreen-exit"
    COPY = "copy"
    CUT = "cut"
    PASTE = "paste"
    CONTEXT_MENU = "context-menu"
    PRINT = "print"


class UnknownSignalKind(InvalidInput):
    code = "unknown_signal_kind"
    title = "Unknown signal kind"


class SignalBuffer:
    """Signals waiting for their batch; one per process, written by one background task."""

    def __init__(self, engine: AsyncEngine, *, flush_seconds: float = FLUSH_SECONDS) -> None:
        self._engine = engine
        self._flush_seconds = flush_seconds
        self._pending: list[dict[str, Any]] = []
        self._dropped = 0
        self._write_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add(self, row: dict[str, Any]) -> None:
        if self._stop.is_set():
            raise ServiceUnavailable("The server is shutting down; retry")
        if len(self._pending) >= CAPACITY:
            self._dropped += 1
            return
        self._pending.append(row)
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        self._wake.set()

    async def flush(self) -> None:
        """Write everything added so far; returns once it is committed (or logged lost)."""
        async with self._write_lock:
            if self._dropped:
                logger.warning("integrity buffer full: %d signals dropped", self._dropped)
                self._dropped = 0
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                try:
                    async with self._engine.begin() as connection:
                        await integrity_repository.insert_signals(connection, batch)
                except Exception:
                    logger.exception("%d integrity signals could not be stored", len(batch))

    async def close(self) -> None:
        """Write what is buffered, then stop taking signals."""
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            await self._task
        await self.flush()

    async def _run(self) -> None:
        while not self._stop.is_set():
            await self._wake.wait()
            # Let a second's worth gather, unless shutdown asks for the write now.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._flush_seconds)
            self._wake.clear()
            await self.flush()


def signal_kind(raw: str) -> SignalKind:
    try:
        return SignalKind(raw)
    except ValueError:
        known = ", ".join(kind.value for kind in SignalKind)
        raise UnknownSignalKind(f"Unknown kind {raw[:40]!r}; one of {known}") from None


async def _within_rate(platform: Platform, session_id: uuid.UUID) -> None:
    """Signals per session and minute, on a key of their own so a flood never uses up the
    saves' allowance; a limiter that is down lets signals through."""
    try:
        decision = await platform.limiter.hit(
            f"exams:signals:{session_id}", limit=SIGNALS_PER_MINUTE, window_seconds=60
        )
    except (RedisError, OSError):
        return
    if not decision.allowed:
        raise RateLimited(decision.retry_after)


async def record_signal(
    platform: Platform, buffer: SignalBuffer, actor: Actor, session_id: uuid.UUID, data: SignalIn
) -> None:
    """Take one signal from the session's student while the session is open (ACTIVE or
    PAUSED); after submit it is ``409 session_closed``, like a save."""
    kind = signal_kind(data.kind)
    snapshot = await _snapshot(platform, session_id)
    if snapshot is None or snapshot.user_id != actor.user_id:
        raise NotFound("No such session")
    if snapshot.status not in OPEN_STATUSES:
        raise SessionClosed()
    await _within_rate(platform, session_id)
    client_at = data.at
    if client_at is not None and client_at.tzinfo is None:
        client_at = client_at.replace(tzinfo=UTC)
    buffer.add(
        {
            "session_id": session_id,
            "kind": kind.value,
            "client_at": client_at,
            "received_at": platform.clock.now(),
            "detail": data.detail,
        }
    )
