"""Small helpers that tests use to set up people and call the API as them."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from studyhall.identity import service
from studyhall.platform.auth import Role
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from studyhall.platform.websockets import SERVER_OPTIONS

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_person(platform: Platform, role: Role = Role.STUDENT, name: str = "") -> Person:
    """Create an account directly through the service and issue it a token."""
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.org"
    async with platform.sessions() as session, session.begin():
        user = await service.register(
            session, platform, email=email, password=PASSWORD, name=name or email, role=role
        )
    return Person(user.id, email, service.access_token_for(platform, user).access_token)


async def register_and_login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> Person:
    """Go the way a new user does: register, then ask for a token."""
    created = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "name": "New User"}
    )
    assert created.status_code == 201, created.text
    token = await client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert token.status_code == 200, token.text
    return Person(uuid.UUID(created.json()["id"]), email, token.json()["accessToken"])


TOKEN_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


@contextlib.asynccontextmanager
async def browser_tab(app: ObservedApp) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client over HTTPS (the cookies are Secure), like a browser tab."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="https://127.0.0.1") as tab:
        yield tab


async def form_token(tab: httpx.AsyncClient, path: str) -> str:
    """The CSRF token of the form on ``path``."""
    page = await tab.get(path)
    assert page.status_code == 200
    match = TOKEN_FIELD.search(page.text)
    assert match, "every form carries a CSRF token"
    return match.group(1)


async def sign_in(tab: httpx.AsyncClient, person: Person, password: str = PASSWORD) -> str:
    """Sign in through the login form; returns the CSRF token the tab now holds."""
    token = await form_token(tab, "/login")
    response = await tab.post(
        "/login", data={"email": person.email, "password": password, "_csrf_token": token}
    )
    assert response.status_code in (302, 303), response.text
    assert response.headers["location"] == "/account"
    return token


@contextlib.asynccontextmanager
async def on_port(app: Any) -> AsyncIterator[str]:
    """``host:port`` of uvicorn, as ``studyhall serve`` runs it, serving ``app`` (an ASGI
    app, already started if it has a lifespan) in the test's own loop."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", **SERVER_OPTIONS
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@contextlib.contextmanager
def cyclic_collector_off() -> Iterator[None]:
    """After one full collection, the cyclic collector off within: what dies inside is
    freed by reference counting or stays alive, where ``until_alive_at_most`` sees it."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def alive(*kinds: type) -> Counter[str]:
    """How many objects of each of ``kinds`` are alive."""
    types = (type(obj) for obj in gc.get_objects())  # type(), as isinstance() trips on proxies
    return Counter(kind.__qualname__ for kind in types if issubclass(kind, kinds))


async def until_alive_at_most(baseline: Counter[str], *kinds: type) -> Counter[str]:
    """Wait (at most 10 s) until no more objects of ``kinds`` are alive than ``baseline``
    counted; the surplus still alive then (empty when they all went)."""
    deadline = asyncio.get_running_loop().time() + 10
    while (surplus := alive(*kinds) - baseline) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    return surplus
