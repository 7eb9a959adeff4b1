"""Wire types of the payments API (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

ProductKind = Literal["course", "bundle", "pass"]
OrderState = Literal["created", "pending", "paid", "failed", "expired", "refunded"]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
Note = Annotated[str, msgspec.Meta(max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")]
# ISO 4217 code, any case on the way in; stored lower case like Stripe.
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}$")]
# Stripe's ceiling for an amount in minor units (eight digits).
PriceMinor = Annotated[int, msgspec.Meta(ge=0, le=99_999_999)]
DurationDays = Annotated[int, msgspec.Meta(ge=1, le=3650)]
ExamIds = Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=500)]


class ProductIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    kind: ProductKind
    title: Title
    price_minor: PriceMinor
    currency: Currency
    course_id: uuid.UUID | None = None
    exam_ids: ExamIds | None = None
    duration_days: DurationDays | None = None
    active: bool = True


class ProductPatch(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Only the fields sent change; what a product unlocks (its kind, course) does not."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    price_minor: PriceMinor | msgspec.UnsetType = msgspec.UNSET
    currency: Currency | msgspec.UnsetType = msgspec.UNSET
    exam_ids: ExamIds | msgspec.UnsetType = msgspec.UNSET
    duration_days: DurationDays | msgspec.UnsetType | None = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class ProductOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    kind: str
    title: str
    price_minor: int
    currency: str
    course_id: uuid.UUID | None
    exam_ids: list[uuid.UUID]
    duration_days: int | None
    active: bool
    created_at: datetime
    updated_at: datetime


class ProductToBuy(msgspec.Struct, rename="camel"):
    """What a 402 offers: enough to show a price and a Buy button."""

    id: uuid.UUID
    kind: str
    title: str
    price_minor: int
    currency: str


class MyEntitlementOut(msgspec.Struct, rename="camel"):
    """The contract's shape for ``GET /api/v1/me/entitlements``."""

    product_id: uuid.UUID
    granted_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class EntitlementOut(msgspec.Struct, rename="camel"):
    """The staff view: who or what granted and revoked it."""

    id: uuid.UUID
    user_id: uuid.UUID
    product_id: uuid.UUID
    granted_at: datetime
    expires_at: datetime | None
    order_id: uuid.UUID | None
    granted_by: uuid.UUID | None
    grant_note: str
    revoked_at: datetime | None
    revoked_by: uuid.UUID | None
    revoked_by_ledger_id: uuid.UUID | None
    revoke_note: str


class GrantIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    user_id: uuid.UUID
    product_id: uuid.UUID
    note: Note
    expires_at: datetime | None = None


class RevokeIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    note: Note


class CheckoutIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    product_id: uuid.UUID


class CheckoutOut(msgspec.Struct, rename="camel"):
    checkout_id: str
    url: str


class CheckoutStatusOut(msgspec.Struct, rename="camel"):
    """What the return page polls: the order's state and whether access is there yet."""

    checkout_id: str
    order_id: uuid.UUID
    product_id: uuid.UUID
    state: str
    entitled: bool


class OrderEventOut(msgspec.Struct, rename="camel"):
    from_state: str | None
    to_state: str
    at: datetime
    source: str
    gateway_event_id: str | None


class LedgerEntryOut(msgspec.Struct, rename="camel"):
    kind: str
    amount_minor: int
    currency: str
    at: datetime


class OrderOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    user_id: uuid.UUID
    product_id: uuid.UUID
    product_title: str
    buyer_email: str
    state: str
    amount_minor: int
    currency: str
    gateway: str
    checkout_id: str | None
    created_at: datetime
    updated_at: datetime


class OrderDetailOut(msgspec.Struct, rename="camel"):
    order: OrderOut
    history: list[OrderEventOut]
    ledger: list[LedgerEntryOut]


class WebhookAck(msgspec.Struct, rename="camel"):
    received: bool
    duplicate: bool


class SandboxActionIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """The sandbox page's buttons and delivery switches."""

    outcome: Literal["pay", "decline", "later"]
    late: bool = False
    twice: bool = False
    out_of_order: bool = False
    # The webhook never arrives: only reconciliation can learn of the payment.
    lost: bool = False


class ReconcileOut(msgspec.Struct, rename="camel"):
    seen: int
    applied: int
