"""The leaderboard page in a real Chromium against a real server: the student sees their
rank, and it moves when another student's result arrives, without a reload.

Playwright's async API in the test's own event loop, with a server process and a browser of
this module's own: the sync fixtures of tests/web belong to that package.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.helpers import PASSWORD, Person
from tests.leaderboards.helpers import make_exam, take
from tests.processes import processes, studyhall
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, SECRET_KEY, TEACHER

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A ``studyhall serve`` process (embedded deployment) with one teacher account."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("STUDYHALL_")}
    env |= {
        "STUDYHALL_DATA_DIR": str(tmp_path),
        "STUDYHALL_SECRET_KEY": SECRET_KEY,
        "STUDYHALL_PASSWORD_HASH_PROFILE": "fast",
        "STUDYHALL_ACCESS_LOG": "false",
    }
    with processes(env) as group:
        subprocess.run(studyhall("migrate"), env=group.env, check=True, capture_output=True)
        account = TEACHER
        create = ("user", "create", account.email, "--password", account.password)
        subprocess.run(
            studyhall(*create, "--role", "teacher", "--name", account.name),
            env=group.env,
            check=True,
            capture_output=True,
        )
        yield group.serve(tmp_path / "server.log")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM}"
        if os.environ.get("STUDYHALL_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason} and STUDYHALL_REQUIRE_BROWSER=1", pytrace=False)
        pytest.skip(reason)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def _login(http: httpx.AsyncClient, email: str, password: str) -> Person:
    token = await http.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert token.status_code == 200, token.text
    bearer = token.json()["accessToken"]
    me = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {bearer}"})
    return Person(uuid.UUID(me.json()["id"]), email, bearer)


async def _student(http: httpx.AsyncClient, name: str) -> Person:
    email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.org"
    created = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": name}
    )
    assert created.status_code == 201, created.text
    return await _login(http, email, PASSWORD)


async def test_the_page_shows_the_rank_and_follows_new_results_live(
    server: str, browser: Browser
) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        teacher = await _login(http, TEACHER.email, TEACHER.password)
        exam_id = await make_exam(http, teacher, title="Live mock")
        ada = await _student(http, "Ada")
        bea = await _student(http, "Bea")
        await take(http, ada, exam_id, 2)

        context = await browser.new_context(base_url=server)
        page = await context.new_page()
        target = f"/exams/{exam_id}/leaderboard"
        await page.goto(f"/login?next={target}")
        await page.get_by_label("Email", exact=True).fill(ada.email)
        await page.get_by_label("Password", exact=True).fill(PASSWORD)
        await page.get_by_role("button", name="Sign in", exact=True).click()
        await expect(page).to_have_url(f"{server}{target}")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Leaderboard: Live mock")
        rank = page.locator("[data-my-rank]")
        await expect(rank).to_have_text("1")
        await expect(page.locator("[data-live-status]")).to_have_attribute("data-state", "live")
        await page.evaluate("window.notReloaded = true")

        await take(http, bea, exam_id, 4)  # another student's result arrives

        await expect(rank).to_have_text("2")
        top = page.locator('[data-rows="top"] tr')
        await expect(top).to_have_count(2)
        await expect(top.first).to_contain_text("Bea")
        await expect(top.nth(1)).to_contain_text("Ada (you)")
        await expect(page.locator("[data-announce]")).to_have_text("Your rank is now 2 of 2.")
        assert await page.evaluate("window.notReloaded") is True, "updated in place"

        await page.set_viewport_size({"width": 375, "height": 667})
        width = await page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 375, "no sideways scrolling on a phone"
        await context.close()
