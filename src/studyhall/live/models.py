"""Live quiz tables: the quizzes teachers author and, for audit, every game played.

A game's running state lives in the hot store (``live.store``); these rows are what
stays: who joined, every answer with the server's receive time and what it earned, and
the final scores. ``live_code`` holds the join code only while the game is not over, so
the unique index makes a code unique among live games and free again afterwards.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from studyhall.exams.models import JournalId
from studyhall.platform.db import Base, UtcDateTime


class LiveQuiz(Base):
    __tablename__ = "live_quizzes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    scoring: Mapped[str] = mapped_column(String(16))
    auto_start: Mapped[bool] = mapped_column(Boolean)
    auto_advance: Mapped[bool] = mapped_column(Boolean)
    answer_result: Mapped[str] = mapped_column(String(16))
    auto_start_seconds: Mapped[int | None] = mapped_column(Integer)
    max_players: Mapped[int | None] = mapped_column(Integer)
    # "players": each player's screen shows the question; "host": only the host's does.
    questions_on: Mapped[str] = mapped_column(
        String(16), default="players", server_default="players"
    )
    # live.questions.LiveQuestion documents (camelCase), answer keys included.
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LiveQuizImage(Base):
    """An image a teacher uploaded for quiz questions; the bytes live in media storage."""

    __tablename__ = "live_quiz_images"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LiveGame(Base):
    __tablename__ = "live_games"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    quiz_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_quizzes.id", ondelete="CASCADE"), index=True
    )
    host_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    join_code: Mapped[str] = mapped_column(String(6))
    live_code: Mapped[str | None] = mapped_column(String(6), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The question opened last and its server start (ms since the epoch): where a game
    # rebuilt after losing its hot state goes on (live/rebuild.py).
    question_index: Mapped[int | None] = mapped_column(Integer)
    question_started_ms: Mapped[int | None] = mapped_column(BigInteger)


KICKED_PREFIX = "kicked:"
"""A kicked player's ``name_key`` is this and their id (no name folds to that: names have
at most 30 characters), which frees the name and records the kick."""


class LivePlayer(Base):
    __tablename__ = "live_players"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    game_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("live_games.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    # Case- and space-folded name: two players may not differ only in those.
    name_key: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    client_ip: Mapped[str] = mapped_column(String(64))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    final_score: Mapped[int | None] = mapped_column(Integer)
    final_rank: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("game_id", "name_key"),)


class LiveAnswer(Base):
    """One player's one answer to one question: the first that arrived (unique key)."""

    __tablename__ = "live_answers"

    id: Mapped[int] = mapped_column(JournalId, primary_key=True, autoincrement=True)
    game_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("live_games.id", ondelete="CASCADE"))
    player_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("live_players.id", ondelete="CASCADE"))
    question_index: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[str] = mapped_column(String(36))
    response: Mapped[Any] = mapped_column(JSON)
    # What the client said its clock read; recorded, never used.
    client_answered_at: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    response_ms: Mapped[int] = mapped_column(Integer)
    correct: Mapped[bool | None] = mapped_column(Boolean)
    points: Mapped[int] = mapped_column(Integer)
    streak: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("player_id", "question_index"),
        Index("ix_live_answers_game_id_question_index", "game_id", "question_index"),
    )
