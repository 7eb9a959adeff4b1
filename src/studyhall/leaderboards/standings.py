"""A student's standing on an exam: their final results combined by the exam's attempt
policy, stored in the transaction that makes a result final.

Only final results count (no essay still waiting for a grader), and only students are
ranked: a teacher trying out their own exam is not on its board.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.exams import repository as exam_repository
from studyhall.exams.models import Exam, ExamResult
from studyhall.leaderboards import boards, repository
from studyhall.leaderboards.index import Standing
from studyhall.leaderboards.repository import FinalResult, FirstStanding
from studyhall.platform.runtime import Platform


@dataclass(frozen=True, slots=True)
class Combined:
    score: float
    max_score: float
    submitted_at: datetime
    attempts: int


def combine(policy: str, results: Sequence[FinalResult]) -> Combined:
    """``results`` are final and in submit order. highest: the best score, as first
    reached; first and last: that attempt; average: the mean of every final attempt,
    standing since the latest of them (scores as well as maxima, for drawn exams whose
    attempts differ)."""
    count = len(results)
    if policy == "average":
        return Combined(
            score=round(sum(result.score for result in results) / count, 6),
            max_score=round(sum(result.max_score for result in results) / count, 6),
            submitted_at=results[-1].submitted_at,
            attempts=count,
        )
    if policy == "highest":
        chosen = max(results, key=lambda result: result.score)  # the first of equals
    elif policy == "first":
        chosen = results[0]
    elif policy == "last":
        chosen = results[-1]
    else:
        raise ValueError(f"unknown attempt policy {policy!r}")
    return Combined(chosen.score, chosen.max_score, chosen.submitted_at, count)


async def record(session: AsyncSession, platform: Platform, results: Sequence[ExamResult]) -> None:
    """The results just became final: store their students' new standings; the boards
    follow when the transaction commits. A burst of first attempts costs one statement
    per exam; a student's later attempts are recombined one by one."""
    await session.flush()  # the caller's changes to the results must be visible to the SQL below
    now = platform.clock.now()
    by_exam: dict[uuid.UUID, list[ExamResult]] = {}
    for result in results:
        by_exam.setdefault(result.exam_id, []).append(result)
    for exam_id, finals in by_exam.items():
        exam = await exam_repository.exam_by_id(session, exam_id)
        if exam is None:
            continue
        firsts = [_first(exam.attempt_policy, result) for result in finals]
        created = await repository.insert_first_standings(session, exam.id, firsts, now)
        for first in firsts:
            if first.user_id in created:
                standing = Standing(
                    first.user_id, first.score, first.max_score, first.submitted_at, 1
                )
                boards.update_after_commit(session, platform, exam.id, standing)
        for user_id in {first.user_id for first in firsts} - created:
            await _restand(session, platform, exam, user_id)


def _first(policy: str, result: ExamResult) -> FirstStanding:
    """The standing ``result`` makes when it is its student's only final one."""
    only = combine(policy, [FinalResult(result.score, result.max_score, result.submitted_at)])
    return FirstStanding(
        result.user_id, result.session_id, only.score, only.max_score, only.submitted_at
    )


async def recompute(session: AsyncSession, platform: Platform, exam: Exam) -> int:
    """Every student's standing again from their final results; returns how many changed."""
    changed = 0
    for user_id in await repository.students_of_exam(session, exam.id):
        changed += await _restand(session, platform, exam, user_id)
    return changed


async def _restand(
    session: AsyncSession, platform: Platform, exam: Exam, user_id: uuid.UUID
) -> bool:
    """Recompute one standing under its row lock; True when it changed."""
    now = platform.clock.now()
    stored = await repository.lock_standing(session, exam.id, user_id, now)
    if stored is None:
        return False
    results = await repository.final_results(session, exam.id, user_id)
    if not results:  # only a repair finds a standing without results; the rebuild drops it
        await repository.delete_standing(session, exam.id, user_id)
        return stored.version > 0
    combined = combine(exam.attempt_policy, results)
    current = (stored.score, stored.max_score, stored.submitted_at, stored.attempts)
    if stored.version > 0 and current == astuple(combined):
        return False
    version = await repository.save_standing(
        session,
        exam.id,
        stored,
        score=combined.score,
        max_score=combined.max_score,
        submitted_at=combined.submitted_at,
        attempts=combined.attempts,
        now=now,
    )
    boards.update_after_commit(
        session,
        platform,
        exam.id,
        Standing(user_id, combined.score, combined.max_score, combined.submitted_at, version),
    )
    return True
