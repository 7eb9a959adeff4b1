"""Request-scoped plumbing shared by every domain's routes: platform, unit of work, client IP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.platform.auth import Actor
from studyhall.platform.db import unit_of_work
from studyhall.platform.runtime import Platform

SESSION_COOKIE = "studyhall_session"

# Handler parameters injected by name (Litestar 3 stops inferring them).
DbSession = NamedDependency[AsyncSession]
Runtime = NamedDependency[Platform]
CurrentActor = NamedDependency[Actor]
MaybeActor = NamedDependency[Actor | None]
# A list's ``offset``: PostgreSQL takes a BIGINT; a larger one is the client's 422, not a 500.
Offset = Annotated[int, QueryParameter(ge=0, le=2**63 - 1)]


def provide_platform(state: State) -> Platform:
    platform: Platform = state.platform
    return platform


async def provide_db(platform: Runtime) -> AsyncIterator[AsyncSession]:
    async for session in unit_of_work(platform.sessions):
        yield session


def client_ip(request: Request[Any, Any, Any], *, trust_proxy_headers: bool) -> str:
    """The caller's address; X-Forwarded-For only counts behind a proxy we were told about."""
    return peer_address(
        request.headers.get("x-forwarded-for"),
        request.client.host if request.client else None,
        trust_proxy_headers=trust_proxy_headers,
    )


def peer_address(forwarded_for: str | None, peer: str | None, *, trust_proxy_headers: bool) -> str:
    """:func:`client_ip` from the raw header and socket peer (for plain ASGI callers)."""
    if trust_proxy_headers and forwarded_for:
        return forwarded_for.split(",", 1)[0].strip()
    return peer or "unknown"
