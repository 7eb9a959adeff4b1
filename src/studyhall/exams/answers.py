"""The answer-save hot path: checks from what this process knows, group commit to the journal.

A save is acknowledged only after the database committed it, so ``200 {saved:true}``
survives a ``kill -9`` of the app and the loss of Redis. To keep that cheap, saves
arriving together share one transaction: one task per process takes everything that
queued while the previous commit ran and writes it with one statement (see
``repository.write_journal`` for why a save can never slip past a submit). An idle
server commits a lone save at once; a busy one commits hundreds per round trip.

The checks before queueing (owner, question in the session, response shape, clock)
cost no database read and no hot-store round trip: each process keeps a view of the
sessions it serves (:class:`KnownSession`). Owner and questions never change; status
and deadline may be stale (another node paused, resumed or submitted), so the view
only ever lets a save through to the journal insert, which re-checks both in the
database and decides. Before a save is refused on the view's word, the session is
read from the database again.

The hot store keeps a small shared copy of each session's state
(:class:`SessionSnapshot`) for readers that want it without a database read
(integrity signals).
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from studyhall.exams import repository
from studyhall.exams.models import ExamSession
from studyhall.exams.schemas import AnswerIn
from studyhall.platform.auth import Actor
from studyhall.platform.batching import GroupCommit
from studyhall.platform.clock import Clock
from studyhall.platform.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
)
from studyhall.platform.hotstore import MemoryHotStore
from studyhall.platform.ids import parse_id
from studyhall.platform.ratelimit import RateLimiter
from studyhall.platform.runtime import Platform
from studyhall.questions.frozen import FrozenVersion, frozen_versions
from studyhall.questions.scoring import InvalidResponse, validate_response

MAX_BATCH = 512
SNAPSHOT_SLACK_SECONDS = 300
SAVES_PER_MINUTE = 600
MAX_KEY_LENGTH = 255
KNOWN_SESSIONS = 50_000
"""Sessions whose view this process keeps (least recently saved to are dropped first)."""
QUESTION_SETS = 2_000
"""Distinct question lists kept; sessions of a fixed-list exam share one."""


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


# --- what a process knows about a session ----------------------------------------------


class SessionSnapshot(msgspec.Struct, array_like=True, frozen=True):
    """A session's owner, status and deadline, shared through the hot store."""

    user_id: uuid.UUID
    status: str
    ends_at: float


@dataclass(frozen=True, slots=True)
class KnownSession:
    """This process's view of a session: owner and questions (never change), status and
    deadline (as last seen; they may be stale, see the module docstring)."""

    user_id: uuid.UUID
    status: str
    ends_at: float
    questions: Mapping[uuid.UUID, FrozenVersion]


_known: OrderedDict[uuid.UUID, KnownSession] = OrderedDict()
QuestionPairs = frozenset[tuple[uuid.UUID, uuid.UUID]]
_question_sets: OrderedDict[QuestionPairs, dict[uuid.UUID, FrozenVersion]] = OrderedDict()


def _bounded_put(cache: OrderedDict[Any, Any], key: Any, value: Any, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


async def _questions_of(
    db: AsyncSession, exam_session: ExamSession
) -> Mapping[uuid.UUID, FrozenVersion]:
    """The session's question id → frozen version, shared by sessions with the same
    questions (in whatever order they show them)."""
    pairs = frozenset(
        (parse_id(item["questionId"]), parse_id(item["versionId"]))
        for item in exam_session.questions
    )
    shared = _question_sets.get(pairs)
    if shared is None:
        versions = await frozen_versions(db, [version_id for _, version_id in pairs])
        shared = {question_id: versions[version_id] for question_id, version_id in pairs}
        _bounded_put(_question_sets, pairs, shared, QUESTION_SETS)
    return shared


async def _know(db: AsyncSession, exam_session: ExamSession) -> KnownSession:
    known = KnownSession(
        user_id=exam_session.user_id,
        status=exam_session.status,
        ends_at=exam_session.ends_at.timestamp(),
        questions=await _questions_of(db, exam_session),
    )
    _bounded_put(_known, exam_session.id, known, KNOWN_SESSIONS)
    return known


def _snapshot_key(session_id: uuid.UUID) -> str:
    return f"exams:session-state:{session_id}"


async def _share(platform: Platform, exam_session: ExamSession) -> None:
    snapshot = SessionSnapshot(
        exam_session.user_id, exam_session.status, exam_session.ends_at.timestamp()
    )
    ttl = exam_session.submit_by.timestamp() - platform.clock.timestamp()
    with contextlib.suppress(RedisError, OSError):
        await platform.hot.set(
            _snapshot_key(exam_session.id),
            msgspec.msgpack.encode(snapshot),
            ttl_seconds=max(ttl, 0) + SNAPSHOT_SLACK_SECONDS,
        )


async def remember_snapshot(
    platform: Platform, exam_session: ExamSession, shown: list[FrozenVersion]
) -> None:
    """A session just started here (``shown``: the versions of its questions): the saves
    to come need no database read. Should the start roll back, nobody knows the id."""
    questions = {frozen.question_id: frozen for frozen in shown}
    known = KnownSession(
        exam_session.user_id, exam_session.status, exam_session.ends_at.timestamp(), questions
    )
    _bounded_put(_known, exam_session.id, known, KNOWN_SESSIONS)
    await _share(platform, exam_session)


async def forget_snapshot(platform: Platform, session_id: uuid.UUID) -> None:
    """Called after a status change (pause, resume, submit). Other processes keep their
    view, which only ever lets a save reach the database check, never past it."""
    _known.pop(session_id, None)
    with contextlib.suppress(RedisError, OSError):
        await platform.hot.delete(_snapshot_key(session_id))


async def _load(platform: Platform, session_id: uuid.UUID) -> KnownSession | None:
    """The session as the database has it now (and so as this process knows it)."""
    async with platform.sessions() as db:
        exam_session = await repository.session_by_id(db, session_id)
        if exam_session is None:
            return None
        known = await _know(db, exam_session)
    await _share(platform, exam_session)
    return known


async def _snapshot(platform: Platform, session_id: uuid.UUID) -> SessionSnapshot | None:
    """Owner, status and deadline from the hot store, else from the database."""
    try:
        cached = await platform.hot.get(_snapshot_key(session_id))
    except (RedisError, OSError):
        cached = None
    if cached is not None:
        return msgspec.msgpack.decode(cached, type=SessionSnapshot)
    known = await _load(platform, session_id)
    return None if known is None else SessionSnapshot(known.user_id, known.status, known.ends_at)


# --- the group commit -------------------------------------------------------------------


class Outcome(enum.Enum):
    SAVED = "saved"
    REUSED = "reused"
    EXPIRED = "expired"
    PAUSED = "paused"
    CLOSED = "closed"


class AnswerJournal:
    """Group commit of saves into ``session_answers``; one per process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._limiter: RateLimiter | None = None
        self._in_flight: set[tuple[uuid.UUID, str]] = set()
        self._commits: GroupCommit[repository.JournalRow, Outcome] = GroupCommit(
            self._write,
            name="answer-journal",
            max_batch=MAX_BATCH,
            failure=lambda: ServiceUnavailable("The answer could not be stored; retry"),
        )

    async def save(self, row: repository.JournalRow) -> Outcome:
        """Queue the save and wait until it is committed (or refused)."""
        if self._commits.closing:
            raise ServiceUnavailable("The server is shutting down; retry the save")
        slot = (row.session_id, row.idempotency_key)
        if slot in self._in_flight:
            raise IdempotencyInFlight()
        self._in_flight.add(slot)
        try:
            return await self._commits.submit(row)
        finally:
            self._in_flight.discard(slot)

    def limiter(self, clock: Clock) -> RateLimiter:
        """This process's save counter (see :func:`_within_rate`)."""
        if self._limiter is None:
            self._limiter = RateLimiter(MemoryHotStore(clock), clock)
        return self._limiter

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        await self._commits.close()

    async def _write(self, rows: list[repository.JournalRow]) -> list[Outcome | BaseException]:
        async with self._engine.begin() as connection:
            stored = await repository.write_journal(connection, rows)
            refused = {
                row.session_id
                for row in rows
                if (row.session_id, row.idempotency_key) not in stored
            }
            states = await repository.session_states(connection, refused) if refused else {}
        outcomes: list[Outcome | BaseException] = []
        for row in rows:
            body_hash = stored.get((row.session_id, row.idempotency_key))
            if body_hash is not None:
                outcomes.append(Outcome.SAVED if body_hash == row.body_hash else Outcome.REUSED)
                continue
            status = states.get(row.session_id)
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


# --- one save ---------------------------------------------------------------------------


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


async def _within_rate(platform: Platform, journal: AnswerJournal, session_id: uuid.UUID) -> None:
    """Saves per session and minute, counted in this process: the limit guards this
    process's group commit against a runaway page, and a shared count would cost a Redis
    round trip on every save (behind N app processes a page gets at most N times it)."""
    decision = await journal.limiter(platform.clock).hit(
        f"saves:{session_id}", limit=SAVES_PER_MINUTE, window_seconds=60
    )
    if not decision.allowed:
        raise RateLimited(decision.retry_after)


async def _was_saved(platform: Platform, session_id: uuid.UUID, key: str, body_hash: str) -> bool:
    """Whether this very save was acknowledged before (a retry after the session closed)."""
    async with platform.sessions() as db:
        return await repository.journalled_hash(db, session_id, key) == body_hash


def _refusal(known: KnownSession, received_at: datetime) -> DomainError | None:
    if known.status == "PAUSED":
        return SessionPaused()
    if known.status != "ACTIVE":
        return SessionClosed()
    if received_at.timestamp() > known.ends_at:
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
    session_id = request.session_id
    known = _known.get(session_id) or await _load(platform, session_id)
    if known is None or known.user_id != actor.user_id:
        raise NotFound("No such session")
    body_hash = hashlib.sha256(request.body).hexdigest()
    if _refusal(known, received_at) is not None:
        # This process's view may be stale (a resume elsewhere): ask the database.
        known = await _load(platform, session_id) or known
        refusal = _refusal(known, received_at)
        if refusal is not None:
            if await _was_saved(platform, session_id, key, body_hash):
                return
            raise refusal
    answer = request.answer
    frozen = known.questions.get(answer.question_id)
    if frozen is None:
        raise QuestionNotInSession()
    await _within_rate(platform, journal, session_id)
    try:
        validate_response(frozen.content, answer.choice)
    except InvalidResponse as exc:
        raise InvalidAnswer(str(exc)) from exc
    client_ts = answer.client_ts
    if client_ts is not None and client_ts.tzinfo is None:
        client_ts = client_ts.replace(tzinfo=UTC)
    outcome = await journal.save(
        repository.JournalRow(
            session_id=session_id,
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
    refusal_type = _REFUSALS.get(outcome)
    if refusal_type is not None:
        if outcome is not Outcome.REUSED:
            _known.pop(session_id, None)  # the database said no: look again next time
        raise refusal_type()
