"""People, a sold course and helpers the payments tests share (both deployments)."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import stripe

from studyhall.payments.gateways import webhook_secret
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.runtime import Platform
from tests.content.helpers import add_lesson, create_course, post_video
from tests.helpers import Person, make_person

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8


@pytest.fixture
async def admin(platform: Platform) -> Person:
    return await make_person(platform, Role.ADMIN)


@pytest.fixture
async def teacher(platform: Platform) -> Person:
    return await make_person(platform, Role.TEACHER)


@pytest.fixture
async def student(platform: Platform) -> Person:
    return await make_person(platform, Role.STUDENT)


@dataclass(frozen=True)
class SoldCourse:
    course_id: str
    lesson_id: str
    product_id: str


async def create_product(client: httpx.AsyncClient, admin: Person, **fields: Any) -> dict[str, Any]:
    body = {"title": "Premium", "priceMinor": 1999, "currency": "EUR", **fields}
    created = await client.post("/api/v1/products", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    product: dict[str, Any] = created.json()
    return product


@pytest.fixture
async def sold_course(client: httpx.AsyncClient, teacher: Person, admin: Person) -> SoldCourse:
    """A published course with a video lesson, sold as a course product."""
    course = await create_course(client, teacher, published=True)
    video = await post_video(client, teacher, VIDEO)
    assert video.status_code == 201, video.text
    lesson = await add_lesson(client, teacher, course["id"], videoId=video.json()["id"])
    product = await create_product(client, admin, kind="course", courseId=course["id"])
    return SoldCourse(course["id"], lesson["id"], product["id"])


async def checkout(
    client: httpx.AsyncClient, buyer: Person, product_id: str, key: str | None = None
) -> httpx.Response:
    return await client.post(
        "/api/v1/payments/checkout",
        json={"productId": product_id},
        headers={**buyer.headers, "Idempotency-Key": key or secrets.token_hex(8)},
    )


def event_body(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> str:
    """A Stripe-shaped event, as Stripe would post it."""
    return json.dumps(
        {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": 1,
            "livemode": False,
            "type": event_type,
            "data": {"object": obj},
        }
    )


def session_object(checkout_id: str, payment_status: str, intent: str | None) -> dict[str, Any]:
    return {
        "id": checkout_id,
        "object": "checkout.session",
        "status": "complete",
        "payment_status": payment_status,
        "payment_intent": intent,
    }


def refund_object(intent: str) -> dict[str, Any]:
    return {
        "id": f"ch_{secrets.token_hex(8)}",
        "object": "charge",
        "payment_intent": intent,
        "refunded": True,
    }


def sign(platform: Platform, clock: FakeClock, body: str, *, age: int = 0) -> str:
    """``Stripe-Signature`` made by the SDK's own helper, offline, at our clock's time."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        body, webhook_secret(platform.settings), timestamp=int(clock.timestamp()) - age
    )
    return header


async def deliver(
    client: httpx.AsyncClient, platform: Platform, clock: FakeClock, body: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/payments/webhook",
        content=body.encode(),
        headers={
            "Stripe-Signature": sign(platform, clock, body),
            "content-type": "application/json",
        },
    )


async def entitlements(client: httpx.AsyncClient, person: Person) -> list[dict[str, Any]]:
    listed = await client.get("/api/v1/me/entitlements", headers=person.headers)
    assert listed.status_code == 200, listed.text
    found: list[dict[str, Any]] = listed.json()
    return found


async def order_of(client: httpx.AsyncClient, person: Person, checkout_id: str) -> dict[str, Any]:
    status = await client.get(f"/api/v1/payments/checkouts/{checkout_id}", headers=person.headers)
    assert status.status_code == 200, status.text
    detail = await client.get(
        f"/api/v1/payments/orders/{status.json()['orderId']}", headers=person.headers
    )
    assert detail.status_code == 200, detail.text
    found: dict[str, Any] = detail.json()
    return found


def new_uuid() -> str:
    return str(uuid.uuid4())
