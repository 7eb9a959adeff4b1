"""integrity signals and suspicion reports

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 13:00:00.000000

Suspicion reports are computed on demand from these signals and the answer journal,
so only the signals need a table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import studyhall.platform.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "integrity_signals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("client_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("received_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_integrity_signals_session_id_exam_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrity_signals")),
    )
    with op.batch_alter_table("integrity_signals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_integrity_signals_session_id_kind", ["session_id", "kind"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("integrity_signals", schema=None) as batch_op:
        batch_op.drop_index("ix_integrity_signals_session_id_kind")

    op.drop_table("integrity_signals")
