"""Signed webhooks: verified, stored once, applied once, converging whatever the order."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from studyhall.payments.models import Entitlement, LedgerEntry, Order, Product, WebhookEvent
from studyhall.payments.webhooks import schedule_reconcile
from studyhall.platform.clock import FakeClock
from studyhall.platform.runtime import Platform
from tests.helpers import Person
from tests.payments.conftest import (
    SoldCourse,
    checkout,
    deliver,
    entitlements,
    event_body,
    order_of,
    refund_object,
    session_object,
    sign,
)


async def _count(platform: Platform, model: Any) -> int:
    async with platform.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _open(client: httpx.AsyncClient, buyer: Person, product_id: str) -> str:
    opened = await checkout(client, buyer, product_id)
    assert opened.status_code == 201, opened.text
    checkout_id: str = opened.json()["checkoutId"]
    return checkout_id


async def test_one_event_delivered_twenty_times_at_once_grants_once(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    sold_course: SoldCourse,
    student: Person,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    checkout_id = await _open(client, student, sold_course.product_id)
    body = event_body("checkout.session.completed", session_object(checkout_id, "paid", "pi_1"))
    answers = await asyncio.gather(*(deliver(client, platform, clock, body) for _ in range(20)))
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    assert sum(not answer.json()["duplicate"] for answer in answers) == 1
    await run_jobs()
    assert await _count(platform, WebhookEvent) == 1
    assert await _count(platform, Entitlement) == 1
    assert await _count(platform, LedgerEntry) == 1
    assert len(await entitlements(client, student)) == 1
    again = await deliver(client, platform, clock, body)
    assert again.json() == {"received": True, "duplicate": True}
    await run_jobs()
    assert await _count(platform, Entitlement) == 1


async def test_completed_and_async_succeeded_for_one_order_grant_once(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    sold_course: SoldCourse,
    student: Person,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    checkout_id = await _open(client, student, sold_course.product_id)
    paid = session_object(checkout_id, "paid", "pi_2")
    bodies = [
        event_body("checkout.session.completed", paid),
        event_body("checkout.session.async_payment_succeeded", paid),
    ]
    await asyncio.gather(*(deliver(client, platform, clock, body) for body in bodies))
    await run_jobs()
    assert await _count(platform, Entitlement) == 1
    assert await _count(platform, LedgerEntry) == 1


async def test_a_refund_before_its_payment_ends_refunded_without_access(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    sold_course: SoldCourse,
    student: Person,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    checkout_id = await _open(client, student, sold_course.product_id)
    refund = event_body("charge.refunded", refund_object("pi_3"))
    assert (await deliver(client, platform, clock, refund)).status_code == 200
    await run_jobs()
    completed = event_body(
        "checkout.session.completed", session_object(checkout_id, "paid", "pi_3")
    )
    assert (await deliver(client, platform, clock, completed)).status_code == 200
    await run_jobs()

    order = await order_of(client, student, checkout_id)
    assert order["order"]["state"] == "refunded"
    assert [h["toState"] for h in order["history"]][-2:] == ["paid", "refunded"]
    assert [(e["kind"], e["amountMinor"]) for e in order["ledger"]] == [
        ("payment", 1999),
        ("refund", -1999),
    ]
    assert await entitlements(client, student) == []
    lesson = await client.get(f"/api/v1/lessons/{sold_course.lesson_id}", headers=student.headers)
    assert lesson.status_code == 402


async def test_a_refund_after_payment_revokes_and_keeps_the_history(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    sold_course: SoldCourse,
    student: Person,
    admin: Person,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    checkout_id = await _open(client, student, sold_course.product_id)
    paid = await client.post(
        f"/api/v1/payments/sandbox/{checkout_id}", json={"outcome": "pay"}, headers=student.headers
    )
    assert paid.status_code == 200
    await run_jobs()
    lesson = f"/api/v1/lessons/{sold_course.lesson_id}"
    assert (await client.get(lesson, headers=student.headers)).status_code == 200
    order_id = (await order_of(client, student, checkout_id))["order"]["id"]
    refused = await client.post(
        f"/api/v1/payments/orders/{order_id}/refund", headers=student.headers
    )
    assert refused.status_code == 403
    refunded = await client.post(
        f"/api/v1/payments/orders/{order_id}/refund", headers=admin.headers
    )
    assert refunded.status_code == 200, refunded.text
    await run_jobs()

    assert (await client.get(lesson, headers=student.headers)).status_code == 402
    mine = await entitlements(client, student)
    assert len(mine) == 1
    assert mine[0]["revokedAt"] is not None, "revoked, not deleted"
    order = await order_of(client, student, checkout_id)
    assert order["order"]["state"] == "refunded"
    twice = await client.post(f"/api/v1/payments/orders/{order_id}/refund", headers=admin.headers)
    assert twice.status_code == 409
    assert twice.json()["code"] == "not_refundable"
    # Bought again after a refund: a new order, a new entitlement.
    assert (await checkout(client, student, sold_course.product_id)).status_code == 201


async def test_bad_signatures_and_bodies_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    sold_course: SoldCourse,
    student: Person,
) -> None:
    checkout_id = await _open(client, student, sold_course.product_id)
    body = event_body("checkout.session.completed", session_object(checkout_id, "paid", "pi_4"))
    forged = sign(platform, clock, body).rsplit("=", 1)[0] + "=" + "0" * 64
    cases = {
        "missing": {},
        "forged": {"Stripe-Signature": forged},
        "stale": {"Stripe-Signature": sign(platform, clock, body, age=301)},
        "garbage": {"Stripe-Signature": "nonsense"},
        "other body": {"Stripe-Signature": sign(platform, clock, body + " ")},
    }
    for name, headers in cases.items():
        refused = await client.post(
            "/api/v1/payments/webhook", content=body.encode(), headers=headers
        )
        assert refused.status_code == 400, name
        assert refused.json()["code"] == "bad_signature", name
    for broken in ("{not json", '{"id": "evt_1"}', '["list"]'):
        refused = await client.post(
            "/api/v1/payments/webhook",
            content=broken.encode(),
            headers={"Stripe-Signature": sign(platform, clock, broken)},
        )
        assert refused.status_code == 400, broken
    assert await _count(platform, WebhookEvent) == 0
    fresh = await client.post(
        "/api/v1/payments/webhook",
        content=body.encode(),
        headers={"Stripe-Signature": sign(platform, clock, body, age=299)},
    )
    assert fresh.status_code == 200


async def test_decline_fails_and_pay_later_settles_later(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    sold_course: SoldCourse,
    student: Person,
    admin: Person,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    declined = await _open(client, student, sold_course.product_id)
    await client.post(
        f"/api/v1/payments/sandbox/{declined}", json={"outcome": "decline"}, headers=student.headers
    )
    await run_jobs()
    assert (await order_of(client, student, declined))["order"]["state"] == "failed"

    later = await _open(client, student, sold_course.product_id)
    assert later != declined, "a failed order is closed; a new Buy opens a new one"
    await client.post(
        f"/api/v1/payments/sandbox/{later}",
        json={"outcome": "later", "outOfOrder": True, "twice": True},
        headers=student.headers,
    )
    await run_jobs()
    assert (await order_of(client, student, later))["order"]["state"] == "pending"
    clock.advance(60)
    await run_jobs()
    order = await order_of(client, student, later)
    assert order["order"]["state"] == "paid"
    assert len(await entitlements(client, student)) == 1
    async with platform.sessions() as session:
        stored = await session.execute(select(WebhookEvent.outcome))
        assert sorted(str(o) for o in stored.scalars()) == ["applied"] * 4


async def test_an_abandoned_checkout_expires(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    sold_course: SoldCourse,
    student: Person,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    checkout_id = await _open(client, student, sold_course.product_id)
    clock.advance(3601)
    await run_jobs()
    assert (await order_of(client, student, checkout_id))["order"]["state"] == "expired"
    late_pay = await client.post(
        f"/api/v1/payments/sandbox/{checkout_id}", json={"outcome": "pay"}, headers=student.headers
    )
    assert late_pay.status_code == 409


async def test_a_lost_webhook_is_reconciled_exactly_once(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    sold_course: SoldCourse,
    student: Person,
    admin: Person,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    checkout_id = await _open(client, student, sold_course.product_id)
    await client.post(
        f"/api/v1/payments/sandbox/{checkout_id}",
        json={"outcome": "pay", "lost": True},
        headers=student.headers,
    )
    await run_jobs()
    assert await entitlements(client, student) == [], "the webhook never came"

    await schedule_reconcile(platform)  # what a worker process does when it starts
    clock.advance(300)
    await run_jobs()  # the periodic reconciliation is due
    assert len(await entitlements(client, student)) == 1
    assert (await order_of(client, student, checkout_id))["order"]["state"] == "paid"
    again = await client.post("/api/v1/payments/reconcile", headers=admin.headers)
    assert again.status_code == 200
    assert again.json()["applied"] == 0
    assert await _count(platform, Entitlement) == 1
    assert await _count(platform, LedgerEntry) == 1
    refused = await client.post("/api/v1/payments/reconcile", headers=student.headers)
    assert refused.status_code == 403


async def test_late_and_repeated_sandbox_deliveries_converge(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    sold_course: SoldCourse,
    student: Person,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    checkout_id = await _open(client, student, sold_course.product_id)
    await client.post(
        f"/api/v1/payments/sandbox/{checkout_id}",
        json={"outcome": "pay", "late": True, "twice": True},
        headers=student.headers,
    )
    await run_jobs()
    assert await entitlements(client, student) == []
    clock.advance(120)
    await run_jobs()
    assert len(await entitlements(client, student)) == 1
    assert await _count(platform, WebhookEvent) == 1
    assert await _count(platform, LedgerEntry) == 1


async def test_events_for_unknown_checkouts_are_acknowledged_and_ignored(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    body = event_body(
        "checkout.session.completed", session_object(f"cs_{secrets.token_hex(4)}", "paid", None)
    )
    assert (await deliver(client, platform, clock, body)).status_code == 200
    other = event_body("customer.created", {"id": "cus_1"})
    assert (await deliver(client, platform, clock, other)).status_code == 200
    await run_jobs()
    async with platform.sessions() as session:
        outcomes = (await session.execute(select(WebhookEvent.outcome))).scalars().all()
    assert sorted(str(o) for o in outcomes) == ["ignored", "ignored"]


async def test_a_storm_of_a_thousand_deliveries_has_exactly_two_hundred_effects(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    admin: Person,
    student: Person,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    """200 paid checkouts, each event delivered 5 times, 50 deliveries in flight at once."""
    now = clock.now()
    checkouts = []
    async with platform.sessions() as session, session.begin():
        for index in range(200):
            product = Product(
                id=uuid.uuid4(),
                kind="pass",
                title=f"Pass {index}",
                price_minor=100,
                currency="usd",
                duration_days=30,
                active=True,
                created_by=admin.id,
                created_at=now,
                updated_at=now,
            )
            session.add(product)
            await session.flush()
            checkout_id = f"cs_storm_{index}"
            session.add(
                Order(
                    id=uuid.uuid4(),
                    user_id=student.id,
                    product_id=product.id,
                    state="pending",
                    amount_minor=100,
                    currency="usd",
                    gateway="sandbox",
                    checkout_id=checkout_id,
                    created_at=now,
                    updated_at=now,
                )
            )
            checkouts.append(checkout_id)
    bodies = [
        event_body("checkout.session.completed", session_object(cs, "paid", f"pi_{cs}"))
        for cs in checkouts
    ]
    deliveries = [body for body in bodies for _ in range(5)]
    random.Random(7).shuffle(deliveries)
    gate = asyncio.Semaphore(50)

    async def one(body: str) -> int:
        async with gate:
            return (await deliver(client, platform, clock, body)).status_code

    started = time.perf_counter()
    statuses = await asyncio.gather(*(one(body) for body in deliveries))
    received = time.perf_counter() - started
    assert set(statuses) == {200}
    started = time.perf_counter()
    await run_jobs()
    applied = time.perf_counter() - started
    print(  # the figure the issue asks for; never asserted
        f"\n1000 deliveries acknowledged in {received:.2f} s ({1000 / received:.0f}/s), "
        f"200 applied in {applied:.2f} s"
    )
    assert await _count(platform, WebhookEvent) == 200
    assert await _count(platform, Entitlement) == 200
    assert await _count(platform, LedgerEntry) == 200


async def test_the_contracts_minimal_event_grants(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    sold_course: SoldCourse,
    student: Person,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    """Exactly the shape ARCHITECTURE.md promises outside checks, nothing more."""
    checkout_id = await _open(client, student, sold_course.product_id)
    body = json.dumps(
        {
            "id": "evt_contract",
            "type": "checkout.session.completed",
            "data": {"object": {"id": checkout_id, "payment_status": "paid"}},
        }
    )
    assert (await deliver(client, platform, clock, body)).status_code == 200
    await run_jobs()
    assert [e["productId"] for e in await entitlements(client, student)] == [sold_course.product_id]
