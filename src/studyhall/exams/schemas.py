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
    # Who it is for, so a teacher's list reads as names rather than ids.
    user_name: str = ""
    user_email: str = ""


StartBlocker = Literal["not_open", "closed", "no_attempts_left", "not_in_cohort"]


class AttemptOut(msgspec.Struct, rename="camel", kw_only=True):
    session_id: uuid.UUID
    attempt: int
    status: SessionStatus
    started_at: datetime
    ends_at: datetime
    submitted_at: datetime | None


class AttemptsOut(msgspec.Struct, rename="camel", kw_only=True):
    """A student's standing with one exam: what the lobby needs to offer Start or Continue."""

    exam_id: uuid.UUID
    attempts_allowed: int
    attempts_left: int
    open_session_id: uuid.UUID | None
    # This student's window and time, with any override applied.
    duration_seconds: int
    closes_at: datetime | None
    blocked_by: StartBlocker | None
    attempts: list[AttemptOut]


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


# --- integrity (exams.integrity*) ----------------------------------------------------

ReasonCode = Literal[
    "left_page",
    "clipboard",
    "fast_answers",
    "several_ips",
    "several_user_agents",
    "similar_answers",
]


class SignalIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """One event from the exam page; ``kind`` is one of ``integrity.SignalKind``."""

    kind: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    at: datetime | None = None
    detail: Annotated[str, msgspec.Meta(max_length=500)] = ""


class SignalAcceptedOut(msgspec.Struct):
    accepted: bool


class IntegrityReasonOut(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """Why a session is worth a look: what was measured against which threshold."""

    code: ReasonCode
    message: str
    count: int
    threshold: float
    other_session_id: uuid.UUID | None = None


class SignalOut(msgspec.Struct, rename="camel"):
    kind: str
    at: datetime | None
    received_at: datetime
    detail: str


class SessionIntegrityOut(msgspec.Struct, rename="camel", kw_only=True):
    session_id: uuid.UUID
    exam_id: uuid.UUID
    user_id: uuid.UUID
    user_name: str
    attempt: int
    status: SessionStatus
    started_at: datetime
    reasons: list[IntegrityReasonOut]
    signal_counts: dict[str, int]
    addresses: list[str]
    user_agents: list[str]


class SessionIntegrityDetailOut(SessionIntegrityOut, kw_only=True):
    signals: list[SignalOut]
    """The session's latest signals, oldest first."""


class ExamIntegrityOut(msgspec.Struct, rename="camel"):
    """The flagged sessions of an exam, the most reasons first; nothing is decided here."""

    exam_id: uuid.UUID
    title: str
    session_count: int
    flagged_count: int
    sessions: list[SessionIntegrityOut]


# --- essay grading -----------------------------------------------------------------------

RubricLabel = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
GradingFilter = Literal["pending", "all"]


class RubricLevelIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    title: RubricLabel
    points: Points


class RubricCriterionIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    title: RubricLabel
    levels: Annotated[list[RubricLevelIn], msgspec.Meta(min_length=1, max_length=10)]


class RubricIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Replaces the question's rubric in this exam; levels are chosen by their index."""

    criteria: Annotated[list[RubricCriterionIn], msgspec.Meta(min_length=1, max_length=20)]


class RubricOut(msgspec.Struct, rename="camel", kw_only=True):
    exam_id: uuid.UUID
    question_id: uuid.UUID
    criteria: list[RubricCriterionIn]
    max_points: float
    """The most the rubric gives (the best level of every criterion), before the cap."""
    updated_at: datetime


class GradeIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """A ``score`` or ``rubricLevels`` (one level index per criterion, in order): with
    levels the score is their sum, capped to the question's points."""

    score: float | None = None
    feedback: Annotated[str, msgspec.Meta(max_length=20_000)] = ""
    rubric_levels: Annotated[list[int], msgspec.Meta(max_length=20)] | None = None


class RubricChoiceOut(msgspec.Struct, rename="camel"):
    """A level chosen, as the rubric read when the grade was given."""

    criterion: int
    level: int
    criterion_title: str
    level_title: str
    points: float


class GradeOut(msgspec.Struct, rename="camel", kw_only=True):
    score: float
    feedback: str
    rubric: list[RubricChoiceOut] | None
    grader_id: uuid.UUID
    grader_name: str
    graded_at: datetime


class GradedOut(msgspec.Struct, rename="camel", kw_only=True):
    """The grade just given and where it left the attempt's result."""

    session_id: uuid.UUID
    question_id: uuid.UUID
    grade: GradeOut
    status: SessionStatus
    pending_grades: int
    score: float | None
    """The attempt's total, once no essay waits any more."""
    max_score: float


class GradingItemOut(msgspec.Struct, rename="camel", kw_only=True):
    session_id: uuid.UUID
    question_id: uuid.UUID
    student_id: uuid.UUID
    student_name: str
    attempt: int
    submitted_at: datetime
    points: float
    status: Literal["pending", "graded"]
    score: float | None
    graded_at: datetime | None


class GradingQueueOut(msgspec.Struct, rename="camel", kw_only=True):
    """Essays of one exam, oldest submit first (within an attempt: in its question order)."""

    exam_id: uuid.UUID
    title: str
    pending: int
    """Essays of the exam still waiting for a grade (all of them, not only those listed)."""
    items: list[GradingItemOut]


class EssayOut(msgspec.Struct, rename="camel", kw_only=True):
    """One essay as its grader sees it: the question, the answer, the rubric, the grade."""

    exam_id: uuid.UUID
    exam_title: str
    session_id: uuid.UUID
    question_id: uuid.UUID
    student_id: uuid.UUID
    student_name: str
    attempt: int
    submitted_at: datetime
    points: float
    question_html: str
    response: str
    rubric: RubricOut | None
    grade: GradeOut | None
    status: SessionStatus
    pending_grades: int


class GradeAuditOut(msgspec.Struct, rename="camel", kw_only=True):
    grader_id: uuid.UUID
    grader_name: str
    graded_at: datetime
    previous_score: float | None
    previous_feedback: str | None
    score: float
    feedback: str
    rubric: list[RubricChoiceOut] | None


class ExamGradingOut(msgspec.Struct, rename="camel", kw_only=True):
    exam_id: uuid.UUID
    title: str
    pending: int
