"""CSRF: cookie-authenticated writes need the token; bearer-token calls never do."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from studyhall.platform.auth import Role
from studyhall.platform.csrf import CSRF_HEADER
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.helpers import PASSWORD, browser_tab, form_token, make_person, sign_in


@pytest.fixture
async def browser(app: ObservedApp, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    async with browser_tab(app) as tab:
        yield tab


async def test_cookie_writes_to_the_api_need_the_csrf_header(
    browser: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    token = await sign_in(browser, teacher)
    assert (await browser.get("/api/v1/me")).json()["email"] == teacher.email

    forged = await browser.post("/api/v1/cohorts", json={"name": "Forged"})
    assert forged.status_code == 403
    assert forged.json()["code"] == "csrf_failed"
    wrong = await browser.post(
        "/api/v1/cohorts", json={"name": "Forged"}, headers={CSRF_HEADER: "not-the-token"}
    )
    assert wrong.status_code == 403
    genuine = await browser.post(
        "/api/v1/cohorts", json={"name": "Genuine"}, headers={CSRF_HEADER: token}
    )
    assert genuine.status_code == 201
    listing = await browser.get("/api/v1/cohorts")
    assert [cohort["name"] for cohort in listing.json()] == ["Genuine"]


async def test_forms_without_the_token_are_refused(
    browser: httpx.AsyncClient, platform: Platform
) -> None:
    person = await make_person(platform)
    await browser.get("/login")
    refused = await browser.post("/login", data={"email": person.email, "password": PASSWORD})
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    assert "studyhall_session" not in browser.cookies


async def test_session_cookie_is_http_only_and_logout_ends_it(
    browser: httpx.AsyncClient, platform: Platform
) -> None:
    person = await make_person(platform)
    token = await form_token(browser, "/login")
    response = await browser.post(
        "/login", data={"email": person.email, "password": PASSWORD, "_csrf_token": token}
    )
    cookie_header = next(
        value
        for value in response.headers.get_list("set-cookie")
        if value.startswith("studyhall_session=")
    )
    for attribute in ("HttpOnly", "Secure", "SameSite=lax"):
        assert attribute.lower() in cookie_header.lower()
    stolen = browser.cookies["studyhall_session"]
    account_token = await form_token(browser, "/account")
    await browser.post("/logout", data={"_csrf_token": account_token})
    browser.cookies.clear()
    replay = await browser.get("/api/v1/me", headers={"Cookie": f"studyhall_session={stolen}"})
    assert replay.status_code == 401


async def test_bearer_calls_need_no_csrf_token(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    created = await client.post("/api/v1/cohorts", json={"name": "API"}, headers=teacher.headers)
    assert created.status_code == 201


async def test_a_form_field_that_is_not_utf8_is_a_malformed_body(
    browser: httpx.AsyncClient,
) -> None:
    """Found by tests/test_fuzz.py: Litestar's multipart parser raised UnicodeDecodeError (500)."""
    token = await form_token(browser, "/login")
    boundary = "fuzzboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="_csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n'
        ).encode()
        + b"\xf1\x97\xb0\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    response = await browser.post(
        "/login",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "malformed_body"
