"""payments: products, orders and their history, ledger, entitlements, webhook inbox, sandbox

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 17:00:00.000000

One open order per (user, product) is a partial unique index (state created or
pending), which both engines support.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import studyhall.platform.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_sandbox_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_sandbox_events")),
    )
    with op.batch_alter_table("payment_sandbox_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_sandbox_events_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "payment_webhook_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("gateway", sa.String(length=10), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("received_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("applied_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("payment_intent", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_webhook_events")),
        sa.UniqueConstraint(
            "gateway", "event_id", name=op.f("uq_payment_webhook_events_gateway_event_id")
        ),
    )
    with op.batch_alter_table("payment_webhook_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_webhook_events_payment_intent"), ["payment_intent"], unique=False
        )

    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=True),
        sa.Column("duration_days", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_products_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_products_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_products_course_id"), ["course_id"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("gateway", sa.String(length=10), nullable=False),
        sa.Column("checkout_id", sa.String(length=255), nullable=True),
        sa.Column("checkout_url", sa.String(length=2000), nullable=True),
        sa.Column("payment_intent", sa.String(length=255), nullable=True),
        sa.Column("created_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_orders_product_id_products")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_orders_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("checkout_id", name=op.f("uq_orders_checkout_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_payment_intent"), ["payment_intent"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_orders_product_id"), ["product_id"], unique=False)
        batch_op.create_index("ix_orders_state_created_at", ["state", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_orders_open_user_product",
            ["user_id", "product_id"],
            unique=True,
            sqlite_where=sa.text("state IN ('created', 'pending')"),
            postgresql_where=sa.text("state IN ('created', 'pending')"),
        )

    op.create_table(
        "product_exams",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("exam_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"],
            ["exams.id"],
            name=op.f("fk_product_exams_exam_id_exams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_exams_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "exam_id", name=op.f("pk_product_exams")),
    )
    with op.batch_alter_table("product_exams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_product_exams_exam_id"), ["exam_id"], unique=False)

    op.create_table(
        "order_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("from_state", sa.String(length=10), nullable=True),
        sa.Column("to_state", sa.String(length=10), nullable=False),
        sa.Column("at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("gateway_event_id", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_events_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_events_order_id"), ["order_id"], unique=False)

    op.create_table(
        "payment_ledger",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("gateway_event_id", sa.String(length=255), nullable=False),
        sa.Column("at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_payment_ledger_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_ledger")),
        sa.UniqueConstraint("order_id", "kind", name=op.f("uq_payment_ledger_order_id_kind")),
    )
    op.create_table(
        "payment_sandbox_sessions",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("payment_status", sa.String(length=10), nullable=False),
        sa.Column("payment_intent", sa.String(length=255), nullable=False),
        sa.Column("success_url", sa.String(length=2000), nullable=False),
        sa.Column("cancel_url", sa.String(length=2000), nullable=False),
        sa.Column("created_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_payment_sandbox_sessions_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_sandbox_sessions")),
    )
    op.create_table(
        "entitlements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("granted_by", sa.Uuid(), nullable=True),
        sa.Column("grant_note", sa.String(length=500), nullable=False),
        sa.Column("revoked_at", studyhall.platform.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Uuid(), nullable=True),
        sa.Column("revoked_by_ledger_id", sa.Uuid(), nullable=True),
        sa.Column("revoke_note", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["users.id"], name=op.f("fk_entitlements_granted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_entitlements_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_entitlements_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["users.id"], name=op.f("fk_entitlements_revoked_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_ledger_id"],
            ["payment_ledger.id"],
            name=op.f("fk_entitlements_revoked_by_ledger_id_payment_ledger"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_entitlements_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlements")),
        sa.UniqueConstraint("order_id", name=op.f("uq_entitlements_order_id")),
    )
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_entitlements_product_id"), ["product_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_entitlements_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entitlements_user_id"))
        batch_op.drop_index(batch_op.f("ix_entitlements_product_id"))

    op.drop_table("entitlements")
    op.drop_table("payment_sandbox_sessions")
    op.drop_table("payment_ledger")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_events_order_id"))

    op.drop_table("order_events")
    with op.batch_alter_table("product_exams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_exams_exam_id"))

    op.drop_table("product_exams")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_orders_open_user_product",
            sqlite_where=sa.text("state IN ('created', 'pending')"),
            postgresql_where=sa.text("state IN ('created', 'pending')"),
        )
        batch_op.drop_index(batch_op.f("ix_orders_user_id"))
        batch_op.drop_index("ix_orders_state_created_at")
        batch_op.drop_index(batch_op.f("ix_orders_product_id"))
        batch_op.drop_index(batch_op.f("ix_orders_payment_intent"))

    op.drop_table("orders")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_course_id"))

    op.drop_table("products")
    with op.batch_alter_table("payment_webhook_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_webhook_events_payment_intent"))

    op.drop_table("payment_webhook_events")
    with op.batch_alter_table("payment_sandbox_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_sandbox_events_created_at"))

    op.drop_table("payment_sandbox_events")
