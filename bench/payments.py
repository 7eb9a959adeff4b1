"""Webhook storm (issue 6): 1,000 signed deliveries, 200 distinct events five times each.

Setup (not timed) inserts 200 pending orders of 200 products straight into the server's
database. Timed: the deliveries, shuffled, are offered at a fixed rate over 50
connections (each one signed with Stripe's scheme by the SDK's own helper, as the gateway
would), latency from each delivery's scheduled time; then the time until the worker has
applied every event. Checks: every delivery acknowledged, exactly 200 inbox rows, 200
entitlements and 200 ledger entries. On the scaled deployment a ``studyhall worker``
process applies the events (embedded: the worker inside the app).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import stripe
from sqlalchemy import func, insert, select

import studyhall.models  # noqa: F401  (every model mapped before the inserts, as in the app)
from bench import servers
from bench.ceiling import Ceiling, Shape, share
from bench.loadgen import Request, Result, fixed_rate
from bench.servers import Server, start, stop
from studyhall.config import load_settings
from studyhall.identity.models import User
from studyhall.payments.gateways import webhook_secret
from studyhall.payments.models import Entitlement, LedgerEntry, Order, Product, WebhookEvent
from studyhall.platform.clock import SystemClock
from studyhall.platform.ids import new_id
from studyhall.platform.runtime import Platform

EVENTS = 200
COPIES = 5
CONNECTIONS = 50
OFFERED_RATE = 1000.0
APPLY_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class StormFigures:
    deployment: str
    deliveries: Result
    apply_seconds: float
    inbox: int
    entitlements: int
    ledger: int
    shape: Shape
    """A delivery and its answer, for the bare ASGI ceiling."""

    @property
    def exact(self) -> bool:
        acknowledged = self.deliveries.statuses.get(200, 0) == EVENTS * COPIES
        return acknowledged and self.inbox == self.entitlements == self.ledger == EVENTS


@contextlib.asynccontextmanager
async def _platform(server: Server) -> AsyncIterator[Platform]:
    platform = await Platform.start(load_settings(server.env), clock=SystemClock())
    try:
        yield platform
    finally:
        await platform.close()


async def _orders(server: Server) -> list[str]:
    """200 pending sandbox orders of a bench student; their checkout ids."""
    now = datetime.now(UTC)
    buyer = new_id()
    checkouts = [f"cs_bench_{uuid.uuid4().hex}" for _ in range(EVENTS)]
    products = [new_id() for _ in range(EVENTS)]
    async with _platform(server) as platform, platform.sessions() as db, db.begin():
        await db.execute(
            insert(User).values(
                id=buyer,
                email=f"buyer-{buyer.hex[:8]}@bench.invalid",
                name="Bench buyer",
                role="student",
                password_hash="!",
                token_generation=0,
                created_at=now,
                updated_at=now,
            )
        )
        await db.execute(
            insert(Product),
            [
                {
                    "id": product,
                    "kind": "pass",
                    "title": f"Bench pass {index}",
                    "price_minor": 100,
                    "currency": "usd",
                    "duration_days": 30,
                    "active": True,
                    "created_by": buyer,
                    "created_at": now,
                    "updated_at": now,
                }
                for index, product in enumerate(products)
            ],
        )
        await db.execute(
            insert(Order),
            [
                {
                    "id": new_id(),
                    "user_id": buyer,
                    "product_id": product,
                    "state": "pending",
                    "amount_minor": 100,
                    "currency": "usd",
                    "gateway": "sandbox",
                    "checkout_id": checkout,
                    "created_at": now,
                    "updated_at": now,
                }
                for product, checkout in zip(products, checkouts, strict=True)
            ],
        )
    return checkouts


def _event(checkout_id: str) -> str:
    """``checkout.session.completed`` for a paid checkout, as Stripe would post it."""
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": checkout_id,
                    "object": "checkout.session",
                    "status": "complete",
                    "payment_status": "paid",
                    "payment_intent": f"pi_{checkout_id}",
                }
            },
        }
    )


def _deliveries(server: Server, checkouts: list[str]) -> list[Request]:
    secret = webhook_secret(load_settings(server.env))
    bodies = [body for body in map(_event, checkouts) for _ in range(COPIES)]
    random.Random(7).shuffle(bodies)
    signed_at = int(time.time())
    return [
        Request(
            "POST",
            "/api/v1/payments/webhook",
            {
                "Content-Type": "application/json",
                "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
                    body, secret, timestamp=signed_at
                ),
            },
            body.encode(),
        )
        for body in bodies
    ]


async def _counts(server: Server) -> tuple[int, int, int]:
    async with _platform(server) as platform, platform.sessions() as db:
        counted = [
            int((await db.execute(select(func.count()).select_from(model))).scalar_one())
            for model in (WebhookEvent, Entitlement, LedgerEntry)
        ]
    return counted[0], counted[1], counted[2]


@contextlib.contextmanager
def _worker(server: Server, workdir: Path) -> Iterator[None]:
    """A worker process beside a scaled server (the embedded one runs its own)."""
    if server.deployment != "scaled":
        yield
        return
    process = start(servers.studyhall("worker"), server.env, workdir / "storm-worker.log")
    try:
        yield
    finally:
        stop(process)


def run(server: Server, workdir: Path) -> StormFigures:
    checkouts = asyncio.run(_orders(server))
    deliveries = _deliveries(server, checkouts)
    with _worker(server, workdir):
        started = time.perf_counter()
        result = asyncio.run(
            fixed_rate(
                "127.0.0.1",
                server.port,
                lambda index: deliveries[index],
                rate=OFFERED_RATE,
                seconds=len(deliveries) / OFFERED_RATE,
                connections=CONNECTIONS,
            )
        )
        counts = asyncio.run(_counts(server))
        while counts[1] < EVENTS and time.perf_counter() - started < APPLY_TIMEOUT_SECONDS:
            time.sleep(0.1)
            counts = asyncio.run(_counts(server))
        applied = time.perf_counter() - started
    shape = Shape.of("POST webhook delivery", deliveries[0], result, CONNECTIONS)
    figures = StormFigures(server.deployment, result, applied, *counts, shape)
    print(
        f"{server.deployment:9} webhook storm: {result.ok_throughput:.0f} acks/s, "
        f"p99 {result.percentile(0.99) * 1000:.1f} ms, all applied after {applied:.1f} s, "
        f"inbox/entitlements/ledger {counts}"
    )
    return figures


def section(figures: list[StormFigures], header: str, ceiling: Ceiling) -> str:
    lines = [
        "## Payments: webhook storm",
        "",
        header,
        f"{EVENTS * COPIES:,} signed `checkout.session.completed` deliveries ({EVENTS} distinct",
        f"events, {COPIES} copies each, shuffled) offered at {OFFERED_RATE:,.0f}/s over "
        f"{CONNECTIONS} connections;",
        "latency from each delivery's scheduled time. Then the time from the first delivery",
        "until the worker has granted every order. Target: exactly 200 effects. Ratio: the",
        "acknowledgements per second over the closed-loop throughput of the bare ASGI handler",
        f"sent the same signed POST on {CONNECTIONS} connections (answering as many bytes); the",
        f"storm offers {OFFERED_RATE:,.0f}/s: for a server that keeps up, a lower bound (≥).",
        "",
        "| deployment | acknowledged/s | bare ASGI POST req/s | ratio | p50 ms | p95 ms | p99 ms "
        "| errors | all applied after s | inbox | entitlements | ledger | exactly 200 effects |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for figure in figures:
        result = figure.deliveries
        bare = ceiling.http(figure.shape)
        lines.append(
            f"| {figure.deployment} | {result.ok_throughput:.0f} | {bare.throughput:.0f} | "
            f"{share(result.ok_throughput, bare, offered=OFFERED_RATE)} | "
            f"{result.percentile(0.5) * 1000:.1f} | {result.percentile(0.95) * 1000:.1f} | "
            f"{result.percentile(0.99) * 1000:.1f} | "
            f"{result.errors + sum(n for s, n in result.statuses.items() if s != 200)} | "
            f"{figure.apply_seconds:.1f} | {figure.inbox} | {figure.entitlements} | "
            f"{figure.ledger} | {'yes' if figure.exact else '**no**'} |"
        )
    return "\n".join(lines) + "\n"
