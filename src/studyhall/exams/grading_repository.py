"""All essay-grading SQL.

:func:`lock_result` is what keeps concurrent grades of one attempt apart: its first
statement is a write on the result row. On PostgreSQL that takes the row lock until
commit; on SQLite the first write of a transaction takes the database's write lock
(reads before it run outside any transaction). Either way a second grader of the
same attempt waits, then reads the first one's committed breakdown, so no grade is
lost and the audit's "previous value" is the one really replaced.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.exams.grading_models import EssayGrade, EssayGradeAudit, ExamRubric
from studyhall.exams.models import ExamResult, ExamSession
from studyhall.identity.models import User


async def lock_result(session: AsyncSession, session_id: uuid.UUID) -> ExamResult | None:
    """The attempt's result, read after taking its write lock (see the module docstring)."""
    locked = await session.execute(
        update(ExamResult)
        .where(ExamResult.session_id == session_id)
        .values(scored_at=ExamResult.scored_at)
        .returning(ExamResult.session_id)
        .execution_options(synchronize_session=False)
    )
    if locked.scalar_one_or_none() is None:
        return None
    return await session.get(ExamResult, session_id, populate_existing=True)


async def grade_of(
    session: AsyncSession, session_id: uuid.UUID, question_id: uuid.UUID
) -> EssayGrade | None:
    return await session.get(EssayGrade, (session_id, question_id), populate_existing=True)


async def grades_of_sessions(
    session: AsyncSession, session_ids: Iterable[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], EssayGrade]:
    query = select(EssayGrade).where(EssayGrade.session_id.in_(set(session_ids)))
    return {
        (grade.session_id, grade.question_id): grade
        for grade in (await session.execute(query)).scalars()
    }


async def queue(
    session: AsyncSession, exam_id: uuid.UUID, *, include_graded: bool, limit: int
) -> Sequence[Any]:
    """(result, attempt, student name) of the exam's attempts with an essay waiting (or
    also with one graded), oldest submit first."""
    waiting: Any = ExamResult.pending_grades > 0
    if include_graded:
        graded = select(EssayGrade.session_id).where(EssayGrade.exam_id == exam_id)
        waiting = or_(waiting, ExamResult.session_id.in_(graded))
    query = (
        select(ExamResult, ExamSession.attempt, User.name)
        .join(ExamSession, ExamSession.id == ExamResult.session_id)
        .join(User, User.id == ExamResult.user_id)
        .where(ExamResult.exam_id == exam_id, waiting)
        .order_by(ExamResult.submitted_at, ExamResult.session_id)
        .limit(limit)
    )
    return (await session.execute(query)).all()


async def pending_by_exam(
    session: AsyncSession, exam_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Essays still waiting for a grade, per exam (exams with none are left out)."""
    query = (
        select(ExamResult.exam_id, func.sum(ExamResult.pending_grades))
        .where(ExamResult.exam_id.in_(set(exam_ids)), ExamResult.pending_grades > 0)
        .group_by(ExamResult.exam_id)
    )
    return {row[0]: int(row[1]) for row in (await session.execute(query)).all()}


async def audit_trail(
    session: AsyncSession, session_id: uuid.UUID, question_id: uuid.UUID
) -> Sequence[EssayGradeAudit]:
    query = (
        select(EssayGradeAudit)
        .where(EssayGradeAudit.session_id == session_id, EssayGradeAudit.question_id == question_id)
        .order_by(EssayGradeAudit.id)
    )
    return (await session.execute(query)).scalars().all()


async def user_names(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    query = select(User.id, User.name).where(User.id.in_(set(user_ids)))
    return {row[0]: row[1] for row in (await session.execute(query)).all()}


async def rubric_for(
    session: AsyncSession, exam_id: uuid.UUID, question_id: uuid.UUID
) -> ExamRubric | None:
    return await session.get(ExamRubric, (exam_id, question_id), populate_existing=True)


async def delete_rubric(session: AsyncSession, exam_id: uuid.UUID, question_id: uuid.UUID) -> bool:
    deleted = await session.execute(
        delete(ExamRubric)
        .where(ExamRubric.exam_id == exam_id, ExamRubric.question_id == question_id)
        .returning(ExamRubric.exam_id)
        .execution_options(synchronize_session=False)
    )
    return deleted.scalar_one_or_none() is not None
