"""Payment pages: products with a Buy button, the sandbox's hosted checkout, the return
page that waits for the entitlement, the buyer's purchases and receipts, and the admin's
orders with their state history.

Thin handlers over ``payments.service``; the buy prompt that gated pages show when the
API would answer 402 lives here too (:func:`buy_prompt`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from studyhall.payments import repository, sandbox, service
from studyhall.payments.access import PaymentRequired
from studyhall.payments.schemas import CheckoutIn, ProductOut, SandboxActionIn
from studyhall.platform.auth import Actor
from studyhall.platform.errors import DomainError, NotFound
from studyhall.platform.http import DbSession, MaybeActor, Runtime
from studyhall.web.pages import not_found, refuse, render, request_target, sign_in_first

ORDER_STATES = ("created", "pending", "paid", "failed", "expired", "refunded")
# Stripe's zero-decimal currencies: their minor unit is the unit.
_ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd"}
    | {"vuv", "xaf", "xof", "xpf"}
)
STATE_LABELS = {
    "created": "Created",
    "pending": "Waiting for payment",
    "paid": "Paid",
    "failed": "Payment failed",
    "expired": "Expired",
    "refunded": "Refunded",
}


def money(minor: int, currency: str) -> str:
    """``1999, "eur"`` -> ``"19.99 EUR"``."""
    code = currency.upper()
    if currency.lower() in _ZERO_DECIMAL:
        return f"{minor:,} {code}"
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    return f"{sign}{units:,}.{cents:02d} {code}"


def _page(template: str, actor: Actor | None, status_code: int = 200, **context: Any) -> Template:
    return render(template, actor, status_code, money=money, state_labels=STATE_LABELS, **context)


def buy_prompt(actor: Actor | None, needed: PaymentRequired, back_to: str) -> Template:
    """What a gated page shows instead of its content: the products that would open it."""
    return _page(
        "payments/buy_prompt.html",
        actor,
        402,
        products=needed.extra["products"],
        back_to=back_to,
    )


@dataclass(frozen=True)
class Unlocks:
    """What a product opens, in words and links."""

    course_href: str | None
    exam_count: int
    everything: bool


def _unlocks(product: ProductOut) -> Unlocks:
    return Unlocks(
        course_href=f"/courses/{product.course_id}" if product.course_id else None,
        exam_count=len(product.exam_ids),
        everything=product.kind == "pass",
    )


@get("/products", name="products")
async def products_page(db: DbSession, optional_actor: MaybeActor) -> Template:
    products = await service.list_products(db, optional_actor, include_inactive=False)
    return _page("payments/products.html", optional_actor, products=products)


async def _product_page(
    db: DbSession,
    platform: Runtime,
    actor: Actor | None,
    product_id: uuid.UUID,
    status_code: int = 200,
    **context: Any,
) -> Template:
    try:
        product = await service.product_detail(db, actor, product_id)
    except NotFound as error:
        return not_found(actor, error.detail)
    owned = actor is not None and await repository.holds_product(
        db, actor.user_id, product.id, platform.clock.now()
    )
    return _page(
        "payments/product.html",
        actor,
        status_code,
        product=product,
        unlocks=_unlocks(product),
        owned=owned,
        **context,
    )


@get("/products/{product_id:uuid}", name="product")
async def product_page(
    product_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, optional_actor: MaybeActor
) -> Template:
    return await _product_page(db, platform, optional_actor, product_id)


@post("/products/{product_id:uuid}/buy")
async def buy(
    product_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, optional_actor: MaybeActor
) -> Response[Any]:
    """Open (or rejoin) a checkout and go to the gateway's page. A double click is safe:
    while an order is open, a second Buy returns the same checkout."""
    if optional_actor is None:
        return sign_in_first(f"/products/{product_id}")
    try:
        opened = await service.checkout(db, platform, optional_actor, CheckoutIn(product_id))
    except NotFound as error:
        return not_found(optional_actor, error.detail)
    except DomainError as error:
        await db.rollback()
        return await _product_page(
            db, platform, optional_actor, product_id, error.status, error=error.detail
        )
    return Redirect(opened.url, status_code=303)


# --- the sandbox gateway's hosted page ---------------------------------------------------------


@get(f"{sandbox.PAGE_PATH}/{{checkout_id:str}}", name="sandbox_checkout")
async def sandbox_page(
    request: Request[Any, Any, Any],
    checkout_id: FromPath[str],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first(request_target(request))
    if platform.settings.payments_gateway != "sandbox":
        return not_found(optional_actor)
    try:
        row = await sandbox.checkout_page(db, optional_actor, checkout_id)
    except NotFound as error:
        return not_found(optional_actor, error.detail)
    return _page("payments/sandbox.html", optional_actor, checkout=row)


def _switch(form: Any, name: str) -> bool:
    return bool(form.get(name) == "on")


@post(f"{sandbox.PAGE_PATH}/{{checkout_id:str}}")
async def sandbox_act(
    request: Request[Any, Any, Any],
    checkout_id: FromPath[str],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first(f"{sandbox.PAGE_PATH}/{checkout_id}")
    if platform.settings.payments_gateway != "sandbox":
        return not_found(optional_actor)
    form = await request.form()
    outcome = form.get("outcome")
    if outcome not in ("pay", "decline", "later"):
        return refuse(optional_actor, f"{sandbox.PAGE_PATH}/{checkout_id}")
    action = SandboxActionIn(
        outcome=outcome,
        late=_switch(form, "late"),
        twice=_switch(form, "twice"),
        out_of_order=_switch(form, "out_of_order"),
        lost=_switch(form, "lost"),
    )
    try:
        row = await sandbox.act(db, platform, optional_actor, checkout_id, action)
    except NotFound as error:
        return not_found(optional_actor, error.detail)
    except DomainError as error:
        await db.rollback()
        row = await sandbox.checkout_page(db, optional_actor, checkout_id)
        return _page(
            "payments/sandbox.html", optional_actor, error.status, checkout=row, error=error.detail
        )
    return Redirect(row.success_url.replace("{CHECKOUT_SESSION_ID}", row.id), status_code=303)


# --- after checkout ----------------------------------------------------------------------------


async def _content_href(db: DbSession, product_id: uuid.UUID) -> str:
    """Where a purchase leads: its course, its first exam, or the course list."""
    product = await repository.product_by_id(db, product_id)
    if product is not None and product.course_id is not None:
        return f"/courses/{product.course_id}"
    exams = (await repository.exam_ids_of(db, [product_id]))[product_id]
    return f"/exams/{exams[0]}" if exams else "/courses"


@get("/payments/return", name="payment_return")
async def return_page(
    request: Request[Any, Any, Any],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
    checkout: FromQuery[str] = "",
) -> Response[Any]:
    """Back from the gateway: says where the order stands and, once the webhook granted
    access, links to the content (the page asks again every second until then)."""
    if optional_actor is None:
        return sign_in_first(request_target(request))
    try:
        status = await service.checkout_status(db, platform, optional_actor, checkout)
    except NotFound as error:
        return not_found(optional_actor, error.detail)
    return _page(
        "payments/return.html",
        optional_actor,
        status=status,
        content_href=await _content_href(db, status.product_id),
        title=await repository.product_title(db, status.product_id),
    )


@get("/purchases", name="purchases")
async def purchases_page(db: DbSession, optional_actor: MaybeActor) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first("/purchases")
    orders = await service.list_orders(
        db,
        optional_actor,
        everyone=False,
        state=None,
        user_id=None,
        product_id=None,
        limit=200,
        offset=0,
    )
    held = await service.my_entitlements(db, optional_actor)
    return _page("payments/purchases.html", optional_actor, orders=orders, held=held)


@get("/purchases/{order_id:uuid}", name="receipt")
async def receipt_page(
    order_id: FromPath[uuid.UUID], db: DbSession, optional_actor: MaybeActor
) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first(f"/purchases/{order_id}")
    try:
        detail = await service.order_detail(db, optional_actor, order_id)
    except NotFound as error:
        return not_found(optional_actor, error.detail)
    return _page("payments/receipt.html", optional_actor, detail=detail, admin_view=False)


# --- admin -------------------------------------------------------------------------------------


@get("/admin/orders", name="admin_orders")
async def admin_orders_page(
    db: DbSession,
    optional_actor: MaybeActor,
    order_state: Annotated[str, QueryParameter(name="state", max_length=10)] = "",
    product: FromQuery[str] = "",
    page: Annotated[int, QueryParameter(ge=1, le=1000)] = 1,
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_admin:
        return refuse(actor, "/admin/orders")
    product_id = _uuid_or_none(product)
    page_size = 50
    orders = await service.list_orders(
        db,
        actor,
        everyone=True,
        state=order_state if order_state in ORDER_STATES else None,
        user_id=None,
        product_id=product_id,
        limit=page_size + 1,
        offset=(page - 1) * page_size,
    )
    products = await service.list_products(db, actor, include_inactive=True)
    return _page(
        "payments/admin_orders.html",
        actor,
        orders=orders[:page_size],
        more=len(orders) > page_size,
        page=page,
        products=products,
        states=ORDER_STATES,
        chosen_state=order_state,
        chosen_product=product_id,
    )


def _uuid_or_none(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


@get("/admin/orders/{order_id:uuid}", name="admin_order")
async def admin_order_page(
    order_id: FromPath[uuid.UUID], db: DbSession, optional_actor: MaybeActor
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_admin:
        return refuse(actor, f"/admin/orders/{order_id}")
    try:
        detail = await service.order_detail(db, actor, order_id)
    except NotFound as error:
        return not_found(actor, error.detail)
    return _page("payments/receipt.html", actor, detail=detail, admin_view=True)


@post("/admin/orders/{order_id:uuid}/refund")
async def admin_refund(
    order_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, optional_actor: MaybeActor
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_admin:
        return refuse(actor, f"/admin/orders/{order_id}")
    try:
        detail = await service.request_refund(db, platform, actor, order_id)
    except NotFound as error:
        return not_found(actor, error.detail)
    except DomainError as error:
        await db.rollback()
        detail = await service.order_detail(db, actor, order_id)
        return _page(
            "payments/receipt.html",
            actor,
            error.status,
            detail=detail,
            admin_view=True,
            error=error.detail,
        )
    return _page(
        "payments/receipt.html",
        actor,
        detail=detail,
        admin_view=True,
        notice="Refund requested; the order turns Refunded when the gateway confirms it.",
    )


ROUTES = [
    products_page,
    product_page,
    buy,
    sandbox_page,
    sandbox_act,
    return_page,
    purchases_page,
    receipt_page,
    admin_orders_page,
    admin_order_page,
    admin_refund,
]
