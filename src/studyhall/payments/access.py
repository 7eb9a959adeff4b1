"""The entitlement check other domains call before showing paid content.

``require_access`` answers ``402 entitlement_required`` (with the products that would
unlock the thing) to a student without an entitlement; staff always pass. A course is
gated by its active course products, an exam by the product it names and by active
bundles that list it; an all-access pass unlocks everything gated. Nothing gated
stays free.

Cached in the hot store (shared by every node when Redis is configured) as two
versioned entries: the active catalog, and each user's live entitlements. Each entry
is a hash ``{v: version, data: "<version>|<payload>"}``; a reader serves ``data``
only while its tag equals ``v``. A writer bumps ``v`` right after its transaction
commits, so every node's next read misses and reloads: a grant or revoke is visible
everywhere as soon as the bump lands (one hot-store round trip after commit). A
reader that loaded from the database before the commit stores its data under the
old tag, which the bump already made stale, so a racing fill cannot resurrect old
data. On the committing node, reads wait for its own bumps still in flight. If a
process dies between commit and bump, the entry lives at most ``CACHE_SECONDS``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TypeGuard, TypeVar

import msgspec
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from studyhall.payments import repository
from studyhall.payments.schemas import ProductToBuy
from studyhall.platform.auth import Actor
from studyhall.platform.errors import DomainError
from studyhall.platform.hotstore import quietly
from studyhall.platform.logging import ThrottledWarning
from studyhall.platform.runtime import Platform

logger = logging.getLogger("studyhall.payments")
_outage = ThrottledWarning(logger, "hot store unavailable; checking entitlements in the database")

CACHE_SECONDS = 60
CATALOG_KEY = "payments:catalog"
_BUMPS = "studyhall.payments.cache_bumps"
T = TypeVar("T")


class PaymentRequired(DomainError):
    status = 402
    code = "entitlement_required"
    title = "This needs a purchase"

    def __init__(self, products: list[ProductToBuy]) -> None:
        super().__init__(
            "Buy one of the listed products to open this", extra={"products": products}
        )


class CatalogProduct(msgspec.Struct, frozen=True):
    id: uuid.UUID
    kind: str
    title: str
    price_minor: int
    currency: str
    course_id: uuid.UUID | None
    exam_ids: list[uuid.UUID]

    def to_buy(self) -> ProductToBuy:
        return ProductToBuy(self.id, self.kind, self.title, self.price_minor, self.currency)


class Catalog(msgspec.Struct, frozen=True):
    """The active products, which is all a gate decision needs to know about products."""

    products: list[CatalogProduct]

    def gates(
        self,
        *,
        course_id: uuid.UUID | None,
        exam_id: uuid.UUID | None,
        product_id: uuid.UUID | None,
    ) -> list[CatalogProduct]:
        return [
            product
            for product in self.products
            if (course_id is not None and product.course_id == course_id)
            or (exam_id is not None and exam_id in product.exam_ids)
            or (product_id is not None and product.id == product_id)
        ]

    def passes(self) -> list[CatalogProduct]:
        return [product for product in self.products if product.kind == "pass"]


class HeldEntitlement(msgspec.Struct, frozen=True):
    product_id: uuid.UUID
    kind: str
    starts_at: datetime
    expires_at: datetime | None

    def live_at(self, now: datetime) -> bool:
        return self.starts_at <= now and (self.expires_at is None or now < self.expires_at)


_catalog_codec = (msgspec.json.Encoder(), msgspec.json.Decoder(Catalog))
_held_decoder = msgspec.json.Decoder(list[HeldEntitlement])
_pending: dict[str, asyncio.Task[None]] = {}
"""Bumps this process queued after a commit and has not finished yet, by key."""


def entitlements_key(user_id: uuid.UUID) -> str:
    return f"payments:ent:{user_id}"


async def require_access(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    *,
    course_id: uuid.UUID | None = None,
    exam_id: uuid.UUID | None = None,
    product_id: uuid.UUID | None = None,
) -> None:
    """Raise :class:`PaymentRequired` unless ``actor`` may open the course or exam.

    ``product_id`` is the product an exam names as its gate (``exams.product_id``).
    """
    missing = await products_to_buy(
        session, platform, actor, course_id=course_id, exam_id=exam_id, product_id=product_id
    )
    if missing:
        raise PaymentRequired(missing)


async def products_to_buy(
    session: AsyncSession,
    platform: Platform,
    actor: Actor | None,
    *,
    course_id: uuid.UUID | None = None,
    exam_id: uuid.UUID | None = None,
    product_id: uuid.UUID | None = None,
) -> list[ProductToBuy]:
    """What ``actor`` would have to buy to open it: empty when it is free or already theirs."""
    if actor is not None and actor.is_staff:
        return []
    catalog = await load_catalog(session, platform)
    gates = catalog.gates(course_id=course_id, exam_id=exam_id, product_id=product_id)
    if not gates:
        return []
    if actor is not None:
        held = await held_entitlements(session, platform, actor.user_id)
        now = platform.clock.now()
        unlocking = {gate.id for gate in gates}
        if any(e.live_at(now) and (e.kind == "pass" or e.product_id in unlocking) for e in held):
            return []
    offers = {product.id: product for product in [*gates, *catalog.passes()]}
    return [product.to_buy() for product in offers.values()]


async def load_catalog(session: AsyncSession, platform: Platform) -> Catalog:
    async def load() -> bytes:
        rows = await repository.active_catalog(session)
        products = [
            CatalogProduct(p.id, p.kind, p.title, p.price_minor, p.currency, p.course_id, exams)
            for p, exams in rows
        ]
        return _catalog_codec[0].encode(Catalog(products))

    return _catalog_codec[1].decode(await _cached(platform, CATALOG_KEY, load))


async def held_entitlements(
    session: AsyncSession, platform: Platform, user_id: uuid.UUID
) -> list[HeldEntitlement]:
    """The user's entitlements that are not revoked and not yet expired (when loaded)."""

    async def load() -> bytes:
        rows = await repository.live_entitlements(session, user_id, platform.clock.now())
        return msgspec.json.encode(
            [HeldEntitlement(e.product_id, kind, e.starts_at, e.expires_at) for e, kind in rows]
        )

    return _held_decoder.decode(await _cached(platform, entitlements_key(user_id), load))


async def _cached(platform: Platform, key: str, load: Callable[[], Awaitable[bytes]]) -> bytes:
    in_flight = _pending.get(key)
    if _awaitable_here(in_flight):
        await asyncio.shield(in_flight)  # read our own writes on this node
    fields = await _quietly(platform.hot.hgetall(key))
    version = (fields or {}).get("v", b"0")
    tagged = (fields or {}).get("data")
    if tagged is not None:
        tag, _, body = tagged.partition(b"|")
        if tag == version:
            return body
    body = await load()
    if fields is not None:
        await _quietly(platform.hot.hset(key, {"data": version + b"|" + body}))
        await _quietly(platform.hot.expire(key, CACHE_SECONDS))
    return body


def invalidate_after_commit(session: AsyncSession, platform: Platform, keys: Iterable[str]) -> None:
    """Bump ``keys`` once ``session`` commits (a rollback changes nothing, so bumps nothing)."""
    bumps: set[str] | None = session.info.get(_BUMPS)
    if bumps is None:
        bumps = session.info[_BUMPS] = set()
        loop = asyncio.get_running_loop()

        def after_commit(_session: Session) -> None:
            for key in session.info.pop(_BUMPS, set()):
                task = loop.create_task(_bump(platform, key, _pending.get(key)))
                _pending[key] = task
                task.add_done_callback(functools.partial(_forget, key))

        def after_rollback(_session: Session) -> None:
            session.info.pop(_BUMPS, None)

        event.listen(session.sync_session, "after_commit", after_commit, once=True)
        event.listen(session.sync_session, "after_soft_rollback", after_rollback, once=True)
    bumps.update(keys)


async def _bump(platform: Platform, key: str, previous: asyncio.Task[None] | None) -> None:
    if _awaitable_here(previous):
        await asyncio.shield(previous)  # bumps of one key land in order
    await _quietly(platform.hot.hincrby(key, "v", 1))
    await _quietly(platform.hot.expire(key, CACHE_SECONDS))


def _awaitable_here(task: asyncio.Task[None] | None) -> TypeGuard[asyncio.Task[None]]:
    """A bump still running on this event loop (one left by a finished loop is not)."""
    return task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop()


def _forget(key: str, done: asyncio.Task[None]) -> None:
    if _pending.get(key) is done:
        del _pending[key]


async def _quietly(operation: Awaitable[T]) -> T | None:
    return await quietly(operation, _outage)
