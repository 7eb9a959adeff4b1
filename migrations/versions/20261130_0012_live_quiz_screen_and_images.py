"""live quizzes: where players see the question, and question images

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 18:00:00.000000

``questions_on`` gets a server default so quizzes made before it keep today's
behaviour (questions on the players' own screens).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import studyhall.platform.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("live_quizzes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "questions_on", sa.String(length=16), server_default="players", nullable=False
            )
        )
    op.create_table(
        "live_quiz_images",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("created_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_live_quiz_images_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_quiz_images")),
    )
    op.create_index(op.f("ix_live_quiz_images_owner_id"), "live_quiz_images", ["owner_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_live_quiz_images_owner_id"), table_name="live_quiz_images")
    op.drop_table("live_quiz_images")
    with op.batch_alter_table("live_quizzes", schema=None) as batch_op:
        batch_op.drop_column("questions_on")
