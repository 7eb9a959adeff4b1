"""Browser fixtures: Debian's Chromium driven by Playwright against a real server process.

One ``studyhall serve`` process and one Chromium per test session; every test gets
a fresh browser context (its own cookies and storage). The server runs the embedded
deployment on a throw-away data directory, with accounts made by the real CLI.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.processes import processes, studyhall

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET_KEY = "browser-tests-secret-key-0123456789abcd"  # 40 characters


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    name: str
    role: str


TEACHER = Account("ada@example.org", "analytical-engine-1843", "Ada Lovelace", "teacher")
STUDENT = Account("grace@example.org", "first-actual-bug-1947", "Grace Hopper", "student")
# Only the password-change test signs in with it: that test rewrites its password.
PASSWORD_CHANGER = Account(
    "margaret@example.org", "apollo-guidance-1969", "Margaret Hamilton", "student"
)
# The payments test: products are an admin's, and the buyer's purchases are her own.
ADMIN = Account("ida@example.org", "payments-admin-pass-1", "Ida Admin", "admin")
BUYER = Account("bea@example.org", "payments-buyer-pass-1", "Bea Buyer", "student")
CLI_ACCOUNTS = (TEACHER, STUDENT, PASSWORD_CHANGER, ADMIN, BUYER)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real ``studyhall serve`` process (embedded, fresh data dir)."""
    data_dir = tmp_path_factory.mktemp("browser-server")
    # Without the caller's STUDYHALL_* settings (a PostgreSQL URL, say): the server under
    # test is the embedded deployment on its own data directory.
    env = {key: value for key, value in os.environ.items() if not key.startswith("STUDYHALL_")}
    env |= {
        "STUDYHALL_DATA_DIR": str(data_dir),
        "STUDYHALL_SECRET_KEY": SECRET_KEY,
        "STUDYHALL_PASSWORD_HASH_PROFILE": "fast",
        "STUDYHALL_ACCESS_LOG": "false",
        # One server serves every browser test from one address: the suite signs in more
        # often than the per-IP login and registration limits allow (tests/identity
        # checks those limits).
        "STUDYHALL_LOGIN_LIMIT_PER_IP": "100000",
        "STUDYHALL_REGISTER_LIMIT_PER_IP": "100000",
    }
    with processes(env) as group:
        subprocess.run(studyhall("migrate"), env=group.env, check=True, capture_output=True)
        for account in CLI_ACCOUNTS:
            subprocess.run(
                studyhall(
                    "user",
                    "create",
                    account.email,
                    "--password",
                    account.password,
                    "--role",
                    account.role,
                    "--name",
                    account.name,
                ),
                env=group.env,
                check=True,
                capture_output=True,
            )
        yield group.serve(data_dir / "server.log")


@pytest.fixture(scope="session")
def teacher(server: str) -> Account:
    """A teacher made with ``studyhall user create`` before the server started."""
    return TEACHER


@pytest.fixture(scope="session")
def student(server: str) -> Account:
    """A student made with ``studyhall user create``."""
    return STUDENT


@pytest.fixture(scope="session")
def password_changer(server: str) -> Account:
    """A student whose password one test changes, so no other test signs in with it."""
    return PASSWORD_CHANGER


class _PlaywrightLoop:
    """Playwright's sync API runs an event loop in a greenlet and, between its calls,
    leaves that loop marked as running in this thread. While the session's browser is
    alive, that marker would make every later async test fail ("Runner.run() cannot be
    called from a running event loop"), so it is set only while a test here runs."""

    loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def hand_over(cls) -> None:
        if cls.loop is not None:
            asyncio._set_running_loop(cls.loop)

    @staticmethod
    def take_back() -> None:
        asyncio._set_running_loop(None)


@pytest.fixture(autouse=True)
def _playwright_loop_only_in_browser_tests() -> Iterator[None]:
    _PlaywrightLoop.hand_over()
    try:
        yield
    finally:
        _PlaywrightLoop.take_back()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium (Playwright never downloads a browser here)."""
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM}"
        if os.environ.get("STUDYHALL_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason} and STUDYHALL_REQUIRE_BROWSER=1", pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        # Every sync call ends by marking Playwright's loop as running: this is it.
        _PlaywrightLoop.loop = asyncio._get_running_loop()
        try:
            yield chromium
        finally:
            _PlaywrightLoop.hand_over()  # session teardown comes after every test's
            _PlaywrightLoop.loop = None
            chromium.close()


@pytest.fixture
def context(browser: Browser, server: str) -> Iterator[BrowserContext]:
    """A fresh browser context (no cookies) whose relative URLs resolve against the server."""
    fresh = browser.new_context(base_url=server)
    try:
        yield fresh
    finally:
        fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def phone(browser: Browser, server: str) -> Iterator[Page]:
    """A page in a 375x667 phone-sized context."""
    context = browser.new_context(
        base_url=server,
        viewport={"width": 375, "height": 667},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, server: str, account: Account, then: str = "/account") -> None:
    """Sign in through the login page, which comes back to ``then``."""
    page.goto(f"/login?next={then}")
    page.get_by_label("Email", exact=True).fill(account.email)
    page.get_by_label("Password", exact=True).fill(account.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{server}{then}")


def scroll_width(page: Page) -> int:
    """The page's full width: more than the viewport means a horizontal scroll bar."""
    width: int = page.evaluate("document.scrollingElement.scrollWidth")
    return width


def unlabelled_inputs(page: Page) -> list[str]:
    """The visible form controls that have no label (as HTML, to show in a failure)."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter((el) => el.type !== 'hidden')
            .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                            && !el.getAttribute('aria-labelledby'))
            .map((el) => el.outerHTML)"""
    )
    return found
