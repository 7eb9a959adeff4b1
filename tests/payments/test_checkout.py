"""Checkout through the sandbox gateway: idempotent, one open order, the order's history."""

from __future__ import annotations

import asyncio
import secrets

import httpx

from studyhall.platform.clock import FakeClock
from tests.helpers import Person
from tests.payments.conftest import SoldCourse, checkout, entitlements, order_of


async def _pay(
    client: httpx.AsyncClient, buyer: Person, checkout_id: str, **switches: object
) -> httpx.Response:
    return await client.post(
        f"/api/v1/payments/sandbox/{checkout_id}",
        json={"outcome": "pay", **switches},
        headers=buyer.headers,
    )


async def _my_orders(client: httpx.AsyncClient, person: Person) -> list[dict[str, object]]:
    listed = await client.get("/api/v1/payments/orders", headers=person.headers)
    assert listed.status_code == 200, listed.text
    orders: list[dict[str, object]] = listed.json()
    return orders


async def test_a_purchase_through_the_sandbox_grants_the_course(
    client: httpx.AsyncClient, sold_course: SoldCourse, student: Person, run_jobs, clock: FakeClock
) -> None:  # type: ignore[no-untyped-def]
    opened = await checkout(client, student, sold_course.product_id)
    assert opened.status_code == 201, opened.text
    checkout_id = opened.json()["checkoutId"]
    assert checkout_id.startswith("cs_")
    assert opened.json()["url"].endswith(f"/payments/sandbox/{checkout_id}")

    paid = await _pay(client, student, checkout_id)
    assert paid.status_code == 200, paid.text
    assert paid.json()["state"] == "pending", "nothing is granted before the webhook"
    assert await entitlements(client, student) == []
    await run_jobs()  # delivery -> webhook -> inbox -> apply

    assert [e["productId"] for e in await entitlements(client, student)] == [sold_course.product_id]
    lesson = await client.get(f"/api/v1/lessons/{sold_course.lesson_id}", headers=student.headers)
    assert lesson.status_code == 200
    order = await order_of(client, student, checkout_id)
    assert [(h["fromState"], h["toState"]) for h in order["history"]] == [
        (None, "created"),
        ("created", "pending"),
        ("pending", "paid"),
    ]
    assert [(e["kind"], e["amountMinor"]) for e in order["ledger"]] == [("payment", 1999)]
    again = await checkout(client, student, sold_course.product_id)
    assert again.status_code == 409
    assert again.json()["code"] == "already_entitled"
    closed = await _pay(client, student, checkout_id)
    assert closed.status_code == 409
    assert closed.json()["code"] == "checkout_closed"


async def test_a_retry_with_the_same_key_gets_the_same_checkout(
    client: httpx.AsyncClient, sold_course: SoldCourse, student: Person
) -> None:
    key = secrets.token_hex(8)
    first = await checkout(client, student, sold_course.product_id, key)
    second = await checkout(client, student, sold_course.product_id, key)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    other_body = await client.post(
        "/api/v1/payments/checkout",
        json={"productId": sold_course.course_id},
        headers={**student.headers, "Idempotency-Key": key},
    )
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "idempotency_key_reused"
    missing = await client.post(
        "/api/v1/payments/checkout",
        json={"productId": sold_course.product_id},
        headers=student.headers,
    )
    assert missing.status_code == 400
    assert missing.json()["code"] == "idempotency_key_required"
    assert len(await _my_orders(client, student)) == 1


async def test_a_hundred_concurrent_checkouts_with_one_key_make_one_order(
    client: httpx.AsyncClient, sold_course: SoldCourse, student: Person
) -> None:
    key = secrets.token_hex(8)
    answers = await asyncio.gather(
        *(checkout(client, student, sold_course.product_id, key) for _ in range(100))
    )
    statuses = {answer.status_code for answer in answers}
    assert statuses <= {201, 409}, statuses
    bodies = {answer.text for answer in answers if answer.status_code == 201}
    assert len(bodies) == 1
    in_flight = [a.json()["code"] for a in answers if a.status_code == 409]
    assert set(in_flight) <= {"idempotency_in_flight"}
    assert len(await _my_orders(client, student)) == 1


async def test_concurrent_checkouts_with_different_keys_share_one_open_order(
    client: httpx.AsyncClient, sold_course: SoldCourse, student: Person
) -> None:
    """Documented: while an order is open, another Buy returns its checkout."""
    answers = await asyncio.gather(
        *(checkout(client, student, sold_course.product_id) for _ in range(10))
    )
    assert all(answer.status_code == 201 for answer in answers), [a.text for a in answers]
    assert len({answer.json()["checkoutId"] for answer in answers}) == 1
    assert len(await _my_orders(client, student)) == 1


async def test_unknown_or_inactive_products_cannot_be_bought(
    client: httpx.AsyncClient, sold_course: SoldCourse, student: Person, admin: Person
) -> None:
    unknown = await checkout(client, student, sold_course.course_id)
    assert unknown.status_code == 404
    await client.patch(
        f"/api/v1/products/{sold_course.product_id}", json={"active": False}, headers=admin.headers
    )
    assert (await checkout(client, student, sold_course.product_id)).status_code == 404


async def test_orders_are_their_buyers_and_admins(
    client: httpx.AsyncClient,
    sold_course: SoldCourse,
    student: Person,
    teacher: Person,
    admin: Person,
) -> None:
    opened = await checkout(client, student, sold_course.product_id)
    status = await client.get(
        f"/api/v1/payments/checkouts/{opened.json()['checkoutId']}", headers=student.headers
    )
    order_id = status.json()["orderId"]
    for outsider in (teacher,):
        assert (
            await client.get(f"/api/v1/payments/orders/{order_id}", headers=outsider.headers)
        ).status_code == 404
        assert (
            await client.get(
                f"/api/v1/payments/checkouts/{opened.json()['checkoutId']}",
                headers=outsider.headers,
            )
        ).status_code == 404
        acted = await _pay(client, outsider, opened.json()["checkoutId"])
        assert acted.status_code == 404
    assert (
        await client.get("/api/v1/payments/orders?all=true", headers=student.headers)
    ).status_code == 403
    everyone = await client.get(
        "/api/v1/payments/orders?all=true&state=pending", headers=admin.headers
    )
    assert [o["id"] for o in everyone.json()] == [order_id]
    none_paid = await client.get(
        "/api/v1/payments/orders?all=true&state=paid", headers=admin.headers
    )
    assert none_paid.json() == []
    detail = await client.get(f"/api/v1/payments/orders/{order_id}", headers=admin.headers)
    assert detail.status_code == 200
