"""All integrity SQL: the batched signal insert and the evidence a report reads.

The report's queries read one exam at a time and aggregate in the database where
they can (signal counts, first saves), so an exam of a few hundred sessions costs a
handful of statements whatever its number of saves.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import String, Table, Uuid, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from studyhall.exams.integrity_models import IntegritySignal
from studyhall.exams.models import ExamResult, ExamSession, SessionAnswer
from studyhall.identity.models import User
from studyhall.platform.db import UtcDateTime

SIGNALS = cast(Table, IntegritySignal.__table__)


def _signal_insert() -> Any:
    """INSERT ... SELECT from the session row: a signal for a session deleted meanwhile is
    skipped instead of failing its whole batch on the foreign key."""
    columns = {
        "session_id": ExamSession.id,
        "kind": bindparam("kind", type_=String()),
        "client_at": bindparam("client_at", type_=UtcDateTime()),
        "received_at": bindparam("received_at", type_=UtcDateTime()),
        "detail": bindparam("detail", type_=String()),
    }
    labels: list[Any] = [value.label(name) for name, value in columns.items()]
    source = select(*labels).where(ExamSession.id == bindparam("session_id", type_=Uuid()))
    return SIGNALS.insert().from_select(list(columns), source)


_SIGNAL_INSERT = _signal_insert()


async def insert_signals(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await connection.execute(_SIGNAL_INSERT, rows)


async def sessions_with_names(
    session: AsyncSession, exam_id: uuid.UUID, session_id: uuid.UUID | None = None
) -> Sequence[tuple[ExamSession, str]]:
    """The exam's sessions (or just one) with their students' names, oldest first."""
    query = (
        select(ExamSession, User.name)
        .join(User, User.id == ExamSession.user_id)
        .where(ExamSession.exam_id == exam_id)
        .order_by(ExamSession.started_at, ExamSession.id)
    )
    if session_id is not None:
        query = query.where(ExamSession.id == session_id)
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


def _of_exam(exam_id: uuid.UUID, session_id: uuid.UUID | None, column: Any) -> list[Any]:
    """Conditions for rows whose session belongs to the exam (or is the one session)."""
    if session_id is not None:
        return [column == session_id]
    in_exam = select(ExamSession.id).where(ExamSession.exam_id == exam_id)
    return [column.in_(in_exam.scalar_subquery())]


async def signal_counts(
    session: AsyncSession, exam_id: uuid.UUID, session_id: uuid.UUID | None = None
) -> dict[uuid.UUID, dict[str, int]]:
    """Signals per session and kind."""
    query = (
        select(IntegritySignal.session_id, IntegritySignal.kind, func.count())
        .where(*_of_exam(exam_id, session_id, IntegritySignal.session_id))
        .group_by(IntegritySignal.session_id, IntegritySignal.kind)
    )
    counts: dict[uuid.UUID, dict[str, int]] = {}
    for owner, kind, count in (await session.execute(query)).all():
        counts.setdefault(owner, {})[kind] = int(count)
    return counts


async def first_saves(
    session: AsyncSession, exam_id: uuid.UUID, session_id: uuid.UUID | None = None
) -> dict[uuid.UUID, list[tuple[uuid.UUID, datetime]]]:
    """When each question of each session was first answered, in that order."""
    first = func.min(SessionAnswer.received_at)
    query = (
        select(SessionAnswer.session_id, SessionAnswer.question_id, first)
        .where(*_of_exam(exam_id, session_id, SessionAnswer.session_id))
        .group_by(SessionAnswer.session_id, SessionAnswer.question_id)
    )
    saves: dict[uuid.UUID, list[tuple[uuid.UUID, datetime]]] = {}
    for owner, question_id, at in (await session.execute(query)).all():
        saves.setdefault(owner, []).append((question_id, at))
    for rows in saves.values():
        rows.sort(key=lambda row: row[1])
    return saves


async def save_origins(
    session: AsyncSession, exam_id: uuid.UUID, session_id: uuid.UUID | None = None
) -> dict[uuid.UUID, tuple[set[str], set[str]]]:
    """The distinct client addresses and user agents each session's saves came from."""
    query = (
        select(SessionAnswer.session_id, SessionAnswer.client_ip, SessionAnswer.user_agent)
        .where(*_of_exam(exam_id, session_id, SessionAnswer.session_id))
        .distinct()
    )
    origins: dict[uuid.UUID, tuple[set[str], set[str]]] = {}
    for owner, address, agent in (await session.execute(query)).all():
        addresses, agents = origins.setdefault(owner, (set(), set()))
        if address:
            addresses.add(address)
        if agent:
            agents.add(agent)
    return origins


async def result_breakdowns(
    session: AsyncSession, exam_id: uuid.UUID
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The scored breakdown (final response and correctness per question) of each session."""
    query = select(ExamResult.session_id, ExamResult.breakdown).where(ExamResult.exam_id == exam_id)
    return {row[0]: row[1] for row in (await session.execute(query)).all()}


async def latest_signals(
    session: AsyncSession, session_id: uuid.UUID, limit: int
) -> list[IntegritySignal]:
    """The session's newest ``limit`` signals, oldest first."""
    query = (
        select(IntegritySignal)
        .where(IntegritySignal.session_id == session_id)
        .order_by(IntegritySignal.id.desc())
        .limit(limit)
    )
    return list(reversed((await session.execute(query)).scalars().all()))
