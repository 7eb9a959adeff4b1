"""Payments tables: products, orders and their history, the money ledger, entitlements,
the webhook inbox, and the sandbox gateway's own sessions and event log.

Everything that must happen once has a unique key: one open order per (user,
product), one inbox row per (gateway, event id), one entitlement per paying order,
one ledger entry per (order, kind).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from studyhall.platform.db import Base, UtcDateTime

OPEN_ORDER_STATES = ("created", "pending")
_OPEN_ORDER_SQL = text("state IN ('created', 'pending')")


class Product(Base):
    """Something a student can buy: a course, a bundle of mock exams, or an all-access pass."""

    __tablename__ = "products"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # course | bundle | pass
    title: Mapped[str] = mapped_column(String(200))
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    course_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    # How long an entitlement lasts; None: for good (a pass always has one).
    duration_days: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ProductExam(Base):
    """An exam a bundle unlocks."""

    __tablename__ = "product_exams"

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    exam_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Order(Base):
    """One purchase attempt: created -> pending -> paid | failed | expired; paid -> refunded."""

    __tablename__ = "orders"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"), index=True)
    state: Mapped[str] = mapped_column(String(10))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    gateway: Mapped[str] = mapped_column(String(10))
    checkout_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    checkout_url: Mapped[str | None] = mapped_column(String(2000))
    payment_intent: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        # At most one open order per buyer and product: a second Buy joins the first.
        Index(
            "uq_orders_open_user_product",
            "user_id",
            "product_id",
            unique=True,
            sqlite_where=_OPEN_ORDER_SQL,
            postgresql_where=_OPEN_ORDER_SQL,
        ),
        Index("ix_orders_state_created_at", "state", "created_at"),
    )


class OrderEvent(Base):
    """One state transition of an order, never updated or deleted."""

    __tablename__ = "order_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str | None] = mapped_column(String(10))
    to_state: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    # checkout | webhook | reconcile | staff
    source: Mapped[str] = mapped_column(String(10))
    gateway_event_id: Mapped[str | None] = mapped_column(String(255))


class LedgerEntry(Base):
    """Money that moved: one payment and at most one refund per order."""

    __tablename__ = "payment_ledger"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # payment | refund
    # Positive for a payment, negative for a refund.
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    gateway_event_id: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("order_id", "kind"),)


class Entitlement(Base):
    """A user may use a product from ``starts_at`` until ``expires_at`` unless revoked.

    The row is its own audit trail: who or which order granted it, who or which refund
    revoked it, and why. Rows are never deleted; a new grant is a new row.
    """

    __tablename__ = "entitlements"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    granted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    grant_note: Mapped[str] = mapped_column(String(500), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    revoked_by_ledger_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_ledger.id"))
    revoke_note: Mapped[str] = mapped_column(String(500), default="")


class WebhookEvent(Base):
    """The inbox: every gateway event we accepted, once, and what applying it did."""

    __tablename__ = "payment_webhook_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    gateway: Mapped[str] = mapped_column(String(10))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # webhook | reconcile
    source: Mapped[str] = mapped_column(String(10))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # applied | ignored | parked (a refund waiting for its payment)
    outcome: Mapped[str | None] = mapped_column(String(10))
    payment_intent: Mapped[str | None] = mapped_column(String(255), index=True)

    __table_args__ = (UniqueConstraint("gateway", "event_id"),)


class SandboxSession(Base):
    """The sandbox gateway's checkout session (what Stripe would keep on its side)."""

    __tablename__ = "payment_sandbox_sessions"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    title: Mapped[str] = mapped_column(String(200))
    # open | complete | expired
    status: Mapped[str] = mapped_column(String(10))
    # unpaid | paid
    payment_status: Mapped[str] = mapped_column(String(10))
    payment_intent: Mapped[str] = mapped_column(String(255))
    success_url: Mapped[str] = mapped_column(String(2000))
    cancel_url: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SandboxEvent(Base):
    """An event the sandbox emitted, kept so reconciliation can list it like Stripe's."""

    __tablename__ = "payment_sandbox_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
