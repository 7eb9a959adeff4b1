"""All exam SQL. The two statements that keep the hard rules live here:

- :func:`journal_answers` inserts a batch of saves, each only if its session is still
  ACTIVE and the save arrived by ``ends_at``; on PostgreSQL it takes a share lock on
  the session row, so a concurrent submit (which updates that row) waits for the
  batch to commit and then scores it, or runs first and the batch refuses the save.
  On SQLite every write statement is serialised, which gives the same order.
- :func:`close_session` moves a session out of ACTIVE/PAUSED with one conditional
  UPDATE: exactly one submitter wins, however many race.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import JSON, String, Table, Uuid, bindparam, func, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from studyhall.exams.models import (
    Exam,
    ExamOverride,
    ExamQuestion,
    ExamResult,
    ExamSession,
    SessionAnswer,
)
from studyhall.platform.db import UtcDateTime

OPEN_STATUSES = ("ACTIVE", "PAUSED")
# The table itself: an ORM insert would take the bulk path, which has no INSERT ... SELECT.
JOURNAL = cast(Table, SessionAnswer.__table__)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def exam_by_id(session: AsyncSession, exam_id: uuid.UUID) -> Exam | None:
    return await session.get(Exam, exam_id)


async def exam_questions(session: AsyncSession, exam_id: uuid.UUID) -> Sequence[ExamQuestion]:
    query = select(ExamQuestion).where(ExamQuestion.exam_id == exam_id)
    return (await session.execute(query.order_by(ExamQuestion.position))).scalars().all()


async def exams_owned_by(session: AsyncSession, owner_id: uuid.UUID | None) -> Sequence[Exam]:
    """Exams newest first: one owner's, or every exam (``None``)."""
    query = select(Exam).order_by(Exam.created_at.desc())
    if owner_id is not None:
        query = query.where(Exam.owner_id == owner_id)
    return (await session.execute(query)).scalars().all()


async def override_for(
    session: AsyncSession, exam_id: uuid.UUID, user_id: uuid.UUID
) -> ExamOverride | None:
    return await session.get(ExamOverride, (exam_id, user_id))


async def sessions_of(
    session: AsyncSession, exam_id: uuid.UUID, user_id: uuid.UUID
) -> Sequence[ExamSession]:
    query = (
        select(ExamSession)
        .where(ExamSession.exam_id == exam_id, ExamSession.user_id == user_id)
        .order_by(ExamSession.attempt)
    )
    return (await session.execute(query)).scalars().all()


async def session_by_id(
    session: AsyncSession, session_id: uuid.UUID, *, refresh: bool = False
) -> ExamSession | None:
    """``refresh``: read the row again even if this unit of work already loaded it."""
    return await session.get(ExamSession, session_id, populate_existing=refresh)


async def journal(session: AsyncSession, session_id: uuid.UUID) -> Sequence[SessionAnswer]:
    """Every acknowledged save of a session, oldest first."""
    query = select(SessionAnswer).where(SessionAnswer.session_id == session_id)
    return (await session.execute(query.order_by(SessionAnswer.id))).scalars().all()


def _sqlite_journal_insert() -> Any:
    """INSERT ... SELECT from the session row, kept only while it may take answers."""
    columns = {
        "session_id": ExamSession.id,
        "question_id": bindparam("question_id", type_=Uuid()),
        "idempotency_key": bindparam("idempotency_key", type_=String()),
        "body_hash": bindparam("body_hash", type_=String()),
        "response": bindparam("response", type_=JSON()),
        "client_ts": bindparam("client_ts", type_=UtcDateTime()),
        "received_at": bindparam("received_at", type_=UtcDateTime()),
        "client_ip": bindparam("client_ip", type_=String()),
        "user_agent": bindparam("user_agent", type_=String()),
    }
    labels: list[Any] = [value.label(name) for name, value in columns.items()]
    source = select(*labels).where(
        ExamSession.id == bindparam("session_id", type_=Uuid()),
        ExamSession.status == "ACTIVE",
        ExamSession.ends_at >= bindparam("received_at", type_=UtcDateTime()),
    )
    return (
        sqlite.insert(JOURNAL)
        .from_select(list(columns), source)
        .on_conflict_do_nothing(index_elements=["session_id", "idempotency_key"])
    )


_SQLITE_JOURNAL_INSERT = _sqlite_journal_insert()
_SQLITE_JOURNALLED = select(
    SessionAnswer.session_id, SessionAnswer.idempotency_key, SessionAnswer.body_hash
).where(
    SessionAnswer.session_id.in_(bindparam("session_ids", expanding=True)),
    SessionAnswer.idempotency_key.in_(bindparam("keys", expanding=True)),
)
# One round trip for a whole batch: the saves arrive as arrays, keep their order
# (journal ids follow arrival), and come back if inserted.
_POSTGRES_JOURNAL_INSERT = text(
    """
    INSERT INTO session_answers (session_id, question_id, idempotency_key, body_hash,
                                 response, client_ts, received_at, client_ip, user_agent)
    SELECT v.session_id, v.question_id, v.idempotency_key, v.body_hash,
           v.response, v.client_ts, v.received_at, v.client_ip, v.user_agent
    FROM unnest(CAST(:session_ids AS uuid[]), CAST(:question_ids AS uuid[]),
                CAST(:keys AS text[]), CAST(:hashes AS text[]), CAST(:responses AS json[]),
                CAST(:client_ts AS timestamptz[]), CAST(:received_at AS timestamptz[]),
                CAST(:client_ips AS text[]), CAST(:user_agents AS text[]))
         WITH ORDINALITY AS v(session_id, question_id, idempotency_key, body_hash, response,
                              client_ts, received_at, client_ip, user_agent, arrival)
    JOIN exam_sessions AS s ON s.id = v.session_id
    WHERE s.status = 'ACTIVE' AND v.received_at <= s.ends_at
    ORDER BY v.arrival
    FOR SHARE OF s
    ON CONFLICT (session_id, idempotency_key) DO NOTHING
    RETURNING session_id, idempotency_key, body_hash
    """
)
_POSTGRES_JOURNALLED = text(
    """
    SELECT a.session_id, a.idempotency_key, a.body_hash
    FROM session_answers AS a
    JOIN unnest(CAST(:session_ids AS uuid[]), CAST(:keys AS text[])) AS k(session_id, key)
      ON a.session_id = k.session_id AND a.idempotency_key = k.key
    """
)

StoredKeys = dict[tuple[uuid.UUID, str], str]


async def _postgres_journal(connection: AsyncConnection, rows: list[dict[str, Any]]) -> StoredKeys:
    def column(name: str) -> list[Any]:
        return [row[name] for row in rows]

    inserted = await connection.execute(
        _POSTGRES_JOURNAL_INSERT,
        {
            "session_ids": column("session_id"),
            "question_ids": column("question_id"),
            "keys": column("idempotency_key"),
            "hashes": column("body_hash"),
            "responses": [msgspec.json.encode(row["response"]).decode() for row in rows],
            "client_ts": column("client_ts"),
            "received_at": column("received_at"),
            "client_ips": column("client_ip"),
            "user_agents": column("user_agent"),
        },
    )
    stored = {(row[0], row[1]): row[2] for row in inserted.all()}
    others = [row for row in rows if (row["session_id"], row["idempotency_key"]) not in stored]
    if others:
        found = await connection.execute(
            _POSTGRES_JOURNALLED,
            {
                "session_ids": [row["session_id"] for row in others],
                "keys": [row["idempotency_key"] for row in others],
            },
        )
        stored.update({(row[0], row[1]): row[2] for row in found.all()})
    return stored


async def _sqlite_journal(connection: AsyncConnection, rows: list[dict[str, Any]]) -> StoredKeys:
    await connection.execute(_SQLITE_JOURNAL_INSERT, rows)
    found = await connection.execute(
        _SQLITE_JOURNALLED,
        {
            "session_ids": list({row["session_id"] for row in rows}),
            "keys": list({row["idempotency_key"] for row in rows}),
        },
    )
    return {(row[0], row[1]): row[2] for row in found.all()}


async def write_journal(connection: AsyncConnection, rows: list[dict[str, Any]]) -> StoredKeys:
    """Insert the saves their sessions still accept (see the module docstring) and return
    the body hash stored under each given (session, key): a save missing from the answer
    was refused; one with another hash reused its key."""
    if connection.dialect.name == "postgresql":
        return await _postgres_journal(connection, rows)
    return await _sqlite_journal(connection, rows)


async def journalled_hash(session: AsyncSession, session_id: uuid.UUID, key: str) -> str | None:
    """The body hash stored under this (session, key), if any."""
    query = select(SessionAnswer.body_hash).where(
        SessionAnswer.session_id == session_id, SessionAnswer.idempotency_key == key
    )
    return (await session.execute(query)).scalar_one_or_none()


async def session_states(
    connection: AsyncConnection, session_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    query = select(ExamSession.id, ExamSession.status).where(ExamSession.id.in_(set(session_ids)))
    return {row[0]: row[1] for row in (await connection.execute(query)).all()}


async def close_session(
    session: AsyncSession, session_id: uuid.UUID, *, status: str, now: datetime, by: str
) -> bool:
    """Move an open session to ``status``; True for the one caller that did it."""
    statement = (
        update(ExamSession)
        .where(ExamSession.id == session_id, ExamSession.status.in_(OPEN_STATUSES))
        .values(status=status, submitted_at=now, submitted_by=by)
        .returning(ExamSession.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def set_status(session: AsyncSession, session_id: uuid.UUID, status: str) -> None:
    await session.execute(
        update(ExamSession)
        .where(ExamSession.id == session_id)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )


async def result_for(session: AsyncSession, session_id: uuid.UUID) -> ExamResult | None:
    return await session.get(ExamResult, session_id, populate_existing=True)


async def rank_of(session: AsyncSession, result: ExamResult) -> int:
    """1 + the results of the exam ahead of this one: a higher score, or the same score
    submitted earlier. (The leaderboard index replaces this for large exams.)"""
    ahead = select(func.count()).where(
        ExamResult.exam_id == result.exam_id,
        ExamResult.pending_grades == 0,
        (ExamResult.score > result.score)
        | ((ExamResult.score == result.score) & (ExamResult.submitted_at < result.submitted_at)),
    )
    return 1 + int((await session.execute(ahead)).scalar_one())


async def overdue_sessions(session: AsyncSession, now: datetime, limit: int) -> Sequence[uuid.UUID]:
    """ACTIVE sessions past their submit deadline (a safety net for lost expiry jobs)."""
    query = (
        select(ExamSession.id)
        .where(ExamSession.status == "ACTIVE", ExamSession.submit_by < now)
        .order_by(ExamSession.submit_by)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()
