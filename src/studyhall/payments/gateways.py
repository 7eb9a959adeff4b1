"""Payment gateways behind one interface, chosen by ``STUDYHALL_PAYMENTS_GATEWAY``.

Both speak Stripe's language: a checkout is a Checkout Session (``cs_...``), what
happens to it arrives as Stripe-shaped events signed with Stripe's scheme, and
reconciliation lists recent events. ``stripe`` is the official SDK; ``sandbox``
(:mod:`studyhall.payments.sandbox`) keeps its sessions and events in our database.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.config import Settings
from studyhall.payments.models import Order, Product
from studyhall.platform.runtime import Platform

# The events we act on; reconciliation asks only for these.
HANDLED_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
)


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    order: Order
    product: Product
    buyer_email: str
    # Paths on this site; a gateway hosted elsewhere makes them absolute.
    success_path: str
    cancel_path: str


class Gateway(Protocol):
    name: str

    async def create_checkout(
        self, session: AsyncSession, request: CheckoutRequest
    ) -> CheckoutSession:
        """A hosted checkout for the order; safe to retry for the same order."""

    async def recent_events(self, session: AsyncSession, since: datetime) -> list[dict[str, Any]]:
        """Events of the handled types created since ``since``, oldest first, as JSON objects."""

    async def refund(self, session: AsyncSession, order: Order) -> None:
        """Ask for the order's payment back; ``charge.refunded`` will tell us it happened."""


def webhook_secret(settings: Settings) -> str:
    """The secret webhooks are signed with: configured, or derived from the secret key
    for the sandbox (so ``make run`` works with nothing configured)."""
    if settings.webhook_secret:
        return settings.webhook_secret
    derived = hmac.new(settings.secret_key.encode(), b"sandbox-webhook", hashlib.sha256)
    return f"whsec_{derived.hexdigest()}"


def public_url(settings: Settings) -> str:
    """Where browsers reach us, for links a gateway hosted elsewhere sends them back to."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def gateway_for(platform: Platform) -> Gateway:
    if platform.settings.payments_gateway == "stripe":
        return _stripe_gateway(platform.settings.stripe_api_key, public_url(platform.settings))
    from studyhall.payments.sandbox import SandboxGateway

    return SandboxGateway(platform)


def stripe_http_client() -> stripe.HTTPClient:
    """The SDK's HTTP client (tests swap in one that never touches the network)."""
    return stripe.HTTPXClient()


@functools.lru_cache(maxsize=4)
def _stripe_gateway(api_key: str, base_url: str) -> StripeGateway:
    return StripeGateway(stripe.StripeClient(api_key, http_client=stripe_http_client()), base_url)


class StripeGateway:
    """Stripe through the official SDK; every POST carries an idempotency key made from
    our order id, so a retried request never makes a second session or refund."""

    name = "stripe"

    def __init__(self, client: stripe.StripeClient, base_url: str) -> None:
        self._client = client
        self._base_url = base_url

    async def create_checkout(
        self, session: AsyncSession, request: CheckoutRequest
    ) -> CheckoutSession:
        order, product = request.order, request.product
        metadata = {"order_id": str(order.id), "product_id": str(product.id)}
        created = await self._client.v1.checkout.sessions.create_async(
            params={
                "mode": "payment",
                "client_reference_id": str(order.id),
                "customer_email": request.buyer_email,
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": order.currency,
                            "unit_amount": order.amount_minor,
                            "product_data": {"name": product.title},
                        },
                    }
                ],
                "metadata": metadata,
                "payment_intent_data": {"metadata": metadata},
                "success_url": self._base_url + request.success_path,
                "cancel_url": self._base_url + request.cancel_path,
            },
            options={"idempotency_key": f"studyhall-checkout-{order.id}"},
        )
        return CheckoutSession(id=created.id, url=created.url or "")

    async def recent_events(self, session: AsyncSession, since: datetime) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "created": {"gte": int(since.timestamp())},
            "types": list(HANDLED_EVENTS),
            "limit": 100,
        }
        found: list[dict[str, Any]] = []
        while True:
            page = await self._client.v1.events.list_async(params=params)  # type: ignore[arg-type]
            found.extend(event.to_dict() for event in page.data)
            if not page.has_more or not page.data:
                break
            params["starting_after"] = page.data[-1].id
        # Stripe lists newest first; apply in the order things happened.
        return sorted(found, key=lambda event: (event.get("created", 0), event["id"]))

    async def refund(self, session: AsyncSession, order: Order) -> None:
        if order.payment_intent is None:
            raise ValueError("an order without a payment intent cannot be refunded")
        await self._client.v1.refunds.create_async(
            params={"payment_intent": order.payment_intent},
            options={"idempotency_key": f"studyhall-refund-{order.id}"},
        )
