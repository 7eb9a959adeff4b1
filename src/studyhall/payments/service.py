"""Payments rules: products, entitlements, checkout, orders. No HTTP here; nothing commits.

Admins manage products and see every order. Teachers and admins grant and revoke
entitlements by hand (a teacher only for products made of their own course or exams;
passes are for admins). A buyer sees their own orders; anyone else's is a 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.payments import access, repository
from studyhall.payments.gateways import CheckoutRequest, gateway_for
from studyhall.payments.models import Entitlement, Order, Product
from studyhall.payments.schemas import (
    CheckoutIn,
    CheckoutOut,
    CheckoutStatusOut,
    EntitlementOut,
    GrantIn,
    LedgerEntryOut,
    MyEntitlementOut,
    OrderDetailOut,
    OrderEventOut,
    OrderOut,
    ProductIn,
    ProductOut,
    ProductPatch,
    RevokeIn,
)
from studyhall.platform.auth import Actor, Role, require_role, require_staff
from studyhall.platform.errors import Conflict, InvalidInput, NotFound
from studyhall.platform.ids import new_id
from studyhall.platform.runtime import Platform

RETURN_PATH = "/payments/return"


class AlreadyEntitled(Conflict):
    code = "already_entitled"
    title = "You already have this product"


class InvalidProduct(InvalidInput):
    code = "invalid_product"
    title = "The product does not fit its kind"


class AlreadyRevoked(Conflict):
    code = "already_revoked"
    title = "This entitlement is already revoked"


class NotRefundable(Conflict):
    code = "not_refundable"
    title = "Only a paid order can be refunded"


# --- products ----------------------------------------------------------------------------------


def _product_out(product: Product, exam_ids: Sequence[uuid.UUID]) -> ProductOut:
    return ProductOut(
        id=product.id,
        kind=product.kind,
        title=product.title,
        price_minor=product.price_minor,
        currency=product.currency,
        course_id=product.course_id,
        exam_ids=list(exam_ids),
        duration_days=product.duration_days,
        active=product.active,
        created_at=product.created_at,
        updated_at=product.updated_at,
    )


async def _check_shape(
    session: AsyncSession,
    kind: str,
    course_id: uuid.UUID | None,
    exam_ids: Sequence[uuid.UUID] | None,
    duration_days: int | None,
) -> None:
    """A course product names a course, a bundle its exams, a pass its duration; nothing else."""
    if (kind == "course") != (course_id is not None):
        raise InvalidProduct("A course product, and only a course product, names a courseId")
    if (kind == "bundle") != bool(exam_ids):
        raise InvalidProduct("A bundle, and only a bundle, lists examIds")
    if kind == "pass" and duration_days is None:
        raise InvalidProduct("A pass needs durationDays")
    if course_id is not None and await repository.course_owner(session, course_id) is None:
        raise InvalidProduct("No such course")
    if exam_ids:
        found = await repository.exam_owners(session, exam_ids)
        if len(found) != len(set(exam_ids)):
            raise InvalidProduct("Some of the examIds name no exam")


async def create_product(
    session: AsyncSession, platform: Platform, actor: Actor, data: ProductIn
) -> ProductOut:
    require_role(actor, Role.ADMIN)
    await _check_shape(session, data.kind, data.course_id, data.exam_ids, data.duration_days)
    now = platform.clock.now()
    exam_ids = sorted(set(data.exam_ids or []))
    product = Product(
        id=new_id(),
        kind=data.kind,
        title=data.title.strip(),
        price_minor=data.price_minor,
        currency=data.currency.lower(),
        course_id=data.course_id,
        duration_days=data.duration_days,
        active=data.active,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    await repository.add_product(session, product, exam_ids)
    if product.course_id is not None:
        await repository.point_course_at_product(session, product.course_id)
    access.invalidate_after_commit(session, platform, [access.CATALOG_KEY])
    return _product_out(product, exam_ids)


async def update_product(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    product_id: uuid.UUID,
    data: ProductPatch,
) -> ProductOut:
    require_role(actor, Role.ADMIN)
    product = await repository.product_by_id(session, product_id)
    if product is None:
        raise NotFound("No such product")
    changes = {
        name: value
        for name, value in msgspec.structs.asdict(data).items()
        if value is not msgspec.UNSET and name != "exam_ids"
    }
    if "currency" in changes:
        changes["currency"] = changes["currency"].lower()
    if "title" in changes:
        changes["title"] = changes["title"].strip()
    for name, value in changes.items():
        setattr(product, name, value)
    exam_ids = (await repository.exam_ids_of(session, [product.id]))[product.id]
    if data.exam_ids is not msgspec.UNSET:
        exam_ids = sorted(set(data.exam_ids))
    await _check_shape(session, product.kind, product.course_id, exam_ids, product.duration_days)
    if data.exam_ids is not msgspec.UNSET:
        await repository.set_product_exams(session, product.id, exam_ids)
    product.updated_at = platform.clock.now()
    await session.flush()
    if product.course_id is not None:
        await repository.point_course_at_product(session, product.course_id)
    access.invalidate_after_commit(session, platform, [access.CATALOG_KEY])
    return _product_out(product, exam_ids)


async def list_products(
    session: AsyncSession, actor: Actor | None, *, include_inactive: bool
) -> list[ProductOut]:
    """Active products for everyone; inactive ones too for admins who ask."""
    everything = include_inactive and actor is not None and actor.is_admin
    products = await repository.list_products(session, include_inactive=everything)
    exams = await repository.exam_ids_of(session, [product.id for product in products])
    return [_product_out(product, exams[product.id]) for product in products]


async def product_detail(
    session: AsyncSession, actor: Actor | None, product_id: uuid.UUID
) -> ProductOut:
    product = await repository.product_by_id(session, product_id)
    if product is None or not (product.active or (actor is not None and actor.is_admin)):
        raise NotFound("No such product")
    exams = await repository.exam_ids_of(session, [product.id])
    return _product_out(product, exams[product.id])


# --- entitlements ------------------------------------------------------------------------------


def _entitlement_out(entitlement: Entitlement) -> EntitlementOut:
    return EntitlementOut(
        id=entitlement.id,
        user_id=entitlement.user_id,
        product_id=entitlement.product_id,
        granted_at=entitlement.starts_at,
        expires_at=entitlement.expires_at,
        order_id=entitlement.order_id,
        granted_by=entitlement.granted_by,
        grant_note=entitlement.grant_note,
        revoked_at=entitlement.revoked_at,
        revoked_by=entitlement.revoked_by,
        revoked_by_ledger_id=entitlement.revoked_by_ledger_id,
        revoke_note=entitlement.revoke_note,
    )


async def my_entitlements(session: AsyncSession, actor: Actor) -> list[MyEntitlementOut]:
    rows = await repository.entitlements_of(session, user_id=actor.user_id)
    return [
        MyEntitlementOut(row.product_id, row.starts_at, row.expires_at, row.revoked_at)
        for row in rows
    ]


async def _product_to_manage(session: AsyncSession, actor: Actor, product_id: uuid.UUID) -> Product:
    """A product whose entitlements ``actor`` may grant: admins any, a teacher only one made
    of their own course or exams (anything else is reported missing)."""
    require_staff(actor)
    product = await repository.product_by_id(session, product_id)
    if product is None:
        raise NotFound("No such product")
    if actor.is_admin:
        return product
    if product.course_id is not None:
        owners = {await repository.course_owner(session, product.course_id)}
    else:
        exam_ids = (await repository.exam_ids_of(session, [product.id]))[product.id]
        owners = set((await repository.exam_owners(session, exam_ids)).values()) or {None}
    if owners != {actor.user_id}:
        raise NotFound("No such product")
    return product


async def grant(
    session: AsyncSession, platform: Platform, actor: Actor, data: GrantIn
) -> EntitlementOut:
    """A manual grant (a scholarship, a comp): audited by who, when and why."""
    product = await _product_to_manage(session, actor, data.product_id)
    if not await repository.user_exists(session, data.user_id):
        raise NotFound("No such user")
    now = platform.clock.now()
    expires_at = data.expires_at
    if expires_at is None and product.duration_days is not None:
        expires_at = now + timedelta(days=product.duration_days)
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("expiresAt must be in the future")
    entitlement_id = await repository.add_entitlement(
        session,
        {
            "user_id": data.user_id,
            "product_id": product.id,
            "starts_at": now,
            "expires_at": expires_at,
            "order_id": None,
            "granted_by": actor.user_id,
            "grant_note": data.note,
        },
    )
    assert entitlement_id is not None  # no order, so no unique key to meet
    access.invalidate_after_commit(session, platform, [access.entitlements_key(data.user_id)])
    entitlement = await repository.entitlement_by_id(session, entitlement_id)
    assert entitlement is not None
    return _entitlement_out(entitlement)


async def revoke(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    entitlement_id: uuid.UUID,
    data: RevokeIn,
) -> EntitlementOut:
    entitlement = await repository.entitlement_by_id(session, entitlement_id)
    if entitlement is None:
        require_staff(actor)
        raise NotFound("No such entitlement")
    await _product_to_manage(session, actor, entitlement.product_id)
    values = {
        "revoked_at": platform.clock.now(),
        "revoked_by": actor.user_id,
        "revoke_note": data.note,
    }
    if not await repository.revoke_entitlement(session, entitlement.id, values):
        raise AlreadyRevoked()
    access.invalidate_after_commit(
        session, platform, [access.entitlements_key(entitlement.user_id)]
    )
    await session.refresh(entitlement)
    return _entitlement_out(entitlement)


async def list_entitlements(
    session: AsyncSession, actor: Actor, *, user_id: uuid.UUID | None, product_id: uuid.UUID | None
) -> list[EntitlementOut]:
    """Staff: entitlements by user or product (a teacher: only of their own products)."""
    require_staff(actor)
    if product_id is not None:
        await _product_to_manage(session, actor, product_id)
    elif not actor.is_admin:
        raise InvalidInput("Name a productId of yours")
    rows = await repository.entitlements_of(session, user_id=user_id, product_id=product_id)
    return [_entitlement_out(row) for row in rows]


# --- checkout and orders -----------------------------------------------------------------------


async def checkout(
    session: AsyncSession, platform: Platform, actor: Actor, data: CheckoutIn
) -> CheckoutOut:
    """A checkout for an active product the buyer does not hold yet.

    While the buyer has an open order for the product, a second checkout (another tab,
    another key) returns that order's checkout instead of opening a second one.
    """
    product = await repository.product_by_id(session, data.product_id)
    if product is None or not product.active:
        raise NotFound("No such product")
    now = platform.clock.now()
    if await repository.holds_product(session, actor.user_id, product.id, now):
        raise AlreadyEntitled()
    gateway = gateway_for(platform)
    order_id = new_id()
    values = {
        "id": order_id,
        "user_id": actor.user_id,
        "product_id": product.id,
        "state": "created",
        "amount_minor": product.price_minor,
        "currency": product.currency,
        "gateway": gateway.name,
        "created_at": now,
        "updated_at": now,
    }
    if not await repository.insert_open_order(session, values):
        existing = await repository.open_order(session, actor.user_id, product.id)
        if existing is None or existing.checkout_id is None:
            raise Conflict("A checkout for this product is being opened; retry in a moment")
        return CheckoutOut(existing.checkout_id, existing.checkout_url or "")
    await repository.add_order_event(
        session,
        {
            "order_id": order_id,
            "from_state": None,
            "to_state": "created",
            "at": now,
            "source": "checkout",
        },
    )
    order = await repository.order_by_id(session, order_id)
    assert order is not None
    created = await gateway.create_checkout(
        session,
        CheckoutRequest(
            order=order,
            product=product,
            buyer_email=actor.email,
            success_path=f"{RETURN_PATH}?checkout={{CHECKOUT_SESSION_ID}}",
            cancel_path=f"/products/{product.id}",
        ),
    )
    await repository.set_checkout(session, order_id, created.id, created.url)
    await repository.move_order(
        session,
        order_id,
        allowed=("created",),
        to_state="pending",
        now=now,
        source="checkout",
        gateway_event_id=None,
    )
    return CheckoutOut(created.id, created.url)


def _order_out(order: Order, title: str, email: str) -> OrderOut:
    return OrderOut(
        id=order.id,
        user_id=order.user_id,
        product_id=order.product_id,
        product_title=title,
        buyer_email=email,
        state=order.state,
        amount_minor=order.amount_minor,
        currency=order.currency,
        gateway=order.gateway,
        checkout_id=order.checkout_id,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


async def list_orders(
    session: AsyncSession,
    actor: Actor,
    *,
    everyone: bool,
    state: str | None,
    user_id: uuid.UUID | None,
    product_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> list[OrderOut]:
    """Your own orders; with ``everyone`` (admins only) anyone's, filtered."""
    if everyone:
        require_role(actor, Role.ADMIN)
    else:
        user_id = actor.user_id
    rows = await repository.list_orders(
        session, user_id=user_id, state=state, product_id=product_id, limit=limit, offset=offset
    )
    return [_order_out(order, title, email) for order, title, email in rows]


async def _order_for(session: AsyncSession, actor: Actor, order_id: uuid.UUID) -> Order:
    order = await repository.order_by_id(session, order_id)
    if order is None or not (actor.is_admin or order.user_id == actor.user_id):
        raise NotFound("No such order")
    return order


async def order_detail(session: AsyncSession, actor: Actor, order_id: uuid.UUID) -> OrderDetailOut:
    """An order with its state history and its ledger (the receipt)."""
    order = await _order_for(session, actor, order_id)
    history = await repository.order_history(session, order.id)
    ledger = await repository.ledger_of(session, order.id)
    found = await repository.list_orders(
        session, order_id=order.id, user_id=None, state=None, product_id=None, limit=1, offset=0
    )
    return OrderDetailOut(
        order=_order_out(*found[0]),
        history=[
            OrderEventOut(e.from_state, e.to_state, e.at, e.source, e.gateway_event_id)
            for e in history
        ],
        ledger=[LedgerEntryOut(e.kind, e.amount_minor, e.currency, e.at) for e in ledger],
    )


async def checkout_status(
    session: AsyncSession, platform: Platform, actor: Actor, checkout_id: str
) -> CheckoutStatusOut:
    """What the return page polls until the purchase is usable."""
    order = await repository.order_by_checkout(session, checkout_id)
    if order is None or order.user_id != actor.user_id:
        raise NotFound("No such checkout")
    entitled = await repository.holds_product(
        session, actor.user_id, order.product_id, platform.clock.now()
    )
    return CheckoutStatusOut(checkout_id, order.id, order.product_id, order.state, entitled)


async def request_refund(
    session: AsyncSession, platform: Platform, actor: Actor, order_id: uuid.UUID
) -> OrderDetailOut:
    """Ask the gateway to refund a paid order; its ``charge.refunded`` event revokes access."""
    require_role(actor, Role.ADMIN)
    order = await _order_for(session, actor, order_id)
    if order.state != "paid" or order.gateway != platform.settings.payments_gateway:
        raise NotRefundable()
    await gateway_for(platform).refund(session, order)
    return await order_detail(session, actor, order_id)
