"""The sandbox gateway: our own hosted checkout that behaves like Stripe Checkout.

A session is a row (``cs_test_...``); the hosted page's buttons finish it (Pay, Decline,
Pay later) and emit Stripe-shaped events, which are kept in an event log (what
reconciliation lists) and delivered to our webhook by jobs, signed with Stripe's
scheme at delivery time, through the same verification as any gateway's. Switches
make delivery late, twice, out of order, or lost, so the real webhook paths are
exercised. Open sessions expire after an hour (``checkout.session.expired``).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.payments import repository
from studyhall.payments.gateways import (
    HANDLED_EVENTS,
    CheckoutRequest,
    CheckoutSession,
    webhook_secret,
)
from studyhall.payments.models import Order, SandboxSession
from studyhall.payments.schemas import SandboxActionIn
from studyhall.platform.auth import Actor
from studyhall.platform.errors import Conflict, NotFound
from studyhall.platform.jobs import JobContext, JobRegistry
from studyhall.platform.runtime import Platform

DELIVER_JOB = "payments.sandbox.deliver"
EXPIRE_JOB = "payments.sandbox.expire"
SESSION_TTL = timedelta(hours=1)
LATE_SECONDS = 120
PAY_LATER_SECONDS = 10
OUT_OF_ORDER_SECONDS = 5
API_VERSION = "2024-06-20"
PAGE_PATH = "/payments/sandbox"
NO_SWITCHES = SandboxActionIn(outcome="pay")


class CheckoutClosed(Conflict):
    code = "checkout_closed"
    title = "This checkout is already finished"


def _token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class SandboxGateway:
    name = "sandbox"

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def create_checkout(
        self, session: AsyncSession, request: CheckoutRequest
    ) -> CheckoutSession:
        now = self._platform.clock.now()
        row = SandboxSession(
            id=_token("cs_test"),
            order_id=request.order.id,
            amount_minor=request.order.amount_minor,
            currency=request.order.currency,
            title=request.product.title,
            status="open",
            payment_status="unpaid",
            payment_intent=_token("pi"),
            success_url=request.success_path,
            cancel_url=request.cancel_path,
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
        await repository.add_sandbox_session(session, row)
        await self._platform.enqueue(
            session,
            EXPIRE_JOB,
            {"sessionId": row.id},
            dedupe_key=f"{EXPIRE_JOB}:{row.id}",
            delay_seconds=SESSION_TTL.total_seconds(),
        )
        # The hosted page is on this site, so a path is the whole address.
        return CheckoutSession(id=row.id, url=f"{PAGE_PATH}/{row.id}")

    async def recent_events(self, session: AsyncSession, since: datetime) -> list[dict[str, Any]]:
        rows = await repository.sandbox_events_since(session, since, limit=1000)
        events = [json.loads(row.body) for row in rows]
        return [event for event in events if event["type"] in HANDLED_EVENTS]

    async def refund(self, session: AsyncSession, order: Order) -> None:
        row = await repository.sandbox_session(session, order.checkout_id or "")
        if row is None or row.payment_status != "paid":
            raise Conflict("Only a paid checkout can be refunded")
        charge = {
            "id": _token("ch"),
            "object": "charge",
            "amount": row.amount_minor,
            "amount_refunded": row.amount_minor,
            "currency": row.currency,
            "payment_intent": row.payment_intent,
            "refunded": True,
            "status": "succeeded",
        }
        await _emit(session, self._platform, [("charge.refunded", charge)], NO_SWITCHES)


async def checkout_page(session: AsyncSession, actor: Actor, checkout_id: str) -> SandboxSession:
    """The buyer's own sandbox session (anyone else: 404, like a missing one)."""
    row = await repository.sandbox_session(session, checkout_id)
    order = None if row is None else await repository.order_by_id(session, row.order_id)
    if row is None or order is None or order.user_id != actor.user_id:
        raise NotFound("No such checkout")
    return row


async def act(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    checkout_id: str,
    action: SandboxActionIn,
) -> SandboxSession:
    """Finish an open sandbox checkout the way the buyer chose; emit what Stripe would."""
    row = await checkout_page(session, actor, checkout_id)
    paid = action.outcome == "pay"
    if not await repository.finish_sandbox_session(
        session,
        row.id,
        from_status="open",
        values={"status": "complete", "payment_status": "paid" if paid else "unpaid"},
    ):
        raise CheckoutClosed()
    await session.refresh(row)
    emitted = [("checkout.session.completed", _session_object(row))]
    if action.outcome == "decline":
        emitted.append(("checkout.session.async_payment_failed", _session_object(row)))
    elif action.outcome == "later":
        settled = _session_object(row) | {"payment_status": "paid"}
        emitted.append(("checkout.session.async_payment_succeeded", settled))
        await repository.finish_sandbox_session(
            session, row.id, from_status="complete", values={"payment_status": "paid"}
        )
    await _emit(session, platform, emitted, action)
    return row


async def expire(session: AsyncSession, platform: Platform, checkout_id: str) -> None:
    if await repository.finish_sandbox_session(
        session, checkout_id, from_status="open", values={"status": "expired"}
    ):
        row = await repository.sandbox_session(session, checkout_id)
        if row is not None:
            await session.refresh(row)
            emitted = [("checkout.session.expired", _session_object(row))]
            await _emit(session, platform, emitted, NO_SWITCHES)


def _session_object(row: SandboxSession) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "checkout.session",
        "mode": "payment",
        "client_reference_id": str(row.order_id),
        "amount_total": row.amount_minor,
        "currency": row.currency,
        "status": row.status,
        "payment_status": row.payment_status,
        # Stripe creates the intent when the buyer pays; an expired session has none.
        "payment_intent": None if row.status == "expired" else row.payment_intent,
        "metadata": {"order_id": str(row.order_id)},
        "success_url": row.success_url,
        "cancel_url": row.cancel_url,
        "created": int(row.created_at.timestamp()),
        "expires_at": int(row.expires_at.timestamp()),
        "livemode": False,
    }


async def _emit(
    session: AsyncSession,
    platform: Platform,
    emitted: list[tuple[str, dict[str, Any]]],
    switches: SandboxActionIn,
) -> None:
    """Log the events and queue their deliveries as the switches say."""
    now = platform.clock.now()
    delays = [
        (LATE_SECONDS if switches.late else 0)
        + (PAY_LATER_SECONDS if kind == "checkout.session.async_payment_succeeded" else 0)
        for kind, _ in emitted
    ]
    if switches.out_of_order and len(delays) > 1:
        delays[0] = max(delays[1:]) + OUT_OF_ORDER_SECONDS  # the first event arrives last
    for (kind, obj), delay in zip(emitted, delays, strict=True):
        event_id = _token("evt")
        body = json.dumps(
            {
                "id": event_id,
                "object": "event",
                "api_version": API_VERSION,
                "created": int(now.timestamp()),
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": kind,
                "data": {"object": obj},
            }
        )
        await repository.add_sandbox_event(session, event_id, body, now)
        if switches.lost:
            continue
        for copy in range(2 if switches.twice else 1):
            await platform.enqueue(
                session,
                DELIVER_JOB,
                {"eventId": event_id},
                dedupe_key=f"{DELIVER_JOB}:{event_id}:{copy}",
                delay_seconds=delay,
            )


def signature_header(platform: Platform, body: str) -> str:
    """``Stripe-Signature`` for ``body`` now, made by the SDK exactly as Stripe makes it."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        body, webhook_secret(platform.settings), timestamp=int(platform.clock.timestamp())
    )
    return header


def register_jobs(registry: JobRegistry, platform: Platform) -> None:
    from studyhall.payments import webhooks

    async def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
        row = await repository.sandbox_event(ctx.session, payload["eventId"])
        if row is None:
            return
        header = signature_header(platform, row.body)
        await webhooks.receive(ctx.session, platform, row.body.encode(), header)

    async def expire_session(ctx: JobContext, payload: dict[str, Any]) -> None:
        await expire(ctx.session, platform, payload["sessionId"])

    registry.job(DELIVER_JOB)(deliver)
    registry.job(EXPIRE_JOB)(expire_session)
