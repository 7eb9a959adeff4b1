"""Reachability of the real services the scaled deployment uses.

A test that needs PostgreSQL or Redis is skipped with a printed reason when the
service is down, unless ``STUDYHALL_REQUIRE_SERVICES=1`` (set by ``.ci/run``),
in which case it fails instead.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from functools import cache

import asyncpg
import pytest

POSTGRES_URL = os.environ.get(
    "STUDYHALL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("STUDYHALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def services_required() -> bool:
    return os.environ.get("STUDYHALL_REQUIRE_SERVICES") == "1"


@cache
def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, under STUDYHALL_REQUIRE_SERVICES=1, fail) when the service is down."""
    if _reachable(host, port):
        return
    reason = f"{name} is not reachable on {host}:{port}"
    if services_required():
        pytest.fail(f"{reason} and STUDYHALL_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(reason)


def require_postgres() -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)


def require_redis() -> None:
    require_service("Redis", "127.0.0.1", 6379)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def create_scratch_database(purpose: str) -> str:
    """Create a new, empty PostgreSQL database and return its URL."""
    require_postgres()
    name = f"studyhall_{purpose}_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(url: str) -> None:
    """Drop a scratch database, closing whatever connections are still open on it."""
    name = url.rsplit("/", 1)[1]
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def scratch_postgres(purpose: str) -> AsyncIterator[str]:
    url = await create_scratch_database(purpose)
    try:
        yield url
    finally:
        await drop_database(url)
