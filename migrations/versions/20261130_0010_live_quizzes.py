"""live quizzes: quizzes, games, players and answers

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import studyhall.platform.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = studyhall.platform.db.UtcDateTime
JournalId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "live_quizzes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("scoring", sa.String(length=16), nullable=False),
        sa.Column("auto_start", sa.Boolean(), nullable=False),
        sa.Column("auto_advance", sa.Boolean(), nullable=False),
        sa.Column("answer_result", sa.String(length=16), nullable=False),
        sa.Column("auto_start_seconds", sa.Integer(), nullable=True),
        sa.Column("max_players", sa.Integer(), nullable=True),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_live_quizzes_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_quizzes")),
    )
    op.create_index(op.f("ix_live_quizzes_owner_id"), "live_quizzes", ["owner_id"])
    op.create_table(
        "live_games",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("quiz_id", sa.Uuid(), nullable=False),
        sa.Column("host_id", sa.Uuid(), nullable=False),
        sa.Column("join_code", sa.String(length=6), nullable=False),
        sa.Column("live_code", sa.String(length=6), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["quiz_id"],
            ["live_quizzes.id"],
            name=op.f("fk_live_games_quiz_id_live_quizzes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["users.id"],
            name=op.f("fk_live_games_host_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_games")),
        sa.UniqueConstraint("live_code", name=op.f("uq_live_games_live_code")),
    )
    op.create_index(op.f("ix_live_games_quiz_id"), "live_games", ["quiz_id"])
    op.create_index(op.f("ix_live_games_host_id"), "live_games", ["host_id"])
    op.create_table(
        "live_players",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("game_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("name_key", sa.String(length=120), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("joined_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("final_score", sa.Integer(), nullable=True),
        sa.Column("final_rank", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["game_id"],
            ["live_games.id"],
            name=op.f("fk_live_players_game_id_live_games"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_live_players_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_players")),
        sa.UniqueConstraint("game_id", "name_key", name=op.f("uq_live_players_game_id_name_key")),
    )
    op.create_index(op.f("ix_live_players_user_id"), "live_players", ["user_id"])
    op.create_table(
        "live_answers",
        sa.Column("id", JournalId, autoincrement=True, nullable=False),
        sa.Column("game_id", sa.Uuid(), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("question_index", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=36), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("client_answered_at", sa.String(length=64), nullable=True),
        sa.Column("received_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("response_ms", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["game_id"],
            ["live_games.id"],
            name=op.f("fk_live_answers_game_id_live_games"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["live_players.id"],
            name=op.f("fk_live_answers_player_id_live_players"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_answers")),
        sa.UniqueConstraint(
            "player_id", "question_index", name=op.f("uq_live_answers_player_id_question_index")
        ),
    )
    op.create_index(
        "ix_live_answers_game_id_question_index", "live_answers", ["game_id", "question_index"]
    )


def downgrade() -> None:
    op.drop_table("live_answers")
    op.drop_table("live_players")
    op.drop_table("live_games")
    op.drop_table("live_quizzes")
