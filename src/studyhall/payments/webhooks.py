"""Gateway events: verified, stored once in the inbox, applied once, in any order.

Receive
    The signature is checked against the raw body with the SDK's
    ``stripe.Webhook.construct_event`` (both gateways sign the same way); its age is
    judged by our clock (300 s either way). A verified event is inserted into the
    inbox, unique on (gateway, event id), and an apply job is queued in the same
    transaction; a repeat delivery inserts nothing and queues nothing.

Apply (exactly once)
    Applying starts with a conditional UPDATE that stamps ``applied_at`` only where it
    is still empty, so of the job and a reconciliation racing for one event exactly one
    goes on. The order moves by conditional UPDATEs (``repository.move_order``); the
    entitlement is unique per paying order and the ledger per (order, kind), so even
    two different events meaning "paid" (completed and async_payment_succeeded) grant
    and book once.

Order (convergence)
    Every transition is monotone: paid, failed and expired only leave created/pending,
    refunded only leaves paid, so late events that would go backwards are ignored. A
    refund that arrives before its payment is parked (its payment intent recorded);
    the payment that arrives later finds it, books both, and grants nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.payments import access, repository
from studyhall.payments.gateways import gateway_for, webhook_secret
from studyhall.payments.models import Order, WebhookEvent
from studyhall.payments.schemas import ReconcileOut, WebhookAck
from studyhall.platform import jobs
from studyhall.platform.clock import Clock
from studyhall.platform.errors import DomainError, MalformedBody
from studyhall.platform.jobs import JobContext, JobRegistry
from studyhall.platform.runtime import Platform

logger = logging.getLogger("studyhall.payments")

APPLY_JOB = "payments.apply_event"
RECONCILE_JOB = "payments.reconcile"
RECONCILE_INTERVAL_SECONDS = 300
# Stripe retries a webhook for three days; further back the inbox has it or never will.
RECONCILE_LOOKBACK = timedelta(days=3)
TOLERANCE_SECONDS = 300
_PAID_STATUSES = ("paid", "no_payment_required")


class BadSignature(DomainError):
    status = 400
    code = "bad_signature"
    title = "The webhook signature is missing, wrong or too old"


def verify(secret: str, clock: Clock, body: bytes, header: str | None) -> dict[str, Any]:
    """The event in ``body`` if ``header`` signs it with ``secret`` recently; else 400."""
    try:
        event = stripe.Webhook.construct_event(body, header, secret, tolerance=0)
    except stripe.SignatureVerificationError as exc:
        raise BadSignature() from exc
    except (ValueError, AttributeError) as exc:  # signed, but not a JSON object (or UTF-8)
        raise MalformedBody("The event is not a JSON object") from exc
    # The SDK judges age by the wall clock; the server's clock is the only clock here.
    if abs(clock.timestamp() - _signed_at(str(header))) > TOLERANCE_SECONDS:
        raise BadSignature("The signature is older than 300 seconds")
    payload: dict[str, Any] = event.to_dict()
    obj = payload.get("data", {}).get("object") if isinstance(payload.get("data"), dict) else None
    if not isinstance(payload.get("id"), str) or not isinstance(payload.get("type"), str):
        raise MalformedBody("An event needs an id and a type")
    if not isinstance(obj, dict):
        raise MalformedBody("An event needs data.object")
    return payload


def _signed_at(header: str) -> int:
    """The ``t=`` of a header the SDK already parsed and accepted."""
    stamps = [
        value for key, _, value in (item.partition("=") for item in header.split(",")) if key == "t"
    ]
    return int(stamps[0])


async def receive(
    session: AsyncSession, platform: Platform, body: bytes, header: str | None
) -> WebhookAck:
    event = verify(webhook_secret(platform.settings), platform.clock, body, header)
    inbox_id = await store(session, platform, event, source="webhook")
    if inbox_id is not None:
        await platform.enqueue(
            session, APPLY_JOB, {"inboxId": str(inbox_id)}, dedupe_key=f"{APPLY_JOB}:{inbox_id}"
        )
    return WebhookAck(received=True, duplicate=inbox_id is None)


async def store(
    session: AsyncSession, platform: Platform, event: dict[str, Any], *, source: str
) -> uuid.UUID | None:
    """Put the event in the inbox; None when (gateway, event id) is already there."""
    return await repository.insert_inbox(
        session,
        {
            "gateway": platform.settings.payments_gateway,
            "event_id": event["id"],
            "type": event["type"],
            "payload": event,
            "source": source,
            "received_at": platform.clock.now(),
        },
    )


async def apply(session: AsyncSession, platform: Platform, inbox_id: uuid.UUID) -> None:
    now = platform.clock.now()
    row = await repository.claim_inbox(session, inbox_id, now)
    if row is None:
        return  # applied already
    obj: dict[str, Any] = row.payload["data"]["object"]
    intent = obj.get("payment_intent") if isinstance(obj.get("payment_intent"), str) else None
    if row.type.startswith("checkout.session."):
        outcome = await _apply_session_event(session, platform, row, obj, intent)
    elif row.type == "charge.refunded":
        outcome = await _apply_refund(session, platform, row, obj, intent)
    else:
        outcome = "ignored"
    await repository.set_outcome(session, row.id, outcome, intent)


async def _apply_session_event(
    session: AsyncSession,
    platform: Platform,
    row: WebhookEvent,
    obj: dict[str, Any],
    intent: str | None,
) -> str:
    order = await repository.order_by_checkout(session, str(obj.get("id")))
    if order is None or order.gateway != row.gateway:
        logger.warning("event %s names an unknown checkout", row.event_id)
        return "ignored"
    if intent is not None:
        await repository.set_payment_intent(session, order.id, intent)
    now = platform.clock.now()
    source = row.source
    if row.type == "checkout.session.completed":
        if obj.get("payment_status") in _PAID_STATUSES:
            return await _mark_paid(session, platform, order, row, intent)
        return "applied"  # paid later (or never): async_payment_* will say
    if row.type == "checkout.session.async_payment_succeeded":
        return await _mark_paid(session, platform, order, row, intent)
    target = {
        "checkout.session.async_payment_failed": "failed",
        "checkout.session.expired": "expired",
    }.get(row.type)
    if target is None:
        return "ignored"
    moved = await repository.move_order(
        session,
        order.id,
        allowed=("created", "pending"),
        to_state=target,
        now=now,
        source=source,
        gateway_event_id=row.event_id,
    )
    return "ignored" if moved is None else "applied"


async def _mark_paid(
    session: AsyncSession, platform: Platform, order: Order, row: WebhookEvent, intent: str | None
) -> str:
    now = platform.clock.now()
    moved = await repository.move_order(
        session,
        order.id,
        allowed=("created", "pending"),
        to_state="paid",
        now=now,
        source=row.source,
        gateway_event_id=row.event_id,
    )
    if moved is None:
        return "ignored"
    await repository.add_ledger_entry(
        session,
        {
            "order_id": order.id,
            "kind": "payment",
            "amount_minor": order.amount_minor,
            "currency": order.currency,
            "gateway_event_id": row.event_id,
            "at": now,
        },
    )
    parked = (
        None if intent is None else await repository.parked_refund(session, row.gateway, intent)
    )
    if parked is not None:
        await _mark_refunded(session, platform, order, parked)
        await repository.set_outcome(session, parked.id, "applied", intent)
        return "applied"
    product = await repository.product_by_id(session, order.product_id)
    days = product.duration_days if product is not None else None
    await repository.add_entitlement(
        session,
        {
            "user_id": order.user_id,
            "product_id": order.product_id,
            "starts_at": now,
            "expires_at": None if days is None else now + timedelta(days=days),
            "order_id": order.id,
            "grant_note": "purchase",
        },
    )
    access.invalidate_after_commit(session, platform, [access.entitlements_key(order.user_id)])
    return "applied"


async def _apply_refund(
    session: AsyncSession,
    platform: Platform,
    row: WebhookEvent,
    obj: dict[str, Any],
    intent: str | None,
) -> str:
    if obj.get("refunded") is not True:
        return "ignored"  # a partial refund keeps access (documented)
    order = (
        None if intent is None else await repository.order_by_intent(session, row.gateway, intent)
    )
    if order is None or order.state in ("created", "pending"):
        return "parked" if intent is not None else "ignored"
    if order.state != "paid":
        return "ignored"
    await _mark_refunded(session, platform, order, row)
    return "applied"


async def _mark_refunded(
    session: AsyncSession, platform: Platform, order: Order, row: WebhookEvent
) -> None:
    now = platform.clock.now()
    moved = await repository.move_order(
        session,
        order.id,
        allowed=("paid",),
        to_state="refunded",
        now=now,
        source=row.source,
        gateway_event_id=row.event_id,
    )
    if moved is None:
        return
    ledger_id = await repository.add_ledger_entry(
        session,
        {
            "order_id": order.id,
            "kind": "refund",
            "amount_minor": -order.amount_minor,
            "currency": order.currency,
            "gateway_event_id": row.event_id,
            "at": now,
        },
    )
    if ledger_id is not None:
        await repository.revoke_order_entitlement(session, order.id, now, ledger_id)
    access.invalidate_after_commit(session, platform, [access.entitlements_key(order.user_id)])


async def reconcile(session: AsyncSession, platform: Platform) -> ReconcileOut:
    """Apply, in the caller's transaction, recent gateway events the inbox lacks."""
    since: datetime = platform.clock.now() - RECONCILE_LOOKBACK
    events = await gateway_for(platform).recent_events(session, since)
    gateway = platform.settings.payments_gateway
    known = await repository.known_event_ids(session, gateway, [event["id"] for event in events])
    applied = 0
    for event in events:
        if event["id"] in known:
            continue
        inbox_id = await store(session, platform, event, source="reconcile")
        if inbox_id is not None:
            await apply(session, platform, inbox_id)
            applied += 1
    if applied:
        logger.warning("reconciliation applied %d events the webhook had not delivered", applied)
    return ReconcileOut(seen=len(events), applied=applied)


async def schedule_reconcile(platform: Platform) -> None:
    """Queue the next periodic reconciliation (one per interval, however many ask)."""
    try:
        async with platform.sessions() as session, session.begin():
            await _enqueue_next_reconcile(session, platform)
    except Exception:
        logger.warning("could not schedule payments reconciliation", exc_info=True)


async def _enqueue_next_reconcile(session: AsyncSession, platform: Platform) -> None:
    interval = RECONCILE_INTERVAL_SECONDS
    slot = int((platform.clock.timestamp() + interval) // interval)
    await jobs.enqueue(
        session,
        platform.clock,
        RECONCILE_JOB,
        {},
        dedupe_key=f"{RECONCILE_JOB}:{slot}",
        delay_seconds=interval,
    )


def register_jobs(registry: JobRegistry, platform: Platform) -> None:
    async def apply_event(ctx: JobContext, payload: dict[str, Any]) -> None:
        await apply(ctx.session, platform, uuid.UUID(payload["inboxId"]))

    async def reconcile_now(ctx: JobContext, payload: dict[str, Any]) -> None:
        await reconcile(ctx.session, platform)
        await _enqueue_next_reconcile(ctx.session, platform)

    registry.job(APPLY_JOB)(apply_event)
    registry.job(RECONCILE_JOB)(reconcile_now)
