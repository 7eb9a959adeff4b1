"""Integrity signals: what a student's browser reported during a session.

A signal is advisory evidence for a person to read, never a verdict, so rows arrive
in batches from a process buffer (``exams.integrity.SignalBuffer``) instead of one
transaction per request. ``client_at`` is the browser's clock and is only shown;
``received_at`` is the server's.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from studyhall.exams.models import JournalId
from studyhall.platform.db import Base, UtcDateTime


class IntegritySignal(Base):
    __tablename__ = "integrity_signals"

    id: Mapped[int] = mapped_column(JournalId, primary_key=True, autoincrement=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    client_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    detail: Mapped[str] = mapped_column(String(500))

    __table_args__ = (Index("ix_integrity_signals_session_id_kind", "session_id", "kind"),)
