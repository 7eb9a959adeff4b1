"""Resolve the acting user of a request: bearer token first, then the browser session cookie."""

from __future__ import annotations

from typing import Any

from litestar import Request

from studyhall.identity import service
from studyhall.platform.auth import Actor
from studyhall.platform.errors import NotAuthenticated
from studyhall.platform.http import SESSION_COOKIE, DbSession, MaybeActor, Runtime
from studyhall.platform.logging import bind_user


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Use 'Authorization: Bearer <token>'")
    return token.strip()


async def provide_optional_actor(
    request: Request[Any, Any, Any], db: DbSession, platform: Runtime
) -> Actor | None:
    token = bearer_token(request)
    actor: Actor | None
    if token is not None:
        actor = await service.actor_from_bearer(db, platform, token)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        actor = await service.actor_from_cookie(db, platform, cookie)
    else:
        actor = None
    if actor is not None:
        bind_user(actor.user_id)
    return actor


async def provide_actor(optional_actor: MaybeActor) -> Actor:
    if optional_actor is None:
        raise NotAuthenticated()
    return optional_actor
