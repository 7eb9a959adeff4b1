"""Wire types of the exam API (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from studyhall.questions.draw import DrawRule
from studyhall.questions.render import StudentQuestion

AttemptPolicy = Literal["highest", "last", "first", "average"]
ExpiryPolicy = Literal["submit", "grace", "discard"]
SessionStatus = Literal["ACTIVE", "PAUSED", "SCORING", "SCORED", "DISCARDED"]
Seconds = Annotated[int, msgspec.Meta(ge=1, le=7 * 24 * 3600)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Points = Annotated[float, msgspec.Meta(ge=0, le=1000)]


class ReviewPolicy(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """What a student sees of a scored attempt."""

    score: bool = True
    correctness: bool = False
    right_answers: bool = False
    explanations: bool = False


class ExamQuestionIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    question_id: uuid.UUID
    points: Points | None = None


class ExamIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """An exam: a fixed list (``questionIds`` or ``questions`` with points) or ``draw`` rules."""

    title: Title
    duration_seconds: Seconds
    instructions: Annotated[str, msgspec.Meta(max_length=20_000)] = ""
    question_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=500)] | None = None
    questions: Annotated[list[ExamQuestionIn], msgspec.Meta(max_length=500)] | None = None
    draw: Annotated[list[DrawRule], msgspec.Meta(min_length=1, max_length=50)] | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    attempts_allowed: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    attempt_policy: AttemptPolicy = "highest"
    shuffle_questions: bool = True
    shuffle_options: bool = True
    on_expiry: ExpiryPolicy = "submit"
    grace_seconds: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 0
    pause_budget_seconds: Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 3600)] | None = None
    review_after_submit: ReviewPolicy = msgspec.field(default_factory=ReviewPolicy)
    review_after_close: ReviewPolicy = msgspec.field(
        default_factory=lambda: ReviewPolicy(
            score=True, correctness=True, right_answers=True, explanations=True
        )
    )
    cohort_id: uuid.UUID | None = None
    product_id: uuid.UUID | None = None


class ExamOut(msgspec.Struct, rename="camel", kw_only=True):
    id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    instructions: str
    duration_seconds: int
    question_count: int
    opens_at: datetime | None
    closes_at: datetime | None
    attempts_allowed: int
    attempt_policy: str
    shuffle_questions: bool
    shuffle_options: bool
    on_expiry: str
    grace_seconds: int
    pause_budget_seconds: int | None
    review_after_submit: ReviewPolicy
    review_after_close: ReviewPolicy
    cohort_id: uuid.UUID | None
    product_id: uuid.UUID | None
    created_at: datetime


class OverrideIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    extra_seconds: Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 3600)] = 0
    closes_at: datetime | None = None


class OverrideOut(msgspec.Struct, rename="camel"):
    exam_id: uuid.UUID
    user_id: uuid.UUID
    extra_seconds: int
    closes_at: datetime | None


class AnswerOut(msgspec.Struct, rename="camel"):
    question_id: uuid.UUID
    choice: Any
    saved_at: datetime


class SessionOut(msgspec.Struct, rename="camel", kw_only=True):
    """A session as its student sees it: never an answer key."""

    session_id: uuid.UUID
    exam_id: uuid.UUID
    attempt: int
    status: SessionStatus
    started_at: datetime
    ends_at: datetime
    submit_by: datetime
    remaining_seconds: float
    server_time: datetime
    question_order: list[uuid.UUID]
    questions: list[StudentQuestion]
    answers: list[AnswerOut]


class AnswerIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    question_id: uuid.UUID
    choice: Any = None
    client_ts: datetime | None = None


class SavedOut(msgspec.Struct):
    saved: bool


class SubmitOut(msgspec.Struct, rename="camel", omit_defaults=True):
    status: SessionStatus
    session_id: uuid.UUID
    score: float | None = None
    max_score: float | None = None
    percentage: float | None = None


class BreakdownOut(msgspec.Struct, rename="camel", omit_defaults=True):
    question_id: uuid.UUID
    points: float
    answered: bool
    awarded: float | None = None
    correct: bool | None = None
    feedback_html: str | None = None
    right_answer_html: str | None = None
    explanation_html: str | None = None


class ResultOut(msgspec.Struct, rename="camel", omit_defaults=True):
    session_id: uuid.UUID
    exam_id: uuid.UUID
    status: SessionStatus
    submitted_at: datetime | None = None
    score: float | None = None
    max_score: float | None = None
    percentage: float | None = None
    rank: int | None = None
    pending_grades: int = 0
    breakdown: list[BreakdownOut] = []
