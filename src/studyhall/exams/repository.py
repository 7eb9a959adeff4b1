"""All exam SQL. The two statements that keep the hard rules live here:

- :func:`write_journal` inserts a batch of saves, each only if its session is still
  ACTIVE and the save arrived by ``ends_at``; on PostgreSQL it takes a share lock on
  the session row, so a concurrent submit (which updates that row) waits for the
  batch to commit and then scores it, or runs first and the batch refuses the save.
  On SQLite every write statement is serialised, which gives the same order.
- :func:`close_session` moves a session out of ACTIVE/PAUSED with one conditional
  UPDATE: exactly one submitter wins, however many race.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

import msgspec
from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    Text,
    and_,
    case,
    func,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from studyhall.exams.models import (
    Exam,
    ExamOverride,
    ExamQuestion,
    ExamResult,
    ExamSession,
    SessionAnswer,
)
from studyhall.identity.models import User
from studyhall.platform.db import Binder, column_binders, json_text
from studyhall.platform.ids import parse_id

OPEN_STATUSES = ("ACTIVE", "PAUSED")
# The table itself, whose column types convert the journal's driver-level parameters.
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


async def exam_question_points(
    session: AsyncSession, exam_id: uuid.UUID
) -> list[tuple[uuid.UUID, float | None]]:
    """A fixed list's questions and their points, in order, as plain rows: the start path
    reads them every time and needs no ORM objects."""
    query = (
        select(ExamQuestion.question_id, ExamQuestion.points)
        .where(ExamQuestion.exam_id == exam_id)
        .order_by(ExamQuestion.position)
    )
    return [(question_id, points) for question_id, points in await session.execute(query)]


async def exams_owned_by(session: AsyncSession, owner_id: uuid.UUID | None) -> Sequence[Exam]:
    """Exams newest first: one owner's, or every exam (``None``)."""
    query = select(Exam).order_by(Exam.created_at.desc())
    if owner_id is not None:
        query = query.where(Exam.owner_id == owner_id)
    return (await session.execute(query)).scalars().all()


async def exams_not_closed(session: AsyncSession, now: datetime, limit: int) -> Sequence[Exam]:
    """Exams open now or later, those closing soonest first (never-closing ones last)."""
    query = (
        select(Exam)
        .where(or_(Exam.closes_at.is_(None), Exam.closes_at > now))
        .order_by(Exam.closes_at.is_(None), Exam.closes_at, Exam.created_at.desc())
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def overrides_of(
    session: AsyncSession, exam_id: uuid.UUID
) -> Sequence[tuple[ExamOverride, User]]:
    """An exam's accommodations with the students they are for, by name."""
    query = (
        select(ExamOverride, User)
        .join(User, User.id == ExamOverride.user_id)
        .where(ExamOverride.exam_id == exam_id)
        .order_by(User.name, User.email)
    )
    return [(override, user) for override, user in (await session.execute(query)).all()]


async def override_for(
    session: AsyncSession, exam_id: uuid.UUID, user_id: uuid.UUID
) -> ExamOverride | None:
    return await session.get(ExamOverride, (exam_id, user_id))


async def overrides_among(
    session: AsyncSession, exam_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ExamOverride]:
    query = select(ExamOverride).where(
        ExamOverride.exam_id == exam_id, ExamOverride.user_id.in_(set(user_ids))
    )
    return {override.user_id: override for override in (await session.execute(query)).scalars()}


async def users_with_sessions(
    session: AsyncSession, exam_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these users have any session of the exam, in one query."""
    query = select(ExamSession.user_id).where(
        ExamSession.exam_id == exam_id, ExamSession.user_id.in_(set(user_ids))
    )
    return set((await session.execute(query)).scalars())


async def insert_sessions(session: AsyncSession, rows: Sequence[ExamSession]) -> set[uuid.UUID]:
    """Insert new sessions in one statement; the ids inserted. A row whose (exam, user,
    attempt) another start took meanwhile is skipped, not an error for the whole batch."""
    table = cast(Table, ExamSession.__table__)
    values = [{column.key: getattr(row, column.key) for column in table.columns} for row in rows]
    insert = postgresql.insert if _is_postgres(session) else sqlite.insert
    # One cached statement run with many parameter sets (SQLAlchemy batches them into
    # multi-row INSERTs), rather than a new statement to compile for each batch size.
    statement = insert(table).on_conflict_do_nothing().returning(table.c.id)
    return set((await session.execute(statement, values)).scalars())


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


def _answers_object(dialect: str) -> ColumnElement[Any]:
    """One JSON object per session, question id to response, built by the database: a
    burst of submits reads one row per session, not one per answer."""
    question, response = SessionAnswer.question_id, SessionAnswer.response
    if dialect == "postgresql":
        merged = func.json_object_agg(sql_cast(question, String), response)
    else:
        merged = func.json_group_object(question, func.json(response))
    return type_coerce(merged, Text)


async def latest_answers_of(
    session: AsyncSession, session_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[uuid.UUID, Any]]:
    """Each answered question's current response (its last acknowledged save), of many
    sessions in one query, by session."""
    last = (
        select(func.max(SessionAnswer.id))
        .where(SessionAnswer.session_id.in_(set(session_ids)))
        .group_by(SessionAnswer.session_id, SessionAnswer.question_id)
    )
    query = (
        select(SessionAnswer.session_id, _answers_object(session.get_bind().dialect.name))
        .where(SessionAnswer.id.in_(last))
        .group_by(SessionAnswer.session_id)
    )
    found: dict[uuid.UUID, dict[uuid.UUID, Any]] = {session_id: {} for session_id in session_ids}
    for session_id, merged in await session.execute(query):
        # asyncpg hands json back decoded (by the engine's deserializer); SQLite as text.
        answers = merged if isinstance(merged, dict) else _answers_by_id.decode(merged)
        found[session_id] = {parse_id(key): response for key, response in answers.items()}
    return found


_answers_by_id = msgspec.json.Decoder(dict[str, Any])


class JournalRow(NamedTuple):
    """One save as the journal stores it (the columns of ``session_answers`` but ``id``)."""

    session_id: uuid.UUID
    question_id: uuid.UUID
    idempotency_key: str
    body_hash: str
    response: Any
    client_ts: datetime | None
    received_at: datetime
    client_ip: str | None
    user_agent: str | None


StoredKeys = dict[tuple[uuid.UUID, str], str]

# One statement per batch on both engines: the saves arrive as arrays (PostgreSQL) or
# rows of VALUES (SQLite), are kept only while their session is ACTIVE and its deadline
# not passed, keep their order (journal ids follow arrival), and come back if inserted.
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


async def _postgres_journal(connection: AsyncConnection, rows: list[JournalRow]) -> StoredKeys:
    columns = list(zip(*rows, strict=True))
    inserted = await connection.execute(
        _POSTGRES_JOURNAL_INSERT,
        {
            "session_ids": columns[0],
            "question_ids": columns[1],
            "keys": columns[2],
            "hashes": columns[3],
            "responses": [json_text(response) for response in columns[4]],
            "client_ts": columns[5],
            "received_at": columns[6],
            "client_ips": columns[7],
            "user_agents": columns[8],
        },
    )
    stored = {(row[0], row[1]): row[2] for row in inserted.all()}
    others = [row for row in rows if (row.session_id, row.idempotency_key) not in stored]
    if others:
        found = await connection.execute(
            _POSTGRES_JOURNALLED,
            {
                "session_ids": [row.session_id for row in others],
                "keys": [row.idempotency_key for row in others],
            },
        )
        stored.update({(row[0], row[1]): row[2] for row in found.all()})
    return stored


_SQLITE_ROW = "(" + ", ".join(["?"] * (len(JournalRow._fields) + 1)) + ")"


@functools.lru_cache(maxsize=64)
def _sqlite_journal_insert(count: int) -> str:
    """The insert for ``count`` saves: rows of VALUES, each with its place in the batch."""
    return f"""
    INSERT INTO session_answers (session_id, question_id, idempotency_key, body_hash,
                                 response, client_ts, received_at, client_ip, user_agent)
    SELECT v.column1, v.column2, v.column3, v.column4, v.column5,
           v.column6, v.column7, v.column8, v.column9
    FROM (VALUES {", ".join([_SQLITE_ROW] * count)}) AS v
    JOIN exam_sessions AS s ON s.id = v.column1
    WHERE s.status = 'ACTIVE' AND v.column7 <= s.ends_at
    ORDER BY v.column10
    ON CONFLICT (session_id, idempotency_key) DO NOTHING
    RETURNING session_id, idempotency_key, body_hash
    """


@functools.lru_cache(maxsize=64)
def _sqlite_journalled(count: int) -> str:
    pairs = ", ".join(["(?, ?)"] * count)
    return f"""
    SELECT a.session_id, a.idempotency_key, a.body_hash
    FROM (VALUES {pairs}) AS k
    JOIN session_answers AS a ON a.session_id = k.column1 AND a.idempotency_key = k.column2
    """


def _sqlite_binders(dialect: Dialect) -> list[Binder]:
    return column_binders(dialect, tuple(JOURNAL.c[name] for name in JournalRow._fields))


async def _sqlite_journal(connection: AsyncConnection, rows: list[JournalRow]) -> StoredKeys:
    binders = _sqlite_binders(connection.dialect)
    values: list[Any] = []
    for arrival, row in enumerate(rows):
        values += [bind(value) for bind, value in zip(binders, row, strict=True)]
        values.append(arrival)
    session_of = {binders[0](row.session_id): row.session_id for row in rows}
    inserted = await connection.exec_driver_sql(_sqlite_journal_insert(len(rows)), tuple(values))
    found = cast(list[tuple[str, str, str]], inserted.all())
    stored = {(session_of[hex_id], key): body_hash for hex_id, key, body_hash in found}
    others = [row for row in rows if (row.session_id, row.idempotency_key) not in stored]
    if others:
        pairs = [
            value for row in others for value in (binders[0](row.session_id), row.idempotency_key)
        ]
        earlier = await connection.exec_driver_sql(_sqlite_journalled(len(others)), tuple(pairs))
        for hex_id, key, body_hash in cast(list[tuple[str, str, str]], earlier.all()):
            stored[(session_of[hex_id], key)] = body_hash
    return stored


async def write_journal(connection: AsyncConnection, rows: list[JournalRow]) -> StoredKeys:
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


async def close_sessions(
    session: AsyncSession, session_ids: Sequence[uuid.UUID], *, status: str, now: datetime, by: str
) -> set[uuid.UUID]:
    """Move the open ones of these sessions to ``status`` in one conditional UPDATE; the
    ids this call moved. However many callers race, each session has one winner."""
    statement = (
        update(ExamSession)
        .where(ExamSession.id.in_(set(session_ids)), ExamSession.status.in_(OPEN_STATUSES))
        .values(status=status, submitted_at=now, submitted_by=by)
        .returning(ExamSession.id)
        .execution_options(synchronize_session=False)
    )
    return set((await session.execute(statement)).scalars())


async def sessions_by_ids(
    session: AsyncSession, session_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ExamSession]:
    query = select(ExamSession).where(ExamSession.id.in_(set(session_ids)))
    return {row.id: row for row in (await session.execute(query)).scalars()}


async def set_status(session: AsyncSession, session_id: uuid.UUID, status: str) -> None:
    await session.execute(
        update(ExamSession)
        .where(ExamSession.id == session_id)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )


async def insert_results(session: AsyncSession, results: Sequence[ExamResult]) -> None:
    """Store sessions' results with one cached INSERT, past the unit of work (the submit
    path): each ``result`` stays a plain object; the primary key refuses a second one."""
    table = cast(Table, ExamResult.__table__)
    values = [{column.key: getattr(result, column.key) for column in table.c} for result in results]
    await session.execute(table.insert(), values)


async def result_for(session: AsyncSession, session_id: uuid.UUID) -> ExamResult | None:
    return await session.get(ExamResult, session_id, populate_existing=True)


async def claim_overdue(
    session: AsyncSession, own: uuid.UUID, now: datetime, limit: int
) -> list[uuid.UUID]:
    """``own`` and other ACTIVE sessions past their submit deadline (longest overdue
    first), locked for this transaction; rows another transaction holds are skipped, so
    expiry jobs running side by side never wait on each other (nor deadlock): each closes
    what it locked, and a skipped row is closed by whoever holds it."""
    overdue = and_(ExamSession.status == "ACTIVE", ExamSession.submit_by < now)
    query = (
        select(ExamSession.id)
        .where(or_(ExamSession.id == own, overdue))
        .order_by(case((ExamSession.id == own, 0), else_=1), ExamSession.submit_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(query)).scalars())
