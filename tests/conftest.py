"""Shared fixtures: every API test runs against both deployments.

``embedded``: a fresh SQLite file (copied from one migrated template) and the
in-process hot store and pub/sub. ``scaled``: one PostgreSQL database migrated
once per run and truncated before each test, and Redis under a key prefix that
is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx
import pytest
from playwright.async_api import expect as async_expect
from playwright.sync_api import expect as sync_expect
from redis.asyncio import Redis

from studyhall.app import build_worker, create_app, litestar_of
from studyhall.config import Settings, load_settings
from studyhall.models import metadata
from studyhall.platform.clock import FakeClock
from studyhall.platform.migrate import upgrade
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.services import REDIS_URL, create_scratch_database, drop_database, require_redis

TEST_SECRET = "test-secret-key-" + "x" * 32
DEPLOYMENTS = ["embedded", "scaled"]
T = TypeVar("T")

# Browser assertions wait longer than Playwright's 5 s: CI machines may be busy, and a
# waiting assertion passes the moment the page is right, so this costs nothing when green.
sync_expect.set_options(timeout=15_000)
async_expect.set_options(timeout=15_000)


def off_loop(work: Callable[[], T]) -> T:
    """Run blocking setup (it may call asyncio.run) in its own thread, clear of the test's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def base_settings(data_dir: Path, **overrides: object) -> Settings:
    env = {
        "STUDYHALL_DATA_DIR": str(data_dir),
        "STUDYHALL_SECRET_KEY": TEST_SECRET,
        "STUDYHALL_PASSWORD_HASH_PROFILE": "fast",
        "STUDYHALL_ACCESS_LOG": "false",
        "STUDYHALL_RUN_WORKER_IN_APP": "false",
        # Freezing the heap of a test process would keep every earlier test's cycles.
        "STUDYHALL_GC_YOUNG_THRESHOLD": "0",
    }
    return load_settings(env).with_overrides(**overrides)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database that each embedded test copies (migrating is slow)."""
    directory = tmp_path_factory.mktemp("sqlite-template")
    settings = base_settings(directory)
    off_loop(lambda: upgrade(settings))
    return directory / "studyhall.db"


@pytest.fixture(scope="session")
def postgres_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL database for this run, migrated once and dropped at the end."""
    url = off_loop(lambda: asyncio.run(create_scratch_database("test")))
    settings = base_settings(tmp_path_factory.mktemp("pg"), database_url=url)
    off_loop(lambda: upgrade(settings))
    try:
        yield url
    finally:
        off_loop(lambda: asyncio.run(drop_database(url)))


async def truncate_all(database_url: str) -> None:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


async def delete_prefix(prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=DEPLOYMENTS)
def deployment(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def settings(
    deployment: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Settings]:
    """Settings for one test on one deployment, with its own clean storage."""
    if deployment == "embedded":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "studyhall.db")
        yield base_settings(tmp_path)
        return
    require_redis()
    database_url: str = request.getfixturevalue("postgres_database")
    await truncate_all(database_url)
    prefix = f"test:{uuid.uuid4().hex}:"
    try:
        yield base_settings(
            tmp_path, database_url=database_url, redis_url=REDIS_URL, redis_prefix=prefix
        )
    finally:
        await delete_prefix(prefix)


@pytest.fixture
def clock() -> FakeClock:
    """Starts at the real time so stored timestamps look real; moves only when told."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> ObservedApp:
    return create_app(settings, clock=clock)


@contextlib.asynccontextmanager
async def serving(app: ObservedApp) -> AsyncIterator[None]:
    """Run the app's lifespan in a task of its own: its task group must enter and exit
    in one task, and pytest-asyncio sets fixtures up and tears them down in different ones."""
    started = asyncio.Event()
    stop = asyncio.Event()

    async def hold() -> None:
        async with litestar_of(app).lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()
    try:
        yield
    finally:
        stop.set()
        await task


@pytest.fixture
async def client(app: ObservedApp) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, in the test's own event loop (so tests may share the
    app's database pool), with the app's startup and shutdown run around it."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with (
        serving(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http,
    ):
        yield http


@pytest.fixture
def platform(app: ObservedApp, client: httpx.AsyncClient) -> Platform:
    """The running app's platform (started by the client's lifespan)."""
    started: Platform = litestar_of(app).state.platform
    return started


@pytest.fixture
def run_jobs(platform: Platform):  # type: ignore[no-untyped-def]
    """Run due jobs to completion now, the way the worker would."""

    async def drain() -> int:
        worker = build_worker(platform)
        count = 0
        while await worker.run_once():
            count += 1
        return count

    return drain
