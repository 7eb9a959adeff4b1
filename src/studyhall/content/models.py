"""Catalog tables: courses, their ordered lessons, and uploaded lecture videos.

Full-text search structures (SQLite FTS5 tables and triggers, PostgreSQL GIN
expression indexes) are made by hand in migration 0003 and are not part of the
metadata; :data:`SEARCH_SCHEMA_OBJECTS` names them so the models/migrations
comparison leaves them out.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from studyhall.platform.db import Base, UtcDateTime

# SQLite: the search documents, their FTS5 index and its shadow tables.
# PostgreSQL: the GIN expression indexes behind the full-text queries.
SEARCH_SCHEMA_OBJECTS = frozenset(
    {
        "content_search_docs",
        "content_search",
        "content_search_data",
        "content_search_idx",
        "content_search_content",
        "content_search_docsize",
        "content_search_config",
        "ix_courses_search",
        "ix_lessons_search",
        "ix_question_versions_search",
    }
)


class Video(Base):
    """An uploaded lecture video; the bytes live in media storage under ``storage_key``."""

    __tablename__ = "videos"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    cover_url: Mapped[str | None] = mapped_column(String(2000))
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    # The product that sells this course; set by payments (no FK until that table exists).
    product_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_courses_published_created_at", "published", "created_at"),)


class Lesson(Base):
    """A course's lesson: Markdown text, optionally a video and a bank or exam to practise."""

    __tablename__ = "lessons"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    video_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("videos.id", ondelete="SET NULL"), index=True
    )
    bank_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("question_banks.id", ondelete="SET NULL"), index=True
    )
    # An exam to take after the lesson (no FK until the exams table exists).
    exam_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_lessons_course_id_position", "course_id", "position"),)
