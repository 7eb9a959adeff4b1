"""Payments API: products, entitlements, checkout (Idempotency-Key), orders, the webhook."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from litestar.types import ControllerRouterHandler

from studyhall.payments import sandbox, service, webhooks
from studyhall.payments.schemas import (
    CheckoutIn,
    CheckoutStatusOut,
    EntitlementOut,
    GrantIn,
    MyEntitlementOut,
    OrderDetailOut,
    OrderOut,
    OrderState,
    ProductIn,
    ProductOut,
    ProductPatch,
    ReconcileOut,
    RevokeIn,
    SandboxActionIn,
    WebhookAck,
)
from studyhall.platform import idempotency
from studyhall.platform.auth import Role, require_role
from studyhall.platform.errors import NotFound
from studyhall.platform.http import CurrentActor, DbSession, MaybeActor, Offset, Runtime

CHECKOUT_SCOPE = "payments-checkout"
SIGNATURE_HEADER = "stripe-signature"


class ProductsController(Controller):
    path = "/api/v1/products"
    tags = ["payments"]

    @post("/", status_code=HTTP_201_CREATED)
    async def create(
        self, data: JSONBody[ProductIn], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> ProductOut:
        return await service.create_product(db, platform, actor, data)

    @get("/")
    async def list_products(
        self, db: DbSession, optional_actor: MaybeActor, all: FromQuery[bool] = False
    ) -> list[ProductOut]:
        """Active products; ``all=true`` (admins) includes inactive ones."""
        return await service.list_products(db, optional_actor, include_inactive=all)

    @get("/{product_id:uuid}")
    async def detail(
        self, product_id: FromPath[uuid.UUID], db: DbSession, optional_actor: MaybeActor
    ) -> ProductOut:
        return await service.product_detail(db, optional_actor, product_id)

    @patch("/{product_id:uuid}")
    async def update(
        self,
        product_id: FromPath[uuid.UUID],
        data: JSONBody[ProductPatch],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> ProductOut:
        return await service.update_product(db, platform, actor, product_id, data)


@get("/api/v1/me/entitlements", tags=["payments"])
async def my_entitlements(db: DbSession, actor: CurrentActor) -> list[MyEntitlementOut]:
    return await service.my_entitlements(db, actor)


class EntitlementsController(Controller):
    """Manual grants and revocations by staff, kept with who, when and why."""

    path = "/api/v1/entitlements"
    tags = ["payments"]

    @post("/", status_code=HTTP_201_CREATED)
    async def grant(
        self, data: JSONBody[GrantIn], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> EntitlementOut:
        return await service.grant(db, platform, actor, data)

    @get("/")
    async def list_entitlements(
        self,
        db: DbSession,
        actor: CurrentActor,
        user_id: Annotated[uuid.UUID | None, QueryParameter(name="userId")] = None,
        product_id: Annotated[uuid.UUID | None, QueryParameter(name="productId")] = None,
    ) -> list[EntitlementOut]:
        return await service.list_entitlements(db, actor, user_id=user_id, product_id=product_id)

    @post("/{entitlement_id:uuid}/revoke", status_code=HTTP_200_OK)
    async def revoke(
        self,
        entitlement_id: FromPath[uuid.UUID],
        data: JSONBody[RevokeIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> EntitlementOut:
        return await service.revoke(db, platform, actor, entitlement_id, data)


class PaymentsController(Controller):
    path = "/api/v1/payments"
    tags = ["payments"]

    @post("/checkout", status_code=HTTP_201_CREATED)
    async def checkout(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CheckoutIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> Response[Any]:
        """Open a checkout; a retry with the same ``Idempotency-Key`` gets the same one."""
        asked = await idempotency.read_idempotent_request(request)
        # Hand back the connection the caller's lookup used: the claim takes one of its own,
        # and a burst of retries each holding two would starve the pool.
        await db.rollback()
        outcome = await idempotency.begin(
            platform.sessions,
            scope=f"{CHECKOUT_SCOPE}:{actor.user_id}",
            key=asked.key,
            request_hash=asked.request_hash,
            now=platform.clock.now(),
        )
        if isinstance(outcome, idempotency.Replay):
            return idempotency.replay_response(outcome)
        try:
            opened = await service.checkout(db, platform, actor, data)
            body = msgspec.json.encode(opened)
            await idempotency.complete(
                db, outcome, status=HTTP_201_CREATED, body=body, now=platform.clock.now()
            )
        except BaseException:
            await db.rollback()
            await idempotency.abandon(platform.sessions, outcome)
            raise
        return Response(content=body, status_code=HTTP_201_CREATED, media_type="application/json")

    @get("/checkouts/{checkout_id:str}")
    async def checkout_status(
        self, checkout_id: FromPath[str], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> CheckoutStatusOut:
        return await service.checkout_status(db, platform, actor, checkout_id)

    @post("/webhook", status_code=HTTP_200_OK)
    async def webhook(
        self, request: Request[Any, Any, Any], db: DbSession, platform: Runtime
    ) -> WebhookAck:
        """Gateway -> us: verified against the raw body, stored once, applied by a job."""
        body = await request.body()
        return await webhooks.receive(db, platform, body, request.headers.get(SIGNATURE_HEADER))

    @get("/orders")
    async def list_orders(
        self,
        db: DbSession,
        actor: CurrentActor,
        all: FromQuery[bool] = False,
        order_state: Annotated[OrderState | None, QueryParameter(name="state")] = None,
        user_id: Annotated[uuid.UUID | None, QueryParameter(name="userId")] = None,
        product_id: Annotated[uuid.UUID | None, QueryParameter(name="productId")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Offset = 0,
    ) -> list[OrderOut]:
        """Your orders; ``all=true`` (admins) everyone's, filtered by state, user, product."""
        return await service.list_orders(
            db,
            actor,
            everyone=all,
            state=order_state,
            user_id=user_id,
            product_id=product_id,
            limit=limit,
            offset=offset,
        )

    @get("/orders/{order_id:uuid}")
    async def order_detail(
        self, order_id: FromPath[uuid.UUID], db: DbSession, actor: CurrentActor
    ) -> OrderDetailOut:
        return await service.order_detail(db, actor, order_id)

    @post("/orders/{order_id:uuid}/refund", status_code=HTTP_200_OK)
    async def refund(
        self, order_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> OrderDetailOut:
        return await service.request_refund(db, platform, actor, order_id)

    @post("/reconcile", status_code=HTTP_200_OK)
    async def reconcile(
        self, db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> ReconcileOut:
        """Admins: apply now what the gateway knows and the webhook did not bring."""
        require_role(actor, Role.ADMIN)
        return await webhooks.reconcile(db, platform)

    @post("/sandbox/{checkout_id:str}", status_code=HTTP_200_OK)
    async def sandbox_action(
        self,
        checkout_id: FromPath[str],
        data: JSONBody[SandboxActionIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> CheckoutStatusOut:
        """The sandbox's hosted page as an API: finish a checkout the way a buyer would."""
        if platform.settings.payments_gateway != "sandbox":
            raise NotFound("The sandbox gateway is not in use")
        await sandbox.act(db, platform, actor, checkout_id, data)
        return await service.checkout_status(db, platform, actor, checkout_id)


ROUTES: list[ControllerRouterHandler] = [
    ProductsController,
    my_entitlements,
    EntitlementsController,
    PaymentsController,
]
