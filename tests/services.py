"""Reachability of the real services the scaled deployment uses.

A test that needs PostgreSQL or Redis is skipped with a printed reason when the
service is down, unless ``STUDYHALL_REQUIRE_SERVICES=1`` (set by ``.ci/run``),
in which case it fails instead.
"""

from __future__ import annotations

import os
import socket
from functools import cache

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
