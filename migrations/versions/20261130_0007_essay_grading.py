"""essay grading: grades with their audit trail, rubrics

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 13:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import studyhall.platform.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exam_rubrics",
        sa.Column("exam_id", sa.Uuid(), nullable=False),
        sa.Column("question_id", sa.Uuid(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"],
            ["exams.id"],
            name=op.f("fk_exam_rubrics_exam_id_exams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"], ["questions.id"], name=op.f("fk_exam_rubrics_question_id_questions")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_exam_rubrics_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("exam_id", "question_id", name=op.f("pk_exam_rubrics")),
    )
    op.create_table(
        "essay_grades",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("question_id", sa.Uuid(), nullable=False),
        sa.Column("exam_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=False),
        sa.Column("rubric", sa.JSON(), nullable=True),
        sa.Column("grader_id", sa.Uuid(), nullable=False),
        sa.Column("graded_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"],
            ["exams.id"],
            name=op.f("fk_essay_grades_exam_id_exams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grader_id"], ["users.id"], name=op.f("fk_essay_grades_grader_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_essay_grades_session_id_exam_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "question_id", name=op.f("pk_essay_grades")),
    )
    with op.batch_alter_table("essay_grades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_essay_grades_exam_id"), ["exam_id"], unique=False)

    op.create_table(
        "essay_grade_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("question_id", sa.Uuid(), nullable=False),
        sa.Column("grader_id", sa.Uuid(), nullable=False),
        sa.Column("graded_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("previous_score", sa.Float(), nullable=True),
        sa.Column("previous_feedback", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=False),
        sa.Column("rubric", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["grader_id"], ["users.id"], name=op.f("fk_essay_grade_audit_grader_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_essay_grade_audit_session_id_exam_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_essay_grade_audit")),
    )
    with op.batch_alter_table("essay_grade_audit", schema=None) as batch_op:
        batch_op.create_index(
            "ix_essay_grade_audit_session_id_question_id",
            ["session_id", "question_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("essay_grade_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_essay_grade_audit_session_id_question_id")

    op.drop_table("essay_grade_audit")
    with op.batch_alter_table("essay_grades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_essay_grades_exam_id"))

    op.drop_table("essay_grades")
    op.drop_table("exam_rubrics")
