"""Identity API on both deployments: register, tokens, me, password change, login limits."""

from __future__ import annotations

import httpx

from studyhall.config import Settings
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from tests.helpers import PASSWORD, browser_tab, form_token, register_and_login

Client = httpx.AsyncClient


async def test_register_returns_the_new_student(client: Client) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "  Ana@Example.org ", "password": PASSWORD, "name": "Ana"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ana@example.org"
    assert body["name"] == "Ana"
    assert body["role"] == "student"
    assert set(body) == {"id", "email", "name", "role"}


async def test_register_twice_with_the_same_email_is_a_conflict(client: Client) -> None:
    payload = {"email": "twice@example.org", "password": PASSWORD, "name": "Twice"}
    assert (await client.post("/api/v1/auth/register", json=payload)).status_code == 201
    again = await client.post(
        "/api/v1/auth/register", json={**payload, "email": "TWICE@example.org"}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "email_taken"
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_register_refuses_weak_passwords_and_bad_emails(client: Client) -> None:
    weak = await client.post(
        "/api/v1/auth/register", json={"email": "w@example.org", "password": "short", "name": "W"}
    )
    assert weak.status_code == 422
    assert weak.json()["code"] == "weak_password"
    bad_email = await client.post(
        "/api/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD, "name": "B"}
    )
    assert bad_email.status_code == 422
    assert bad_email.json()["code"] == "invalid_email"


async def test_token_login_and_me(client: Client) -> None:
    person = await register_and_login(client, "me@example.org")
    token = await client.post(
        "/api/v1/auth/token", json={"email": "me@example.org", "password": PASSWORD}
    )
    body = token.json()
    assert body["tokenType"] == "bearer"
    assert body["expiresIn"] > 0
    me = await client.get("/api/v1/me", headers=person.headers)
    assert me.status_code == 200
    assert me.json()["email"] == "me@example.org"
    assert me.json()["cohorts"] == []


async def test_wrong_password_and_unknown_account_look_the_same(client: Client) -> None:
    await register_and_login(client, "known@example.org")
    wrong = await client.post(
        "/api/v1/auth/token", json={"email": "known@example.org", "password": "nope-nope"}
    )
    unknown = await client.post(
        "/api/v1/auth/token", json={"email": "ghost@example.org", "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_me_needs_a_valid_token(client: Client) -> None:
    anonymous = await client.get("/api/v1/me")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    forged = await client.get("/api/v1/me", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401
    wrong_scheme = await client.get("/api/v1/me", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert wrong_scheme.status_code == 401


async def test_token_expires_by_the_server_clock(
    client: Client, clock: FakeClock, settings: Settings
) -> None:
    person = await register_and_login(client, "expiry@example.org")
    clock.advance(settings.access_token_ttl_seconds + 1)
    expired = await client.get("/api/v1/me", headers=person.headers)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


async def test_password_change_retires_old_tokens(client: Client) -> None:
    person = await register_and_login(client, "change@example.org")
    changed = await client.post(
        "/api/v1/me/password",
        json={"currentPassword": PASSWORD, "newPassword": "a brand new secret"},
        headers=person.headers,
    )
    assert changed.status_code == 200
    new_token = changed.json()["accessToken"]
    assert (await client.get("/api/v1/me", headers=person.headers)).status_code == 401
    fresh = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {new_token}"})
    assert fresh.status_code == 200
    old_login = await client.post(
        "/api/v1/auth/token", json={"email": "change@example.org", "password": PASSWORD}
    )
    assert old_login.status_code == 401
    new_login = await client.post(
        "/api/v1/auth/token",
        json={"email": "change@example.org", "password": "a brand new secret"},
    )
    assert new_login.status_code == 200


async def test_password_change_checks_the_current_password(client: Client) -> None:
    person = await register_and_login(client, "guard@example.org")
    refused = await client.post(
        "/api/v1/me/password",
        json={"currentPassword": "not-the-password", "newPassword": "another secret"},
        headers=person.headers,
    )
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_credentials"
    assert (await client.get("/api/v1/me", headers=person.headers)).status_code == 200


async def test_failed_logins_are_limited_per_account(
    client: Client, settings: Settings, clock: FakeClock
) -> None:
    await register_and_login(client, "target@example.org")
    for _ in range(settings.login_limit_per_account):
        failed = await client.post(
            "/api/v1/auth/token", json={"email": "target@example.org", "password": "guess-guess"}
        )
        assert failed.status_code == 401
    limited = await client.post(
        "/api/v1/auth/token", json={"email": "target@example.org", "password": PASSWORD}
    )
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    retry_after = int(limited.headers["Retry-After"])
    assert 0 < retry_after <= settings.login_limit_window_seconds
    clock.advance(settings.login_limit_window_seconds)
    allowed = await client.post(
        "/api/v1/auth/token", json={"email": "target@example.org", "password": PASSWORD}
    )
    assert allowed.status_code == 200


async def test_login_attempts_are_limited_per_ip(client: Client, settings: Settings) -> None:
    for index in range(settings.login_limit_per_ip):
        response = await client.post(
            "/api/v1/auth/token",
            json={"email": f"spray{index}@example.org", "password": "guess-guess"},
        )
        assert response.status_code == 401
    limited = await client.post(
        "/api/v1/auth/token", json={"email": "someone@example.org", "password": "guess-guess"}
    )
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers


async def test_welcome_message_arrives_through_the_job_queue(client: Client, run_jobs) -> None:  # type: ignore[no-untyped-def]
    person = await register_and_login(client, "welcome@example.org")
    before = await client.get("/api/v1/me/notifications", headers=person.headers)
    assert before.json() == []
    assert await run_jobs() == 1
    after = await client.get("/api/v1/me/notifications", headers=person.headers)
    assert [item["kind"] for item in after.json()] == ["welcome"]
    assert await run_jobs() == 0


async def test_registrations_are_limited_per_ip(
    client: Client, app: ObservedApp, settings: Settings, clock: FakeClock
) -> None:
    for index in range(settings.register_limit_per_ip):
        body = {"email": f"new{index}@example.org", "password": PASSWORD, "name": "New"}
        response = await client.post("/api/v1/auth/register", json=body)
        assert response.status_code == 201, response.text
    body = {"email": "one-more@example.org", "password": PASSWORD, "name": "New"}
    limited = await client.post("/api/v1/auth/register", json=body)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= settings.login_limit_window_seconds
    # The refused request created nothing: the address can sign in to no such account.
    token = await client.post(
        "/api/v1/auth/token", json={"email": "one-more@example.org", "password": PASSWORD}
    )
    assert token.status_code == 401
    # The register page (a browser at the same address) counts against the same limit.
    async with browser_tab(app) as tab:
        form = {"email": "page@example.org", "password": PASSWORD, "name": "Page"}
        page = await tab.post(
            "/register", data={**form, "_csrf_token": await form_token(tab, "/register")}
        )
    assert page.status_code == 429
    assert "Too many registrations" in page.text
    clock.advance(settings.login_limit_window_seconds)
    allowed = await client.post("/api/v1/auth/register", json=body)
    assert allowed.status_code == 201, allowed.text
