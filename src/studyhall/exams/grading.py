"""Essay grading: the teacher's queue, grades (by score or by rubric), their audit trail,
and the moment a result becomes final.

Only the exam's owner (or an admin) grades it; anyone else is told the exam does not
exist. Each grade locks the attempt's result row first (``grading_repository``), so two
graders of one attempt, or of one essay, are applied one after the other and neither is
lost. The grade, its audit row, the recomputed result, the session's move to SCORED and
``service.results_final`` (where standings learn about it) share one transaction: a
result is final exactly when its last essay's grade is committed, and a later regrade
updates the score and tells the standings again.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import msgspec
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.exams import grading_repository, service
from studyhall.exams import repository as exam_repository
from studyhall.exams.grading_models import EssayGrade, EssayGradeAudit, ExamRubric
from studyhall.exams.models import Exam, ExamResult, ExamSession
from studyhall.exams.schemas import (
    EssayOut,
    ExamGradingOut,
    GradeAuditOut,
    GradedOut,
    GradeIn,
    GradeOut,
    GradingFilter,
    GradingItemOut,
    GradingQueueOut,
    RubricChoiceOut,
    RubricCriterionIn,
    RubricIn,
    RubricOut,
)
from studyhall.platform.auth import Actor, ensure_owner_or_admin, require_staff
from studyhall.platform.errors import Conflict, InvalidInput, NotFound
from studyhall.platform.ids import parse_id
from studyhall.platform.runtime import Platform
from studyhall.questions import files
from studyhall.questions import repository as question_repository
from studyhall.questions.frozen import FrozenVersion, frozen_versions
from studyhall.questions.render import to_html

# A grade this close to the points is full marks (the scoring rules' slack).
FULL_MARKS_SLACK = 1e-6


class ScoreOutOfRange(InvalidInput):
    code = "score_out_of_range"
    title = "The score is outside the question's points"


class RubricMismatch(InvalidInput):
    code = "rubric_mismatch"
    title = "The rubric levels do not fit the question's rubric"


class NotAnEssay(InvalidInput):
    code = "not_an_essay"
    title = "Only essays are graded by hand"


class NothingToGrade(Conflict):
    code = "nothing_to_grade"
    title = "The student did not answer this essay"


# --- access --------------------------------------------------------------------------


async def _grading_exam(session: AsyncSession, actor: Actor, exam_id: uuid.UUID) -> Exam:
    """The exam, if this actor grades it (its owner, or an admin); else it does not exist."""
    exam = await exam_repository.exam_by_id(session, exam_id)
    if exam is None or not actor.is_staff:
        raise NotFound("No such exam")
    ensure_owner_or_admin(actor, exam.owner_id, what="exam")
    return exam


async def _essay(
    session: AsyncSession, exam: Exam, session_id: uuid.UUID, question_id: uuid.UUID
) -> tuple[ExamSession, FrozenVersion, float]:
    """The attempt, the essay's version as the student saw it, and its points."""
    exam_session = await exam_repository.session_by_id(session, session_id, refresh=True)
    if exam_session is None or exam_session.exam_id != exam.id:
        raise NotFound("No such session")
    item = next(
        (item for item in exam_session.questions if item["questionId"] == str(question_id)), None
    )
    if item is None:
        raise NotFound("The session has no such question")
    version_id = parse_id(item["versionId"])
    frozen = (await frozen_versions(session, [version_id]))[version_id]
    if frozen.content.kind != "essay":
        raise NotAnEssay()
    return exam_session, frozen, float(item["points"])


def _entry(result: ExamResult, question_id: uuid.UUID) -> dict[str, Any]:
    """The essay's line in the result's breakdown, if it was answered."""
    entry = next((e for e in result.breakdown if e["questionId"] == str(question_id)), None)
    if entry is None or not entry["answered"]:
        raise NothingToGrade()
    return entry


async def _submitted_result(session: AsyncSession, exam_session: ExamSession) -> ExamResult:
    result = await exam_repository.result_for(session, exam_session.id)
    if result is None:
        raise service.ResultNotReady("The attempt has not been submitted")
    return result


# --- rubrics -------------------------------------------------------------------------


def _rubric_out(rubric: ExamRubric) -> RubricOut:
    criteria = msgspec.convert(rubric.criteria, list[RubricCriterionIn])
    best = math.fsum(max(level.points for level in criterion.levels) for criterion in criteria)
    return RubricOut(
        exam_id=rubric.exam_id,
        question_id=rubric.question_id,
        criteria=criteria,
        max_points=round(best, 6),
        updated_at=rubric.updated_at,
    )


async def _check_exam_essay(session: AsyncSession, exam: Exam, question_id: uuid.UUID) -> None:
    """A rubric only attaches to an essay the exam can show: one of its fixed list, or
    one from a bank its draw rules draw from."""
    found = await question_repository.question_with_version(session, question_id)
    if found is None:
        raise NotFound("No such question")
    question, version = found
    if exam.draw_rules is None:
        fixed = await exam_repository.exam_questions(session, exam.id)
        in_exam = any(item.question_id == question_id for item in fixed)
    else:
        in_exam = question.bank_id in {uuid.UUID(str(rule["bankId"])) for rule in exam.draw_rules}
    if not in_exam:
        raise NotFound("The exam has no such question")
    if version.kind != "essay":
        raise NotAnEssay()


async def set_rubric(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    exam_id: uuid.UUID,
    question_id: uuid.UUID,
    data: RubricIn,
) -> RubricOut:
    """Attach (or replace) the rubric an essay of this exam is graded with. Grades already
    given keep the levels as they read then."""
    exam = await _grading_exam(session, actor, exam_id)
    await _check_exam_essay(session, exam, question_id)
    criteria = msgspec.to_builtins(data.criteria)
    now = platform.clock.now()
    rubric = await grading_repository.rubric_for(session, exam.id, question_id)
    if rubric is None:
        rubric = ExamRubric(
            exam_id=exam.id,
            question_id=question_id,
            criteria=criteria,
            updated_by=actor.user_id,
            updated_at=now,
        )
        try:
            async with session.begin_nested():
                await exam_repository.add(session, rubric)
            return _rubric_out(rubric)
        except IntegrityError:
            # Another request attached one a moment ago: this one replaces it.
            rubric = await grading_repository.rubric_for(session, exam.id, question_id)
            assert rubric is not None
    rubric.criteria = criteria
    rubric.updated_by = actor.user_id
    rubric.updated_at = now
    await session.flush()
    return _rubric_out(rubric)


async def rubric_of(
    session: AsyncSession, actor: Actor, exam_id: uuid.UUID, question_id: uuid.UUID
) -> RubricOut | None:
    """The rubric of an essay of the exam; None while it has none."""
    exam = await _grading_exam(session, actor, exam_id)
    await _check_exam_essay(session, exam, question_id)
    rubric = await grading_repository.rubric_for(session, exam.id, question_id)
    return _rubric_out(rubric) if rubric else None


async def get_rubric(
    session: AsyncSession, actor: Actor, exam_id: uuid.UUID, question_id: uuid.UUID
) -> RubricOut:
    rubric = await rubric_of(session, actor, exam_id, question_id)
    if rubric is None:
        raise NotFound("This question has no rubric in this exam")
    return rubric


async def delete_rubric(
    session: AsyncSession, actor: Actor, exam_id: uuid.UUID, question_id: uuid.UUID
) -> None:
    exam = await _grading_exam(session, actor, exam_id)
    if not await grading_repository.delete_rubric(session, exam.id, question_id):
        raise NotFound("This question has no rubric in this exam")


# --- the queue and one essay ---------------------------------------------------------


async def grading_overview(session: AsyncSession, actor: Actor) -> list[ExamGradingOut]:
    """The exams this actor grades, newest first, with their essays waiting."""
    require_staff(actor)
    exams = await exam_repository.exams_owned_by(session, None if actor.is_admin else actor.user_id)
    pending = await grading_repository.pending_by_exam(session, [exam.id for exam in exams])
    return [
        ExamGradingOut(exam_id=e.id, title=e.title, pending=pending.get(e.id, 0)) for e in exams
    ]


async def grading_queue(
    session: AsyncSession,
    actor: Actor,
    exam_id: uuid.UUID,
    *,
    show: GradingFilter = "pending",
    limit: int = 200,
) -> GradingQueueOut:
    """The exam's essays waiting for a grade (``all``: graded ones too), oldest submit
    first, at most ``limit``."""
    exam = await _grading_exam(session, actor, exam_id)
    rows = await grading_repository.queue(
        session, exam.id, include_graded=show == "all", limit=limit
    )
    grades = (
        await grading_repository.grades_of_sessions(session, [row[0].session_id for row in rows])
        if show == "all"
        else {}
    )
    items: list[GradingItemOut] = []
    for result, attempt, student_name in rows:
        for entry in result.breakdown:
            question_id = uuid.UUID(entry["questionId"])
            grade = grades.get((result.session_id, question_id))
            if entry["awarded"] is not None and grade is None:
                continue
            items.append(
                GradingItemOut(
                    session_id=result.session_id,
                    question_id=question_id,
                    student_id=result.user_id,
                    student_name=student_name,
                    attempt=attempt,
                    submitted_at=result.submitted_at,
                    points=entry["points"],
                    status="pending" if entry["awarded"] is None else "graded",
                    score=grade.score if grade else None,
                    graded_at=grade.graded_at if grade else None,
                )
            )
    pending = await grading_repository.pending_by_exam(session, [exam.id])
    return GradingQueueOut(
        exam_id=exam.id, title=exam.title, pending=pending.get(exam.id, 0), items=items[:limit]
    )


def _choices(stored: list[dict[str, Any]] | None) -> list[RubricChoiceOut] | None:
    return None if stored is None else msgspec.convert(stored, list[RubricChoiceOut])


def _grade_out(grade: EssayGrade, names: dict[uuid.UUID, str]) -> GradeOut:
    return GradeOut(
        score=grade.score,
        feedback=grade.feedback,
        rubric=_choices(grade.rubric),
        grader_id=grade.grader_id,
        grader_name=names.get(grade.grader_id, ""),
        graded_at=grade.graded_at,
    )


async def essay_for_grading(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    exam_id: uuid.UUID,
    session_id: uuid.UUID,
    question_id: uuid.UUID,
) -> EssayOut:
    """The question, the student's answer, the rubric and the current grade."""
    exam = await _grading_exam(session, actor, exam_id)
    exam_session, frozen, points = await _essay(session, exam, session_id, question_id)
    result = await _submitted_result(session, exam_session)
    entry = _entry(result, question_id)
    grade = await grading_repository.grade_of(session, exam_session.id, question_id)
    rubric = await grading_repository.rubric_for(session, exam.id, question_id)
    names = await grading_repository.user_names(
        session, {exam_session.user_id} | ({grade.grader_id} if grade else set())
    )
    urls = await files.file_urls(session, platform, [question_id])
    return EssayOut(
        exam_id=exam.id,
        exam_title=exam.title,
        session_id=exam_session.id,
        question_id=question_id,
        student_id=exam_session.user_id,
        student_name=names.get(exam_session.user_id, ""),
        attempt=exam_session.attempt,
        submitted_at=result.submitted_at,
        points=points,
        question_html=to_html(
            frozen.content.text, frozen.content.text_format, urls.get(question_id, {})
        ),
        response=str(entry["response"]),
        rubric=_rubric_out(rubric) if rubric else None,
        grade=_grade_out(grade, names) if grade else None,
        status="SCORING" if result.pending_grades else "SCORED",
        pending_grades=result.pending_grades,
    )


# --- grading -------------------------------------------------------------------------


def _score_of(
    data: GradeIn, points: float, rubric: ExamRubric | None
) -> tuple[float, list[dict[str, Any]] | None]:
    """The score a grade gives, and the rubric levels it chose (a snapshot)."""
    if (data.score is None) == (data.rubric_levels is None):
        raise InvalidInput("Give a score or rubric levels (one per criterion), not both")
    if data.rubric_levels is None:
        assert data.score is not None
        if not math.isfinite(data.score) or not 0 <= data.score <= points:
            raise ScoreOutOfRange(f"A score for this question is between 0 and {points:g}")
        return round(data.score, 6), None
    if rubric is None:
        raise RubricMismatch("This question has no rubric in this exam")
    criteria = rubric.criteria
    if len(data.rubric_levels) != len(criteria):
        raise RubricMismatch(f"Choose one level for each of the {len(criteria)} criteria")
    chosen = []
    for index, (criterion, level_index) in enumerate(
        zip(criteria, data.rubric_levels, strict=True)
    ):
        levels = criterion["levels"]
        if not 0 <= level_index < len(levels):
            raise RubricMismatch(f"“{criterion['title']}” has no level {level_index}")
        level = levels[level_index]
        chosen.append(
            {
                "criterion": index,
                "level": level_index,
                "criterionTitle": criterion["title"],
                "levelTitle": level["title"],
                "points": level["points"],
            }
        )
    total = math.fsum(choice["points"] for choice in chosen)
    return round(min(total, points), 6), chosen


def _apply(
    result: ExamResult, question_id: uuid.UUID, score: float, feedback: str, points: float
) -> None:
    """Put the grade in the breakdown and recompute the total and what still waits."""
    breakdown = [dict(entry) for entry in result.breakdown]
    fraction = score / points if points else 0.0
    for entry in breakdown:
        if entry["questionId"] == str(question_id):
            entry.update(
                awarded=score,
                fraction=round(fraction, 7),
                correct=points > 0 and fraction >= 1 - FULL_MARKS_SLACK,
                feedback=feedback or None,
            )
    result.breakdown = breakdown
    awarded = [entry["awarded"] for entry in breakdown if entry["awarded"] is not None]
    result.score = round(math.fsum(awarded), 6)
    result.pending_grades = len(breakdown) - len(awarded)


async def grade_essay(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    exam_id: uuid.UUID,
    session_id: uuid.UUID,
    question_id: uuid.UUID,
    data: GradeIn,
) -> GradedOut:
    """Grade (or regrade) one essay; the attempt's result is final once none waits."""
    exam = await _grading_exam(session, actor, exam_id)
    exam_session, _, points = await _essay(session, exam, session_id, question_id)
    rubric = await grading_repository.rubric_for(session, exam.id, question_id)
    score, chosen = _score_of(data, points, rubric)
    feedback = data.feedback.strip()
    result = await grading_repository.lock_result(session, exam_session.id)
    if result is None:
        raise service.ResultNotReady("The attempt has not been submitted")
    _entry(result, question_id)
    now = platform.clock.now()
    grade = await grading_repository.grade_of(session, exam_session.id, question_id)
    session.add(
        EssayGradeAudit(
            session_id=exam_session.id,
            question_id=question_id,
            grader_id=actor.user_id,
            graded_at=now,
            previous_score=grade.score if grade else None,
            previous_feedback=grade.feedback if grade else None,
            score=score,
            feedback=feedback,
            rubric=chosen,
        )
    )
    if grade is None:
        grade = EssayGrade(session_id=exam_session.id, question_id=question_id, exam_id=exam.id)
        session.add(grade)
    grade.score, grade.feedback, grade.rubric = score, feedback, chosen
    grade.grader_id, grade.graded_at = actor.user_id, now
    was_final = result.pending_grades == 0
    _apply(result, question_id, score, feedback, points)
    final = result.pending_grades == 0
    if final:
        result.scored_at = now
    await session.flush()
    if final and not was_final:
        await exam_repository.set_status(session, exam_session.id, "SCORED")
    if final:
        await service.results_final(session, platform, [result])
    return GradedOut(
        session_id=exam_session.id,
        question_id=question_id,
        grade=_grade_out(grade, {actor.user_id: actor.name}),
        status="SCORED" if final else "SCORING",
        pending_grades=result.pending_grades,
        score=result.score if final else None,
        max_score=result.max_score,
    )


async def grade_history(
    session: AsyncSession,
    actor: Actor,
    exam_id: uuid.UUID,
    session_id: uuid.UUID,
    question_id: uuid.UUID,
) -> list[GradeAuditOut]:
    """Every grade the essay was given, oldest first, with the value each replaced."""
    exam = await _grading_exam(session, actor, exam_id)
    exam_session, _, _ = await _essay(session, exam, session_id, question_id)
    trail = await grading_repository.audit_trail(session, exam_session.id, question_id)
    names = await grading_repository.user_names(session, {row.grader_id for row in trail})
    return [
        GradeAuditOut(
            grader_id=row.grader_id,
            grader_name=names.get(row.grader_id, ""),
            graded_at=row.graded_at,
            previous_score=row.previous_score,
            previous_feedback=row.previous_feedback,
            score=row.score,
            feedback=row.feedback,
            rubric=_choices(row.rubric),
        )
        for row in trail
    ]
