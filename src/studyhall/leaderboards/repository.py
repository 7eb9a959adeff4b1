"""All leaderboard SQL: standings, the final results they combine, names and cohorts.

The statements on the submit path select columns, not ORM objects: they run inside the
transaction that scores a submit, which on SQLite holds the database's one write lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Exists, Select, delete, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.exams.models import ExamResult, ExamSession
from studyhall.identity.models import CohortMember, User
from studyhall.leaderboards.models import ExamStanding
from studyhall.platform.db import UtcDateTime

STUDENT = "student"


@dataclass(frozen=True, slots=True)
class StoredStanding:
    """A standing as stored; version 0 is the placeholder of one being created."""

    user_id: uuid.UUID
    score: float
    max_score: float
    submitted_at: datetime
    attempts: int
    version: int


@dataclass(frozen=True, slots=True)
class FinalResult:
    score: float
    max_score: float
    submitted_at: datetime


_STANDING_COLUMNS = (
    ExamStanding.user_id,
    ExamStanding.score,
    ExamStanding.max_score,
    ExamStanding.submitted_at,
    ExamStanding.attempts,
    ExamStanding.version,
)


def _stored(row: Any) -> StoredStanding:
    return StoredStanding(*row)


def _final_of(exam_id: uuid.UUID, user_id: uuid.UUID) -> Select[float, float, datetime]:
    """A student's final results of an exam, found through their sessions (whose unique
    key starts with exam and user) rather than by filtering every result of the exam."""
    return (
        select(ExamResult.score, ExamResult.max_score, ExamResult.submitted_at)
        .join(ExamSession, ExamSession.id == ExamResult.session_id)
        .where(
            ExamSession.exam_id == exam_id,
            ExamSession.user_id == user_id,
            ExamResult.pending_grades == 0,
        )
    )


_INSERT_COLUMNS = [
    "exam_id",
    "user_id",
    "score",
    "max_score",
    "submitted_at",
    "attempts",
    "version",
    "updated_at",
]


def _insert_for_student(
    session: AsyncSession,
    exam_id: uuid.UUID,
    user_id: uuid.UUID,
    values: tuple[float, float, datetime, int, int],
    now: datetime,
    *,
    unless: Exists | None = None,
) -> postgresql.Insert | sqlite.Insert:
    """``INSERT INTO exam_standings SELECT ...`` one row, if the user is a student (and
    ``unless`` finds nothing)."""
    insert: Callable[[type[ExamStanding]], postgresql.Insert | sqlite.Insert] = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    score, max_score, submitted_at, attempts, version = values
    row = select(
        literal(exam_id, ExamStanding.exam_id.type),
        User.id,
        literal(score),
        literal(max_score),
        literal(submitted_at, UtcDateTime()),
        literal(attempts),
        literal(version),
        literal(now, UtcDateTime()),
    ).where(User.id == user_id, User.role == STUDENT)
    if unless is not None:
        row = row.where(~unless)
    return insert(ExamStanding).from_select(_INSERT_COLUMNS, row)


async def insert_first_standing(
    session: AsyncSession,
    exam_id: uuid.UUID,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    values: tuple[float, float, datetime, int],
    now: datetime,
) -> bool:
    """Create the standing (version 1) of a student whose only final result is this
    session's; False when they have a standing or another final result already, or are
    not a student. One statement for the common case: a student's first attempt.

    A concurrent result of the same student either is committed (and seen here), or has
    its own standing row in flight, on which this insert waits and then does nothing.
    """
    others = _final_of(exam_id, user_id).where(ExamResult.session_id != session_id)
    statement = (
        _insert_for_student(session, exam_id, user_id, (*values, 1), now, unless=others.exists())
        .on_conflict_do_nothing(index_elements=[ExamStanding.exam_id, ExamStanding.user_id])
        .returning(ExamStanding.version)
    )
    return (await session.execute(statement)).one_or_none() is not None


async def lock_standing(
    session: AsyncSession, exam_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> StoredStanding | None:
    """The student's standing, its row locked for this transaction (a placeholder row of
    version 0 when new); None when the user is not a student, who has no place on a board.

    An upsert locks the row whether it existed or not, so two transactions finalising
    results of the same student take turns, and the second then reads the first's result.
    """
    statement = (
        _insert_for_student(session, exam_id, user_id, (0.0, 0.0, now, 0, 0), now)
        .on_conflict_do_update(
            index_elements=[ExamStanding.exam_id, ExamStanding.user_id],
            set_={"version": ExamStanding.version},
        )
        .returning(*_STANDING_COLUMNS)
    )
    found = (await session.execute(statement)).one_or_none()
    return None if found is None else _stored(found)


async def final_results(
    session: AsyncSession, exam_id: uuid.UUID, user_id: uuid.UUID
) -> list[FinalResult]:
    """The student's final results of the exam, in the order they were submitted."""
    query = _final_of(exam_id, user_id).order_by(ExamResult.submitted_at, ExamResult.session_id)
    return [FinalResult(*row) for row in (await session.execute(query)).all()]


async def save_standing(
    session: AsyncSession,
    exam_id: uuid.UUID,
    stored: StoredStanding,
    *,
    score: float,
    max_score: float,
    submitted_at: datetime,
    attempts: int,
    now: datetime,
) -> int:
    """Store the new values under the next version; returns that version."""
    version = stored.version + 1
    await session.execute(
        update(ExamStanding)
        .where(ExamStanding.exam_id == exam_id, ExamStanding.user_id == stored.user_id)
        .values(
            score=score,
            max_score=max_score,
            submitted_at=submitted_at,
            attempts=attempts,
            version=version,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return version


async def delete_standing(session: AsyncSession, exam_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await session.execute(
        delete(ExamStanding).where(ExamStanding.exam_id == exam_id, ExamStanding.user_id == user_id)
    )


async def standing(
    session: AsyncSession, exam_id: uuid.UUID, user_id: uuid.UUID
) -> StoredStanding | None:
    query = select(*_STANDING_COLUMNS).where(
        ExamStanding.exam_id == exam_id, ExamStanding.user_id == user_id
    )
    row = (await session.execute(query)).one_or_none()
    return None if row is None else _stored(row)


async def board_standings(
    session: AsyncSession, exam_id: uuid.UUID, cohort_id: uuid.UUID | None
) -> list[StoredStanding]:
    """Every standing of the exam, or of the cohort's members."""
    query = select(*_STANDING_COLUMNS).where(ExamStanding.exam_id == exam_id)
    if cohort_id is not None:
        query = query.join(
            CohortMember,
            (CohortMember.user_id == ExamStanding.user_id) & (CohortMember.cohort_id == cohort_id),
        )
    return [_stored(row) for row in (await session.execute(query)).all()]


async def students_of_exam(session: AsyncSession, exam_id: uuid.UUID) -> Sequence[uuid.UUID]:
    """Students with a standing or a final result: everyone a rebuild must look at."""
    with_results = (
        select(ExamResult.user_id)
        .join(User, User.id == ExamResult.user_id)
        .where(ExamResult.exam_id == exam_id, ExamResult.pending_grades == 0, User.role == STUDENT)
    )
    with_standing = select(ExamStanding.user_id).where(ExamStanding.exam_id == exam_id)
    query = with_results.union(with_standing)
    return (await session.execute(query)).scalars().all()


async def cohorts_among(
    session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The cohorts of each of these users (those in none are left out), in one query."""
    query = select(CohortMember.user_id, CohortMember.cohort_id).where(
        CohortMember.user_id.in_(set(user_ids))
    )
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for user_id, cohort_id in await session.execute(query):
        found.setdefault(user_id, []).append(cohort_id)
    return found


async def cohorts_of_exam(session: AsyncSession, exam_id: uuid.UUID) -> Sequence[uuid.UUID]:
    """The cohorts with at least one member on the exam's board."""
    query = (
        select(CohortMember.cohort_id)
        .join(ExamStanding, ExamStanding.user_id == CohortMember.user_id)
        .where(ExamStanding.exam_id == exam_id)
        .distinct()
    )
    return (await session.execute(query)).scalars().all()


async def names(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    query = select(User.id, User.name).where(User.id.in_(set(user_ids)))
    return {row[0]: row[1] for row in (await session.execute(query)).all()}
