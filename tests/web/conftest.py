"""Browser fixtures: Debian's Chromium driven by Playwright against a real server process.

One ``studyhall serve`` process and one Chromium per test session; every test gets
a fresh browser context (its own cookies and storage). The server runs the embedded
deployment on a throw-away data directory, with accounts made by the real CLI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET_KEY = "browser-tests-secret-key-0123456789abcd"  # 40 characters
STARTUP_TIMEOUT_SECONDS = 20.0
# The console script next to this interpreter: studyhall/cli.py has no __main__ guard,
# so ``python -m studyhall.cli`` would import the commands and exit without running one.
STUDYHALL = Path(sys.executable).parent / "studyhall"


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    name: str
    role: str


TEACHER = Account("ada@example.org", "analytical-engine-1843", "Ada Lovelace", "teacher")
# Its own account: the password-change test rewrites its password.
STUDENT = Account("grace@example.org", "first-actual-bug-1947", "Grace Hopper", "student")
CLI_ACCOUNTS = (TEACHER, STUDENT)


def _server_env(data_dir: Path) -> dict[str, str]:
    # Drop the caller's STUDYHALL_* settings (a DATABASE_URL pointing at PostgreSQL, say):
    # the server under test is the embedded deployment on its own data directory.
    env = {key: value for key, value in os.environ.items() if not key.startswith("STUDYHALL_")}
    env.update(
        STUDYHALL_DATA_DIR=str(data_dir),
        STUDYHALL_SECRET_KEY=SECRET_KEY,
        STUDYHALL_PASSWORD_HASH_PROFILE="fast",
        STUDYHALL_ACCESS_LOG="false",
    )
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run_cli(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [str(STUDYHALL), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"`studyhall {' '.join(args)}` exited with {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}",
            pytrace=False,
        )


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"studyhall serve exited with {process.returncode} before it was healthy:\n"
                f"{log.read_text(errors='replace')[-4000:]}",
                pytrace=False,
            )
        if _healthy(f"{base_url}/healthz"):
            return
        time.sleep(0.1)  # polling interval of the readiness probe, not a wait for the app
    pytest.fail(
        f"studyhall serve did not answer /healthz within {STARTUP_TIMEOUT_SECONDS:.0f} s:\n"
        f"{log.read_text(errors='replace')[-4000:]}",
        pytrace=False,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real ``studyhall serve`` process (embedded, fresh data dir)."""
    data_dir = tmp_path_factory.mktemp("browser-server")
    env = _server_env(data_dir)
    _run_cli(env, "migrate")
    for account in CLI_ACCOUNTS:
        _run_cli(
            env,
            "user",
            "create",
            account.email,
            "--password",
            account.password,
            "--role",
            account.role,
            "--name",
            account.name,
        )
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = data_dir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(STUDYHALL), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(process, base_url, log)
        yield base_url
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def teacher(server: str) -> Account:
    """A teacher made with ``studyhall user create`` before the server started."""
    return TEACHER


@pytest.fixture(scope="session")
def student(server: str) -> Account:
    """A student made with ``studyhall user create``; only one test may change its password."""
    return STUDENT


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
        try:
            yield chromium
        finally:
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
