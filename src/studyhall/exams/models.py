"""Exam definitions, their sessions, the answer journal and the results.

``session_answers`` is a journal, not a table of current answers: every acknowledged
save is one row, unique on (session, Idempotency-Key), so a retried save can never
apply twice and a late retry of an old save can never overwrite a newer answer. The
current answer to a question is its row with the highest ``id``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from studyhall.platform.db import Base, UtcDateTime

# SQLite makes only an INTEGER PRIMARY KEY an auto-increment rowid.
JournalId = BigInteger().with_variant(Integer(), "sqlite")


class Exam(Base):
    __tablename__ = "exams"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    duration_seconds: Mapped[int] = mapped_column(Integer)
    opens_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts_allowed: Mapped[int] = mapped_column(Integer, default=1)
    # highest | last | first | average: which attempt counts on the leaderboard.
    attempt_policy: Mapped[str] = mapped_column(String(10))
    shuffle_questions: Mapped[bool] = mapped_column(Boolean)
    shuffle_options: Mapped[bool] = mapped_column(Boolean)
    # submit | grace | discard: what happens when time runs out.
    on_expiry: Mapped[str] = mapped_column(String(10))
    grace_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # None: no pausing (timed mocks); else the seconds a student may pause in all.
    pause_budget_seconds: Mapped[int | None] = mapped_column(Integer)
    review_after_submit: Mapped[dict[str, Any]] = mapped_column(JSON)
    review_after_close: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Draw rules (questions.draw.DrawRule, camelCase JSON); None for a fixed list.
    draw_rules: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    cohort_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cohorts.id", ondelete="SET NULL")
    )
    # The product that gates starting (payments wires entitlements; no FK until then).
    product_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ExamQuestion(Base):
    """A question of a fixed-list exam, in the teacher's order."""

    __tablename__ = "exam_questions"

    exam_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("questions.id"), index=True)
    # None: the question version's own points.
    points: Mapped[float | None] = mapped_column(Float)


class ExamOverride(Base):
    """One student's accommodation: extra time and/or a later close."""

    __tablename__ = "exam_overrides"

    exam_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    extra_seconds: Mapped[int] = mapped_column(Integer, default=0)
    closes_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ExamSession(Base):
    """One attempt. ``questions`` freezes what was shown (versions, points, option order),
    so later edits of a question never change how this attempt is scored."""

    __tablename__ = "exam_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    exam_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    # ACTIVE | PAUSED | SCORING | SCORED | DISCARDED
    status: Mapped[str] = mapped_column(String(10))
    seed: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Answers are accepted until ends_at; a submit until submit_by (ends_at + grace).
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    submit_by: Mapped[datetime] = mapped_column(UtcDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # student | timeout
    submitted_by: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (
        UniqueConstraint("exam_id", "user_id", "attempt"),
        Index("ix_exam_sessions_status_submit_by", "status", "submit_by"),
    )


class SessionAnswer(Base):
    __tablename__ = "session_answers"

    id: Mapped[int] = mapped_column(JournalId, primary_key=True, autoincrement=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE")
    )
    question_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    body_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[Any] = mapped_column(JSON)
    client_ts: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        UniqueConstraint("session_id", "idempotency_key"),
        Index("ix_session_answers_session_id_question_id", "session_id", "question_id"),
    )


class ExamResult(Base):
    """The one score of a session: its primary key is the session, so a second scoring
    cannot insert a second row."""

    __tablename__ = "exam_results"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    exam_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    # Per question: awarded points (None while an essay waits for a grader), fraction,
    # correctness and the response scored.
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    pending_grades: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    scored_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_exam_results_exam_id_score", "exam_id", "score", "submitted_at"),)
