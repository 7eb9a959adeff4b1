"""The answer-save hot path: checks from a cached session snapshot, group commit to the journal.

A save is acknowledged only after the database committed it, so ``200 {saved:true}``
survives a ``kill -9`` of the app and the loss of Redis. To keep that cheap, saves
arriving together share one transaction: one task per process takes everything that
queued while the previous commit ran and writes it with one statement (see
``repository.journal_answers`` for why a save can never slip past a submit). An idle
server commits a lone save at once; a busy one commits hundreds per round trip.

The checks before queueing (owner, question in the session, response shape, clock)
read a snapshot of the session from the hot store and question versions from a
process cache, so a save costs no database read. The snapshot may be stale; the
journal insert re-checks status and deadline in the database, which decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from studyhall.exams import repository
from studyhall.exams.models import ExamSession
from studyhall.exams.schemas import AnswerIn
from studyhall.platform.auth import Actor
from studyhall.platform.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
)
from studyhall.platform.runtime import Platform
from studyhall.questions.frozen import frozen_versions
from studyhall.questions.scoring import InvalidResponse, validate_response

logger = logging.getLogger("studyhall.exams.answers")

MAX_BATCH = 512
SNAPSHOT_SLACK_SECONDS = 300
SAVES_PER_MINUTE = 600
MAX_KEY_LENGTH = 255


class TimeExpired(Conflict):
    code = "time_expired"
    title = "The time for this exam is over"


class SessionPaused(Conflict):
    code = "session_paused"
    title = "The session is paused; resume it to answer"


class SessionClosed(Conflict):
    code = "session_closed"
    title = "The session has been submitted"


class QuestionNotInSession(InvalidInput):
    code = "question_not_in_session"
    title = "The question is not part of this session"


class InvalidAnswer(InvalidInput):
    code = "invalid_answer"
    title = "The answer does not fit the question"


class IdempotencyKeyRequired(DomainError):
    status = 400
    code = "idempotency_key_required"
    title = "This request needs an Idempotency-Key header"


class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"
    title = "The Idempotency-Key was used for another request"


class IdempotencyInFlight(Conflict):
    code = "idempotency_in_flight"
    title = "A request with this Idempotency-Key is still being processed"


class SessionSnapshot(msgspec.Struct, array_like=True, frozen=True):
    """What the save checks need: owner, status, deadline and the frozen versions."""

    user_id: uuid.UUID
    status: str
    ends_at: float
    versions: dict[uuid.UUID, uuid.UUID]


def snapshot_of(exam_session: ExamSession) -> SessionSnapshot:
    return SessionSnapshot(
        user_id=exam_session.user_id,
        status=exam_session.status,
        ends_at=exam_session.ends_at.timestamp(),
        versions={
            uuid.UUID(item["questionId"]): uuid.UUID(item["versionId"])
            for item in exam_session.questions
        },
    )


def _snapshot_key(session_id: uuid.UUID) -> str:
    return f"exams:session:{session_id}"


async def remember_snapshot(platform: Platform, exam_session: ExamSession) -> None:
    ttl = exam_session.submit_by.timestamp() - platform.clock.timestamp()
    with contextlib.suppress(RedisError, OSError):
        await platform.hot.set(
            _snapshot_key(exam_session.id),
            msgspec.msgpack.encode(snapshot_of(exam_session)),
            ttl_seconds=max(ttl, 0) + SNAPSHOT_SLACK_SECONDS,
        )


async def forget_snapshot(platform: Platform, session_id: uuid.UUID) -> None:
    """Called after a status change; until then a stale snapshot only lets a save reach
    the database check, never past it."""
    with contextlib.suppress(RedisError, OSError):
        await platform.hot.delete(_snapshot_key(session_id))


async def _snapshot(platform: Platform, session_id: uuid.UUID) -> SessionSnapshot | None:
    try:
        cached = await platform.hot.get(_snapshot_key(session_id))
    except (RedisError, OSError):
        cached = None
    if cached is not None:
        return msgspec.msgpack.decode(cached, type=SessionSnapshot)
    async with platform.sessions() as db:
        exam_session = await repository.session_by_id(db, session_id)
    if exam_session is None:
        return None
    await remember_snapshot(platform, exam_session)
    return snapshot_of(exam_session)


class Outcome(enum.Enum):
    SAVED = "saved"
    REUSED = "reused"
    EXPIRED = "expired"
    PAUSED = "paused"
    CLOSED = "closed"


@dataclass(slots=True)
class PendingSave:
    session_id: uuid.UUID
    question_id: uuid.UUID
    idempotency_key: str
    body_hash: str
    response: Any
    client_ts: datetime | None
    received_at: datetime
    client_ip: str | None
    user_agent: str | None
    done: asyncio.Future[Outcome] = field(init=False)

    def row(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "question_id": self.question_id,
            "idempotency_key": self.idempotency_key,
            "body_hash": self.body_hash,
            "response": self.response,
            "client_ts": self.client_ts,
            "received_at": self.received_at,
            "client_ip": self.client_ip,
            "user_agent": self.user_agent,
        }


class AnswerJournal:
    """Group commit of saves into ``session_answers``; one per process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._queue: list[PendingSave] = []
        self._in_flight: set[tuple[uuid.UUID, str]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def save(self, pending: PendingSave) -> Outcome:
        """Queue the save and wait until it is committed (or refused)."""
        if self._closing:
            raise ServiceUnavailable("The server is shutting down; retry the save")
        slot = (pending.session_id, pending.idempotency_key)
        if slot in self._in_flight:
            raise IdempotencyInFlight()
        pending.done = asyncio.get_running_loop().create_future()
        self._in_flight.add(slot)
        self._queue.append(pending)
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        self._wake.set()
        try:
            return await asyncio.shield(pending.done)
        finally:
            self._in_flight.discard(slot)

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        self._closing = True
        if self._task is not None:
            self._wake.set()
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._commit(batch)
            if self._closing:
                return

    async def _commit(self, batch: list[PendingSave]) -> None:
        try:
            outcomes = await self._write(batch)
        except Exception:
            logger.exception("answer batch of %d failed", len(batch))
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(
                        ServiceUnavailable("The answer could not be stored; retry")
                    )
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            if not pending.done.done():
                pending.done.set_result(outcome)

    async def _write(self, batch: list[PendingSave]) -> list[Outcome]:
        async with self._engine.begin() as connection:
            stored = await repository.write_journal(connection, [p.row() for p in batch])
            refused = {
                pending.session_id
                for pending in batch
                if (pending.session_id, pending.idempotency_key) not in stored
            }
            states = await repository.session_states(connection, refused) if refused else {}
        outcomes = []
        for pending in batch:
            body_hash = stored.get((pending.session_id, pending.idempotency_key))
            if body_hash is not None:
                same = body_hash == pending.body_hash
                outcomes.append(Outcome.SAVED if same else Outcome.REUSED)
                continue
            status = states.get(pending.session_id)
            outcomes.append(
                Outcome.EXPIRED
                if status == "ACTIVE"
                else Outcome.PAUSED
                if status == "PAUSED"
                else Outcome.CLOSED
            )
        return outcomes


_REFUSALS: dict[Outcome, type[DomainError]] = {
    Outcome.REUSED: IdempotencyKeyReused,
    Outcome.EXPIRED: TimeExpired,
    Outcome.PAUSED: SessionPaused,
    Outcome.CLOSED: SessionClosed,
}


def idempotency_key(header: str | None) -> str:
    if header is None or not header.strip():
        raise IdempotencyKeyRequired()
    key = header.strip()
    if len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InvalidInput(
            f"The Idempotency-Key must be printable ASCII of at most {MAX_KEY_LENGTH}"
        )
    return key


@dataclass(frozen=True, slots=True)
class SaveRequest:
    session_id: uuid.UUID
    idempotency_key: str | None
    answer: AnswerIn
    body: bytes
    """The raw body, hashed to tell a retry from another request under the same key."""
    client_ip: str | None
    user_agent: str | None


async def _within_rate(platform: Platform, session_id: uuid.UUID) -> None:
    """Saves per session and minute; the limiter failing open never blocks a save."""
    try:
        decision = await platform.limiter.hit(
            f"exams:saves:{session_id}", limit=SAVES_PER_MINUTE, window_seconds=60
        )
    except (RedisError, OSError):
        return
    if not decision.allowed:
        raise RateLimited(decision.retry_after)


async def _was_saved(platform: Platform, session_id: uuid.UUID, key: str, body_hash: str) -> bool:
    """Whether this very save was acknowledged before (a retry after the session closed)."""
    async with platform.sessions() as db:
        return await repository.journalled_hash(db, session_id, key) == body_hash


def _refusal(snapshot: SessionSnapshot, received_at: datetime) -> DomainError | None:
    if snapshot.status == "PAUSED":
        return SessionPaused()
    if snapshot.status != "ACTIVE":
        return SessionClosed()
    if received_at.timestamp() > snapshot.ends_at:
        return TimeExpired()
    return None


async def save_answer(
    platform: Platform, journal: AnswerJournal, actor: Actor, request: SaveRequest
) -> None:
    """Validate one save and return once it is durable; raises the refusal otherwise.

    A retry of a save that was acknowledged is acknowledged again, even after the
    session closed; a new save to a closed session is refused."""
    key = idempotency_key(request.idempotency_key)
    received_at = platform.clock.now()
    body_hash = hashlib.sha256(request.body).hexdigest()
    answer = request.answer
    snapshot = await _snapshot(platform, request.session_id)
    if snapshot is None or snapshot.user_id != actor.user_id:
        raise NotFound("No such session")
    refusal = _refusal(snapshot, received_at)
    if refusal is not None:
        if await _was_saved(platform, request.session_id, key, body_hash):
            return
        raise refusal
    version_id = snapshot.versions.get(answer.question_id)
    if version_id is None:
        raise QuestionNotInSession()
    await _within_rate(platform, request.session_id)
    async with platform.sessions() as db:
        versions = await frozen_versions(db, [version_id])
    try:
        validate_response(versions[version_id].content, answer.choice)
    except InvalidResponse as exc:
        raise InvalidAnswer(str(exc)) from exc
    client_ts = answer.client_ts
    if client_ts is not None:
        client_ts = client_ts.replace(tzinfo=UTC) if client_ts.tzinfo is None else client_ts
    outcome = await journal.save(
        PendingSave(
            session_id=request.session_id,
            question_id=answer.question_id,
            idempotency_key=key,
            body_hash=body_hash,
            response=answer.choice,
            client_ts=client_ts,
            received_at=received_at,
            client_ip=request.client_ip,
            user_agent=request.user_agent[:300] if request.user_agent else None,
        )
    )
    outcome_refusal = _REFUSALS.get(outcome)
    if outcome_refusal is not None:
        raise outcome_refusal()
