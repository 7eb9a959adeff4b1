"""Identity API: thin handlers that parse, authenticate and call one service function."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from studyhall.identity import service
from studyhall.identity.models import User
from studyhall.identity.schemas import (
    CohortDetailOut,
    CohortIn,
    CohortOut,
    MeOut,
    NotificationOut,
    PasswordChangeIn,
    RegisterIn,
    TokenIn,
    TokenOut,
    UserOut,
)
from studyhall.identity.tasks import enqueue_welcome
from studyhall.platform.auth import Role
from studyhall.platform.http import (
    SESSION_COOKIE,
    CurrentActor,
    DbSession,
    Offset,
    Runtime,
    client_ip,
)


def user_out(user: User) -> UserOut:
    return UserOut(id=user.id, email=user.email, name=user.name, role=user.role)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["identity"]

    @post("/register", status_code=HTTP_201_CREATED)
    async def register(
        self,
        data: JSONBody[RegisterIn],
        request: Request[Any, Any, Any],
        db: DbSession,
        platform: Runtime,
    ) -> UserOut:
        ip = client_ip(request, trust_proxy_headers=platform.settings.trust_proxy_headers)
        user = await service.register(
            db, platform, email=data.email, password=data.password, name=data.name, client_ip=ip
        )
        await enqueue_welcome(db, platform, user)
        return user_out(user)

    @post("/token", status_code=HTTP_200_OK)
    async def token(
        self,
        data: JSONBody[TokenIn],
        request: Request[Any, Any, Any],
        db: DbSession,
        platform: Runtime,
    ) -> TokenOut:
        ip = client_ip(request, trust_proxy_headers=platform.settings.trust_proxy_headers)
        user = await service.login(
            db, platform, email=data.email, password=data.password, client_ip=ip
        )
        return service.access_token_for(platform, user)


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["identity"]

    @get("/")
    async def me(self, db: DbSession, actor: CurrentActor) -> MeOut:
        return await service.me(db, actor)

    @get("/notifications")
    async def notifications(
        self,
        db: DbSession,
        actor: CurrentActor,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> list[NotificationOut]:
        return await service.notifications(db, actor, limit=limit)

    @post("/password", status_code=HTTP_200_OK)
    async def change_password(
        self,
        data: JSONBody[PasswordChangeIn],
        request: Request[Any, Any, Any],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> TokenOut:
        """Returns a fresh token: every older token stops working."""
        return await service.change_password(
            db,
            platform,
            actor,
            current_password=data.current_password,
            new_password=data.new_password,
            keep_session_token=request.cookies.get(SESSION_COOKIE),
        )


class UsersController(Controller):
    path = "/api/v1/users"
    tags = ["identity"]

    @get("/")
    async def list_users(
        self,
        db: DbSession,
        actor: CurrentActor,
        role: FromQuery[Role | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        offset: Offset = 0,
    ) -> list[UserOut]:
        users = await service.list_users(db, actor, role=role, limit=limit, offset=offset)
        return [user_out(user) for user in users]


class CohortsController(Controller):
    path = "/api/v1/cohorts"
    tags = ["cohorts"]

    @post("/", status_code=HTTP_201_CREATED)
    async def create(
        self, data: JSONBody[CohortIn], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> CohortOut:
        return await service.create_cohort(db, platform, actor, name=data.name)

    @get("/")
    async def list_cohorts(self, db: DbSession, actor: CurrentActor) -> list[CohortOut]:
        return await service.list_cohorts(db, actor)

    @get("/{cohort_id:uuid}")
    async def detail(
        self, cohort_id: FromPath[uuid.UUID], db: DbSession, actor: CurrentActor
    ) -> CohortDetailOut:
        return await service.cohort_detail(db, actor, cohort_id)

    @put(
        "/{cohort_id:uuid}/members/{user_id:uuid}",
        status_code=HTTP_200_OK,
        responses={HTTP_201_CREATED: ResponseSpec(dict[str, bool], description="Added now")},
    )
    async def add_member(
        self,
        cohort_id: FromPath[uuid.UUID],
        user_id: FromPath[uuid.UUID],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> Response[dict[str, bool]]:
        added = await service.add_cohort_member(db, platform, actor, cohort_id, user_id)
        return Response({"added": added}, status_code=HTTP_201_CREATED if added else HTTP_200_OK)

    @delete("/{cohort_id:uuid}/members/{user_id:uuid}", status_code=HTTP_204_NO_CONTENT)
    async def remove_member(
        self,
        cohort_id: FromPath[uuid.UUID],
        user_id: FromPath[uuid.UUID],
        db: DbSession,
        actor: CurrentActor,
    ) -> None:
        await service.remove_cohort_member(db, actor, cohort_id, user_id)


ROUTES = [AuthController, MeController, UsersController, CohortsController]
