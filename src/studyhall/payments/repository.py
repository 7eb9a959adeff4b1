"""All payments SQL. Writes that must happen once are conflict-free inserts on unique keys
or conditional updates that report whether they won."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.content.models import Course
from studyhall.exams.models import Exam
from studyhall.identity.models import User
from studyhall.payments.models import (
    OPEN_ORDER_STATES,
    Entitlement,
    LedgerEntry,
    Order,
    OrderEvent,
    Product,
    ProductExam,
    SandboxEvent,
    SandboxSession,
    WebhookEvent,
)
from studyhall.platform.ids import new_id


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


# --- products ----------------------------------------------------------------------------------


async def add_product(
    session: AsyncSession, product: Product, exam_ids: Sequence[uuid.UUID]
) -> None:
    session.add(product)
    await session.flush()
    await set_product_exams(session, product.id, exam_ids)


async def set_product_exams(
    session: AsyncSession, product_id: uuid.UUID, exam_ids: Sequence[uuid.UUID]
) -> None:
    await session.execute(delete(ProductExam).where(ProductExam.product_id == product_id))
    if exam_ids:
        await session.execute(
            _insert(session)(ProductExam).values(
                [{"product_id": product_id, "exam_id": exam_id} for exam_id in exam_ids]
            )
        )


async def product_by_id(session: AsyncSession, product_id: uuid.UUID) -> Product | None:
    return await session.get(Product, product_id)


async def exam_ids_of(
    session: AsyncSession, product_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await session.execute(
        select(ProductExam.product_id, ProductExam.exam_id)
        .where(ProductExam.product_id.in_(product_ids))
        .order_by(ProductExam.exam_id)
    )
    found: dict[uuid.UUID, list[uuid.UUID]] = {product_id: [] for product_id in product_ids}
    for product_id, exam_id in rows:
        found[product_id].append(exam_id)
    return found


async def list_products(session: AsyncSession, *, include_inactive: bool) -> Sequence[Product]:
    statement = select(Product).order_by(Product.created_at, Product.id)
    if not include_inactive:
        statement = statement.where(Product.active)
    return (await session.execute(statement)).scalars().all()


async def active_catalog(session: AsyncSession) -> list[tuple[Product, list[uuid.UUID]]]:
    products = await list_products(session, include_inactive=False)
    exams = await exam_ids_of(session, [product.id for product in products])
    return [(product, exams[product.id]) for product in products]


async def course_owner(session: AsyncSession, course_id: uuid.UUID) -> uuid.UUID | None:
    return (await session.execute(select(Course.owner_id).where(Course.id == course_id))).scalar()


async def exam_owners(
    session: AsyncSession, exam_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    statement = select(Exam.id, Exam.owner_id).where(Exam.id.in_(exam_ids))
    return {row.id: row.owner_id for row in await session.execute(statement)}


async def point_course_at_product(session: AsyncSession, course_id: uuid.UUID) -> None:
    """Keep ``courses.product_id`` (shown in the catalog) on the course's newest active
    course product, or none."""
    newest = (
        select(Product.id)
        .where(Product.course_id == course_id, Product.kind == "course", Product.active)
        .order_by(Product.created_at.desc(), Product.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    await session.execute(update(Course).where(Course.id == course_id).values(product_id=newest))


async def user_exists(session: AsyncSession, user_id: uuid.UUID) -> bool:
    return (await session.execute(select(User.id).where(User.id == user_id))).scalar() is not None


# --- entitlements ------------------------------------------------------------------------------


def _live(now: datetime) -> Any:
    return and_(
        Entitlement.revoked_at.is_(None),
        or_(Entitlement.expires_at.is_(None), Entitlement.expires_at > now),
    )


async def live_entitlements(
    session: AsyncSession, user_id: uuid.UUID, now: datetime
) -> Sequence[Row[Entitlement, str]]:
    statement = (
        select(Entitlement, Product.kind)
        .join(Product, Product.id == Entitlement.product_id)
        .where(Entitlement.user_id == user_id, _live(now))
    )
    return (await session.execute(statement)).all()


async def holds_product(
    session: AsyncSession, user_id: uuid.UUID, product_id: uuid.UUID, now: datetime
) -> bool:
    statement = select(Entitlement.id).where(
        Entitlement.user_id == user_id,
        Entitlement.product_id == product_id,
        Entitlement.starts_at <= now,
        _live(now),
    )
    return (await session.execute(statement.limit(1))).scalar() is not None


async def entitlements_of(
    session: AsyncSession, *, user_id: uuid.UUID | None, product_id: uuid.UUID | None = None
) -> Sequence[Entitlement]:
    statement = select(Entitlement).order_by(Entitlement.starts_at, Entitlement.id)
    if user_id is not None:
        statement = statement.where(Entitlement.user_id == user_id)
    if product_id is not None:
        statement = statement.where(Entitlement.product_id == product_id)
    return (await session.execute(statement.limit(1000))).scalars().all()


async def add_entitlement(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    """Insert unless the paying order already granted one; returns the new id or None."""
    statement = (
        _insert(session)(Entitlement)
        .values(id=new_id(), **values)
        .on_conflict_do_nothing()
        .returning(Entitlement.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def entitlement_by_id(session: AsyncSession, entitlement_id: uuid.UUID) -> Entitlement | None:
    return await session.get(Entitlement, entitlement_id)


async def revoke_entitlement(
    session: AsyncSession, entitlement_id: uuid.UUID, values: dict[str, Any]
) -> bool:
    """Revoke once; False when it already was."""
    statement = (
        update(Entitlement)
        .where(Entitlement.id == entitlement_id, Entitlement.revoked_at.is_(None))
        .values(**values)
        .returning(Entitlement.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def revoke_order_entitlement(
    session: AsyncSession, order_id: uuid.UUID, now: datetime, ledger_id: uuid.UUID
) -> None:
    await session.execute(
        update(Entitlement)
        .where(Entitlement.order_id == order_id, Entitlement.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_ledger_id=ledger_id, revoke_note="refunded")
        .execution_options(synchronize_session=False)
    )


# --- orders ------------------------------------------------------------------------------------


async def insert_open_order(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert an open order; False when the buyer already has one for the product."""
    statement = (
        _insert(session)(Order).values(**values).on_conflict_do_nothing().returning(Order.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def open_order(
    session: AsyncSession, user_id: uuid.UUID, product_id: uuid.UUID
) -> Order | None:
    statement = select(Order).where(
        Order.user_id == user_id,
        Order.product_id == product_id,
        Order.state.in_(OPEN_ORDER_STATES),
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def order_by_id(session: AsyncSession, order_id: uuid.UUID) -> Order | None:
    return await session.get(Order, order_id, populate_existing=True)


async def order_by_checkout(session: AsyncSession, checkout_id: str) -> Order | None:
    return (
        await session.execute(
            select(Order)
            .where(Order.checkout_id == checkout_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def order_by_intent(session: AsyncSession, gateway: str, intent: str) -> Order | None:
    statement = (
        select(Order)
        .where(Order.gateway == gateway, Order.payment_intent == intent)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement.limit(1))).scalar_one_or_none()


async def set_checkout(
    session: AsyncSession, order_id: uuid.UUID, checkout_id: str, url: str
) -> None:
    await session.execute(
        update(Order)
        .where(Order.id == order_id)
        .values(checkout_id=checkout_id, checkout_url=url)
        .execution_options(synchronize_session=False)
    )


async def move_order(
    session: AsyncSession,
    order_id: uuid.UUID,
    *,
    allowed: Sequence[str],
    to_state: str,
    now: datetime,
    source: str,
    gateway_event_id: str | None,
) -> str | None:
    """Move the order to ``to_state`` if it is in one of ``allowed``; record nothing else.

    Returns the state it left, or None when it was not in ``allowed`` (nothing written).
    The UPDATE is conditional on the state just read, so of concurrent movers exactly
    one wins and the others read again.
    """
    while True:
        current = (await session.execute(select(Order.state).where(Order.id == order_id))).scalar()
        if current is None or current not in allowed:
            return None
        statement = (
            update(Order)
            .where(Order.id == order_id, Order.state == current)
            .values(state=to_state, updated_at=now)
            .returning(Order.id)
            .execution_options(synchronize_session=False)
        )
        if (await session.execute(statement)).scalar_one_or_none() is not None:
            await add_order_event(
                session,
                {
                    "order_id": order_id,
                    "from_state": current,
                    "to_state": to_state,
                    "at": now,
                    "source": source,
                    "gateway_event_id": gateway_event_id,
                },
            )
            return str(current)


async def add_order_event(session: AsyncSession, values: dict[str, Any]) -> None:
    session.add(OrderEvent(id=new_id(), **values))


async def set_payment_intent(session: AsyncSession, order_id: uuid.UUID, intent: str) -> None:
    await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.payment_intent.is_(None))
        .values(payment_intent=intent)
        .execution_options(synchronize_session=False)
    )


async def order_history(session: AsyncSession, order_id: uuid.UUID) -> Sequence[OrderEvent]:
    statement = (
        select(OrderEvent)
        .where(OrderEvent.order_id == order_id)
        .order_by(OrderEvent.at, OrderEvent.id)
    )
    return (await session.execute(statement)).scalars().all()


async def list_orders(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    state: str | None,
    product_id: uuid.UUID | None,
    limit: int,
    offset: int,
    order_id: uuid.UUID | None = None,
) -> Sequence[Row[Order, str, str]]:
    """Orders with their product's title and their buyer's email, newest first."""
    statement = (
        select(Order, Product.title, User.email)
        .join(Product, Product.id == Order.product_id)
        .join(User, User.id == Order.user_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit)
        .offset(offset)
        .execution_options(populate_existing=True)
    )
    if order_id is not None:
        statement = statement.where(Order.id == order_id)
    if user_id is not None:
        statement = statement.where(Order.user_id == user_id)
    if state is not None:
        statement = statement.where(Order.state == state)
    if product_id is not None:
        statement = statement.where(Order.product_id == product_id)
    return (await session.execute(statement)).all()


async def product_title(session: AsyncSession, product_id: uuid.UUID) -> str:
    return str(
        (await session.execute(select(Product.title).where(Product.id == product_id))).scalar()
    )


# --- ledger ------------------------------------------------------------------------------------


async def add_ledger_entry(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    statement = (
        _insert(session)(LedgerEntry)
        .values(id=new_id(), **values)
        .on_conflict_do_nothing()
        .returning(LedgerEntry.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def ledger_of(session: AsyncSession, order_id: uuid.UUID) -> Sequence[LedgerEntry]:
    statement = select(LedgerEntry).where(LedgerEntry.order_id == order_id).order_by(LedgerEntry.at)
    return (await session.execute(statement)).scalars().all()


# --- webhook inbox -----------------------------------------------------------------------------


async def insert_inbox(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    """Store an event once per (gateway, event id); returns the new row's id or None."""
    statement = (
        _insert(session)(WebhookEvent)
        .values(id=new_id(), **values)
        .on_conflict_do_nothing(index_elements=[WebhookEvent.gateway, WebhookEvent.event_id])
        .returning(WebhookEvent.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def claim_inbox(
    session: AsyncSession, inbox_id: uuid.UUID, now: datetime
) -> WebhookEvent | None:
    """Mark the event applied; only the first caller gets it back (the others: None)."""
    statement = (
        update(WebhookEvent)
        .where(WebhookEvent.id == inbox_id, WebhookEvent.applied_at.is_(None))
        .values(applied_at=now)
        .returning(WebhookEvent)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def set_outcome(
    session: AsyncSession, inbox_id: uuid.UUID, outcome: str, payment_intent: str | None
) -> None:
    await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == inbox_id)
        .values(outcome=outcome, payment_intent=payment_intent)
        .execution_options(synchronize_session=False)
    )


async def parked_refund(session: AsyncSession, gateway: str, intent: str) -> WebhookEvent | None:
    statement = select(WebhookEvent).where(
        WebhookEvent.gateway == gateway,
        WebhookEvent.payment_intent == intent,
        WebhookEvent.outcome == "parked",
    )
    return (await session.execute(statement.limit(1))).scalar_one_or_none()


async def known_event_ids(
    session: AsyncSession, gateway: str, event_ids: Sequence[str]
) -> set[str]:
    if not event_ids:
        return set()
    rows = await session.execute(
        select(WebhookEvent.event_id).where(
            WebhookEvent.gateway == gateway, WebhookEvent.event_id.in_(event_ids)
        )
    )
    return set(rows.scalars())


async def inbox_count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(WebhookEvent))).scalar_one())


# --- sandbox gateway ---------------------------------------------------------------------------


async def add_sandbox_session(session: AsyncSession, row: SandboxSession) -> None:
    session.add(row)
    await session.flush()


async def sandbox_session(session: AsyncSession, session_id: str) -> SandboxSession | None:
    return await session.get(SandboxSession, session_id)


async def sandbox_session_by_intent(session: AsyncSession, intent: str) -> SandboxSession | None:
    statement = select(SandboxSession).where(SandboxSession.payment_intent == intent)
    return (await session.execute(statement)).scalar_one_or_none()


async def finish_sandbox_session(
    session: AsyncSession, session_id: str, *, from_status: str, values: dict[str, Any]
) -> bool:
    statement = (
        update(SandboxSession)
        .where(SandboxSession.id == session_id, SandboxSession.status == from_status)
        .values(**values)
        .returning(SandboxSession.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def add_sandbox_event(session: AsyncSession, event_id: str, body: str, now: datetime) -> None:
    session.add(SandboxEvent(id=event_id, body=body, created_at=now))


async def sandbox_event(session: AsyncSession, event_id: str) -> SandboxEvent | None:
    return await session.get(SandboxEvent, event_id)


async def sandbox_events_since(
    session: AsyncSession, since: datetime, limit: int
) -> Sequence[SandboxEvent]:
    statement = (
        select(SandboxEvent)
        .where(SandboxEvent.created_at >= since)
        .order_by(SandboxEvent.created_at, SandboxEvent.id)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()
