"""The stripe gateway through the official SDK, with an HTTP client that never leaves the
process: sessions are created with our idempotency key, events are listed for
reconciliation, refunds asked for, and webhooks verified with the SDK's signature."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe

from studyhall.config import Settings
from studyhall.payments import gateways
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
    session_object,
)


class FakeStripeApi(stripe.HTTPClient):
    """Answers the three Stripe endpoints the gateway uses, and remembers every request."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str, dict[str, list[str]], Mapping[str, str]]] = []
        self.events: list[dict[str, Any]] = []
        self.sessions = 0

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        parts = urlsplit(url)
        form = parse_qs(post_data.decode() if isinstance(post_data, bytes) else post_data or "")
        self.requests.append((method, parts.path, form | parse_qs(parts.query), headers))
        body: dict[str, Any]
        if method == "post" and parts.path == "/v1/checkout/sessions":
            self.sessions += 1
            session_id = f"cs_test_fake{self.sessions}"
            body = {
                "id": session_id,
                "object": "checkout.session",
                "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            }
        elif method == "get" and parts.path == "/v1/events":
            body = {"object": "list", "url": "/v1/events", "has_more": False, "data": self.events}
        elif method == "post" and parts.path == "/v1/refunds":
            body = {"id": "re_fake", "object": "refund", "status": "succeeded"}
        else:
            return b'{"error": {"message": "unknown"}}', 404, {}
        return json.dumps(body).encode(), 200, {"request-id": "req_fake"}

    async def close_async(self) -> None:
        return None


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(
        payments_gateway="stripe", stripe_api_key="sk_test_fake", webhook_secret="whsec_fake"
    )


@pytest.fixture
def fake_stripe(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripeApi]:
    fake = FakeStripeApi()
    monkeypatch.setattr(gateways, "stripe_http_client", lambda: fake)
    gateways._stripe_gateway.cache_clear()
    yield fake
    gateways._stripe_gateway.cache_clear()


async def test_checkout_creates_a_stripe_session_once_per_order(
    fake_stripe: FakeStripeApi,
    client: httpx.AsyncClient,
    sold_course: SoldCourse,
    student: Person,
) -> None:
    opened = await checkout(client, student, sold_course.product_id)
    assert opened.status_code == 201, opened.text
    assert opened.json() == {
        "checkoutId": "cs_test_fake1",
        "url": "https://checkout.stripe.com/c/pay/cs_test_fake1",
    }
    method, path, form, headers = fake_stripe.requests[0]
    order_id = (await order_of(client, student, "cs_test_fake1"))["order"]["id"]
    assert (method, path) == ("post", "/v1/checkout/sessions")
    assert headers["Idempotency-Key"] == f"studyhall-checkout-{order_id}"
    assert headers["Authorization"] == "Bearer sk_test_fake"
    assert form["line_items[0][price_data][unit_amount]"] == ["1999"]
    assert form["line_items[0][price_data][currency]"] == ["eur"]
    assert form["client_reference_id"] == [order_id]
    assert form["success_url"][0].endswith("/payments/return?checkout={CHECKOUT_SESSION_ID}")


async def test_a_signed_stripe_event_grants_and_a_refund_goes_to_stripe(
    fake_stripe: FakeStripeApi,
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    sold_course: SoldCourse,
    student: Person,
    admin: Person,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    opened = await checkout(client, student, sold_course.product_id)
    checkout_id = opened.json()["checkoutId"]
    body = event_body("checkout.session.completed", session_object(checkout_id, "paid", "pi_s1"))
    sandbox_secret = stripe.WebhookSignature.generate_signature_header(
        body, "whsec_other", timestamp=int(clock.timestamp())
    )
    forged = await client.post(
        "/api/v1/payments/webhook", content=body, headers={"Stripe-Signature": sandbox_secret}
    )
    assert forged.status_code == 400
    assert (await deliver(client, platform, clock, body)).status_code == 200
    await run_jobs()
    assert len(await entitlements(client, student)) == 1

    order_id = (await order_of(client, student, checkout_id))["order"]["id"]
    refunded = await client.post(
        f"/api/v1/payments/orders/{order_id}/refund", headers=admin.headers
    )
    assert refunded.status_code == 200, refunded.text
    method, path, form, headers = fake_stripe.requests[-1]
    assert (method, path, form["payment_intent"]) == ("post", "/v1/refunds", ["pi_s1"])
    assert headers["Idempotency-Key"] == f"studyhall-refund-{order_id}"


async def test_reconciliation_lists_stripe_events_and_applies_the_missing_once(
    fake_stripe: FakeStripeApi,
    client: httpx.AsyncClient,
    sold_course: SoldCourse,
    student: Person,
    admin: Person,
) -> None:
    opened = await checkout(client, student, sold_course.product_id)
    checkout_id = opened.json()["checkoutId"]
    completed = json.loads(
        event_body("checkout.session.completed", session_object(checkout_id, "paid", "pi_s2"))
    )
    fake_stripe.events = [completed | {"created": int(time.time())}]
    first = await client.post("/api/v1/payments/reconcile", headers=admin.headers)
    assert first.json() == {"seen": 1, "applied": 1}
    second = await client.post("/api/v1/payments/reconcile", headers=admin.headers)
    assert second.json() == {"seen": 1, "applied": 0}
    assert len(await entitlements(client, student)) == 1
    _, path, query, _ = fake_stripe.requests[-1]
    assert path == "/v1/events"
    assert "checkout.session.completed" in query["types[0]"] + query.get("types[1]", [])
