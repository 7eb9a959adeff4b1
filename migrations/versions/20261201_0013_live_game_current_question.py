"""live games: the question opened last, with its server start time

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 00:20:00.000000

A game rebuilt after Redis lost it goes on from the question that was open, answered
or not (``live/rebuild.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("live_games", schema=None) as batch_op:
        batch_op.add_column(sa.Column("question_index", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("question_started_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("live_games", schema=None) as batch_op:
        batch_op.drop_column("question_started_ms")
        batch_op.drop_column("question_index")
