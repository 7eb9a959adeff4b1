"""All leaderboard SQL: standings, the final results they combine, names and cohorts.

The statements on the submit path select columns, not ORM objects: they run inside the
transaction that scores a submit, which on SQLite holds the database's one write lock.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, delete, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.exams.models import ExamResult, ExamSession
from studyhall.identity.models import CohortMember, User
from studyhall.leaderboards.models import ExamStanding
from studyhall.platform.db import UtcDateTime, column_binders

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
) -> postgresql.Insert | sqlite.Insert:
    """``INSERT INTO exam_standings SELECT ...`` one row, if the user is a student."""
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
    return insert(ExamStanding).from_select(_INSERT_COLUMNS, row)


class FirstStanding(NamedTuple):
    """A result that may be its student's first final one, with the standing it makes."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    score: float
    max_score: float
    submitted_at: datetime


# Version 1 of each student whose only final result of the exam is the given session's,
# in one statement per batch: rows of VALUES (SQLite) or arrays (PostgreSQL), inserted
# in user order (concurrent batches take these rows in the same order).
# Nothing for users who are not students, have a standing, or have another final result.
_FIRST_STANDINGS_WHERE = """
    NOT EXISTS (
        SELECT 1 FROM exam_results AS r JOIN exam_sessions AS s ON s.id = r.session_id
        WHERE s.exam_id = {exam_id} AND s.user_id = v.user_id AND r.pending_grades = 0
          AND r.session_id <> v.session_id)
"""
_FIRST_STANDINGS = """
    INSERT INTO exam_standings (exam_id, user_id, score, max_score, submitted_at,
                                attempts, version, updated_at)
    SELECT {exam_id}, u.id, v.score, v.max_score, v.submitted_at, 1, 1, {now}
    FROM {rows}
    JOIN users AS u ON u.id = v.user_id AND u.role = 'student'
    WHERE {where}
    ORDER BY v.arrival
    ON CONFLICT (exam_id, user_id) DO NOTHING
    RETURNING user_id
"""
_POSTGRES_FIRST_STANDINGS = text(
    _FIRST_STANDINGS.format(
        exam_id="CAST(:exam_id AS uuid)",
        now="CAST(:now AS timestamptz)",
        rows="""unnest(CAST(:user_ids AS uuid[]), CAST(:session_ids AS uuid[]),
                       CAST(:scores AS float8[]), CAST(:max_scores AS float8[]),
                       CAST(:submitted_at AS timestamptz[]))
                WITH ORDINALITY AS v(user_id, session_id, score, max_score, submitted_at,
                                     arrival)""",
        where=_FIRST_STANDINGS_WHERE.format(exam_id="CAST(:exam_id AS uuid)"),
    )
)


@functools.lru_cache(maxsize=64)
def _sqlite_first_standings(count: int) -> str:
    """The insert for ``count`` results; ``?`` in order: exam, now, the rows, exam."""
    rows = ", ".join(["(?, ?, ?, ?, ?, ?)"] * count)
    return _FIRST_STANDINGS.format(
        exam_id="?",
        now="?",
        rows=f"""(SELECT column1 AS user_id, column2 AS session_id, column3 AS score,
                         column4 AS max_score, column5 AS submitted_at, column6 AS arrival
                  FROM (VALUES {rows})) AS v""",
        where=_FIRST_STANDINGS_WHERE.format(exam_id="?"),
    )


_FIRST_COLUMNS = (
    ExamStanding.user_id,
    ExamResult.session_id,
    ExamStanding.score,
    ExamStanding.max_score,
    ExamStanding.submitted_at,
)


async def insert_first_standings(
    session: AsyncSession, exam_id: uuid.UUID, firsts: Sequence[FirstStanding], now: datetime
) -> set[uuid.UUID]:
    """Create the standing (version 1) of each student whose only final result is the
    given session's; the users it was created for. The others (a second attempt, two
    results in one batch, not a student) need :func:`lock_standing` and a recomputation.

    A concurrent result of the same student either is committed (and seen here), or has
    its own standing row in flight, on which this insert waits and then does nothing.
    """
    if not firsts:
        return set()
    ordered = sorted(firsts, key=lambda first: first.user_id)
    connection = await session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql":
        columns = list(zip(*ordered, strict=True))
        parameters = {
            "exam_id": exam_id,
            "now": now,
            "user_ids": columns[0],
            "session_ids": columns[1],
            "scores": columns[2],
            "max_scores": columns[3],
            "submitted_at": columns[4],
        }
        return set((await connection.execute(_POSTGRES_FIRST_STANDINGS, parameters)).scalars())
    binders = column_binders(dialect, (ExamStanding.exam_id, ExamStanding.updated_at))
    values = [binders[0](exam_id), binders[1](now)]
    row_binders = column_binders(dialect, _FIRST_COLUMNS)
    for arrival, first in enumerate(ordered):
        values += [bind(value) for bind, value in zip(row_binders, first, strict=True)]
        values.append(arrival)
    values.append(binders[0](exam_id))
    inserted = await connection.exec_driver_sql(
        _sqlite_first_standings(len(ordered)), tuple(values)
    )
    user_of = {row_binders[0](first.user_id): first.user_id for first in ordered}
    return {user_of[hex_id] for (hex_id,) in inserted.all()}


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
