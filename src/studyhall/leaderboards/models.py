"""The durable standing of each student on each exam: the leaderboards' source of truth.

The sorted indexes (Redis or in-process) are rebuilt from this table. ``version`` grows
with every change of a row, so an index applies an update that arrives late, after a
newer one, as the no-op it is.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from studyhall.platform.db import Base, UtcDateTime


class ExamStanding(Base):
    """A student's one entry on an exam's leaderboard: their final results combined by
    the exam's attempt policy (``submitted_at`` is when the standing was reached)."""

    __tablename__ = "exam_standings"

    exam_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # How many final results the standing combines.
    attempts: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
