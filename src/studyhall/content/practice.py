"""Practice on a lesson: the questions of its bank as a student sees them, and a check of
one answer at a time.

Whoever may read the lesson may practise (the catalog's read rules, not a copy of them);
a question of another bank is as missing as one that does not exist (404). Practice is
formative: a check stores nothing and marks no version seen, so it scores the question's
current version and answers with the right answer and the explanation at once. That is
why a bank used in graded exams should not be attached to a lesson (docs/decisions.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.content.models import Course, Lesson
from studyhall.content.service import open_lesson
from studyhall.exams.answers import InvalidAnswer
from studyhall.platform.auth import Actor
from studyhall.platform.errors import NotFound, RateLimited
from studyhall.platform.runtime import Platform
from studyhall.questions import files
from studyhall.questions import repository as question_repository
from studyhall.questions.models import Question, QuestionVersion
from studyhall.questions.render import StudentQuestion, student_view, to_html
from studyhall.questions.review import explanation_html, right_answer_html
from studyhall.questions.scoring import InvalidResponse, score
from studyhall.questions.service import decode_content

PRACTICE_MAX_QUESTIONS = 200
"""The first questions of the bank that practice shows: a lesson's worth, not an archive."""
CHECKS_PER_MINUTE = 60
"""Per user: a student reads and answers; a script trying every option is slowed down."""


class PracticeOut(msgspec.Struct, rename="camel"):
    """The lesson's practice questions in the student view (no answer keys)."""

    lesson_id: uuid.UUID
    exam_id: uuid.UUID | None
    questions: list[StudentQuestion]


class CheckIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """``choice`` has the shape an exam answer has for the question's kind."""

    choice: Any


class CheckOut(msgspec.Struct, rename="camel"):
    """How one answer did. ``fraction`` and ``correct`` are None for an essay, which no
    rule can mark; the HTML fields are sanitised and None when the question has none."""

    question_id: uuid.UUID
    version: int
    fraction: float | None
    correct: bool | None
    feedback_html: str | None
    right_answer_html: str | None
    explanation_html: str | None


@dataclass(frozen=True, slots=True)
class PracticeItem:
    """One practice question with where it stands, and what frames it on a page
    (``question`` is None, and ``position`` 0, while the bank has no questions)."""

    question: StudentQuestion | None
    position: int  # 1-based
    total: int
    lesson_id: uuid.UUID
    lesson_title: str
    course_id: uuid.UUID
    course_title: str
    exam_id: uuid.UUID | None


async def _practice_lesson(
    session: AsyncSession, platform: Platform, actor: Actor, lesson_id: uuid.UUID
) -> tuple[Lesson, Course, uuid.UUID]:
    lesson, course = await open_lesson(session, platform, actor, lesson_id)
    if lesson.bank_id is None:
        raise NotFound("This lesson has no practice questions")
    return lesson, course, lesson.bank_id


async def _bank_questions(
    session: AsyncSession, bank_id: uuid.UUID
) -> list[tuple[Question, QuestionVersion]]:
    """The bank's first questions in its own order, each at its current version."""
    return await question_repository.list_questions(
        session,
        bank_id,
        category_ids=None,
        tags=[],
        kind=None,
        difficulty=None,
        limit=PRACTICE_MAX_QUESTIONS,
        offset=0,
    )


async def _student_views(
    session: AsyncSession, platform: Platform, rows: list[tuple[Question, QuestionVersion]]
) -> list[StudentQuestion]:
    urls = await files.file_urls(session, platform, [question.id for question, _ in rows])
    return [
        student_view(
            question.id,
            version.version,
            version.points,
            decode_content(version),
            file_urls=urls.get(question.id, {}),
        )
        for question, version in rows
    ]


async def practice(
    session: AsyncSession, platform: Platform, actor: Actor, lesson_id: uuid.UUID
) -> PracticeOut:
    """Every practice question of the lesson, images linked for this reader."""
    lesson, _, bank_id = await _practice_lesson(session, platform, actor, lesson_id)
    rows = await _bank_questions(session, bank_id)
    return PracticeOut(
        lesson_id=lesson.id,
        exam_id=lesson.exam_id,
        questions=await _student_views(session, platform, rows),
    )


async def practice_item(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    lesson_id: uuid.UUID,
    at: int | uuid.UUID,
) -> PracticeItem:
    """One question, found by its 1-based position (clamped to the set) or by its id;
    only that one is rendered, so a page costs one question's images and Markdown."""
    lesson, course, bank_id = await _practice_lesson(session, platform, actor, lesson_id)
    rows = await _bank_questions(session, bank_id)
    if isinstance(at, uuid.UUID):
        index = next((i for i, (question, _) in enumerate(rows) if question.id == at), None)
        if index is None:
            raise NotFound("No such question in this lesson's practice")
    else:
        index = min(max(at, 1), len(rows)) - 1
    shown = await _student_views(session, platform, rows[index : index + 1])
    return PracticeItem(
        question=shown[0] if shown else None,
        position=index + 1,
        total=len(rows),
        lesson_id=lesson.id,
        lesson_title=lesson.title,
        course_id=course.id,
        course_title=course.title,
        exam_id=lesson.exam_id,
    )


async def _within_rate(platform: Platform, actor: Actor) -> None:
    decision = await platform.limiter.hit(
        f"practice:checks:{actor.user_id}", limit=CHECKS_PER_MINUTE, window_seconds=60
    )
    if not decision.allowed:
        raise RateLimited(decision.retry_after, "Too many checks: take a moment, then try again")


async def check(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    lesson_id: uuid.UUID,
    question_id: uuid.UUID,
    choice: object,
) -> CheckOut:
    """Score one answer with the exams' scoring rules against the question's current
    version. A malformed answer is the exams' ``422 invalid_answer``; so is none at all
    (``null``), because the right answer is only shown to someone who answered."""
    await _within_rate(platform, actor)
    _, _, bank_id = await _practice_lesson(session, platform, actor, lesson_id)
    found = await question_repository.question_with_version(session, question_id)
    if found is None or found[0].bank_id != bank_id:
        raise NotFound("No such question in this lesson's practice")
    question, version = found
    content = decode_content(version)
    if choice is None:
        raise InvalidAnswer("Answer the question before checking it")
    try:
        graded = score(content, choice)
    except InvalidResponse as exc:
        raise InvalidAnswer(str(exc)) from exc
    feedback = graded.feedback if graded else None
    return CheckOut(
        question_id=question.id,
        version=version.version,
        fraction=graded.fraction if graded else None,
        correct=graded.correct if graded else None,
        feedback_html=to_html(feedback, content.text_format) if feedback else None,
        right_answer_html=right_answer_html(content),
        explanation_html=explanation_html(content),
    )
