"""Essay grading: the current grade of each essay, its append-only audit trail, and the
rubrics teachers grade with.

``essay_grades`` holds one row per graded essay (primary key: session and question),
so a regrade replaces the value in place; ``essay_grade_audit`` gets one new row for
every grade ever given and is never updated, so who changed what, when and from which
value stays on record. A rubric belongs to a question *in one exam*: the same bank
question can be graded by different rubrics in different exams.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from studyhall.exams.models import JournalId
from studyhall.platform.db import Base, UtcDateTime


class ExamRubric(Base):
    """Criteria, each with levels worth points: ``[{title, levels: [{title, points}]}]``."""

    __tablename__ = "exam_rubrics"

    exam_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("questions.id"), primary_key=True)
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    updated_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EssayGrade(Base):
    """The grade an essay has now. ``rubric`` is a snapshot of the levels chosen (indexes,
    titles and points at grading time), so editing the rubric later never rewrites it."""

    __tablename__ = "essay_grades"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    exam_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exams.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float] = mapped_column(Float)
    feedback: Mapped[str] = mapped_column(Text)
    rubric: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    grader_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    graded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EssayGradeAudit(Base):
    """One row per grade given, oldest first by ``id``; only ever inserted."""

    __tablename__ = "essay_grade_audit"

    id: Mapped[int] = mapped_column(JournalId, primary_key=True, autoincrement=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE")
    )
    question_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    grader_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    graded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # None: the essay had no grade before this one.
    previous_score: Mapped[float | None] = mapped_column(Float)
    previous_feedback: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    feedback: Mapped[str] = mapped_column(Text)
    rubric: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_essay_grade_audit_session_id_question_id", "session_id", "question_id"),
    )
