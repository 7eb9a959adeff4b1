"""The authentication cache never outlives what it caches: password changes and logouts
take effect at once on every node, and a dead hot store only costs a database query."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from studyhall.app import create_app
from studyhall.config import Settings
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.conftest import serving
from tests.helpers import PASSWORD, browser_tab, form_token, make_person, sign_in


@pytest.fixture
async def other_node(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database and hot store (scaled only: embedded is one process)."""
    app = create_app(settings, clock=clock)
    async with serving(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node-b") as http:
            yield http


@pytest.mark.parametrize("deployment", ["scaled"], indirect=True)
async def test_password_change_on_one_node_retires_tokens_on_another(
    client: httpx.AsyncClient, other_node: httpx.AsyncClient, platform: Platform
) -> None:
    person = await make_person(platform)
    assert (await other_node.get("/api/v1/me", headers=person.headers)).status_code == 200
    changed = await client.post(
        "/api/v1/me/password",
        json={"currentPassword": PASSWORD, "newPassword": "something else entirely"},
        headers=person.headers,
    )
    assert changed.status_code == 200
    assert (await other_node.get("/api/v1/me", headers=person.headers)).status_code == 401
    fresh = {"Authorization": f"Bearer {changed.json()['accessToken']}"}
    assert (await other_node.get("/api/v1/me", headers=fresh)).status_code == 200


async def test_authentication_survives_a_dead_hot_store(
    client: httpx.AsyncClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = await make_person(platform)

    async def unreachable(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("hot store down")

    monkeypatch.setattr(platform.hot, "get", unreachable)
    monkeypatch.setattr(platform.hot, "set", unreachable)
    me = await client.get("/api/v1/me", headers=person.headers)
    assert me.status_code == 200
    assert me.json()["email"] == person.email


async def test_password_change_signs_out_the_other_browsers(
    app: ObservedApp, client: httpx.AsyncClient, platform: Platform
) -> None:
    person = await make_person(platform)
    async with browser_tab(app) as laptop, browser_tab(app) as phone:
        await sign_in(laptop, person)
        await sign_in(phone, person)
        assert (await phone.get("/api/v1/me")).status_code == 200  # now cached
        token = await form_token(laptop, "/account")
        changed = await laptop.post(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": "a whole new secret",
                "_csrf_token": token,
            },
        )
        assert changed.status_code == 200
        assert "Password changed" in changed.text
        assert (await phone.get("/api/v1/me")).status_code == 401
        assert (await laptop.get("/api/v1/me")).status_code == 200
