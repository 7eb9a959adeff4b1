"""The scaled deployment built from real processes, for fault injection (``pytest -m chaos``).

Each test gets its own PostgreSQL database and Redis key prefix. Tests that stop Redis
run a private ``redis-server`` (no persistence) on a free port and never touch the
shared one. Without PostgreSQL, Redis or ``redis-server`` the tests skip with the
reason, or fail under ``STUDYHALL_REQUIRE_SERVICES=1`` (as CI runs them).
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET, delete_prefix
from tests.processes import free_port
from tests.services import (
    REDIS_URL,
    require_postgres,
    require_redis,
    scratch_postgres,
    services_required,
)


@dataclass
class PrivateRedis:
    """A ``redis-server`` of one test's own, stopped and started by the test."""

    binary: str
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                self.binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
            ],
            stdout=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        """SIGKILL: with no persistence everything it held is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed"
        if services_required():
            pytest.fail(f"{reason} and STUDYHALL_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(reason)
    server = PrivateRedis(binary, free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def chaos_env(tmp_path: Path, database_url: str, redis_url: str, prefix: str) -> dict[str, str]:
    return {
        "STUDYHALL_DATABASE_URL": database_url,
        "STUDYHALL_REDIS_URL": redis_url,
        "STUDYHALL_REDIS_PREFIX": prefix,
        "STUDYHALL_SECRET_KEY": TEST_SECRET,
        "STUDYHALL_DATA_DIR": str(tmp_path),
        "STUDYHALL_PASSWORD_HASH_PROFILE": "fast",
        "STUDYHALL_ACCESS_LOG": "false",
        "STUDYHALL_RUN_WORKER_IN_APP": "false",
        # Every simulated student registers and signs in from this one address.
        "STUDYHALL_REGISTER_LIMIT_PER_IP": "1000",
        "STUDYHALL_LOGIN_LIMIT_PER_IP": "1000",
        "STUDYHALL_JOB_LEASE_SECONDS": "2",
        "STUDYHALL_JOB_POLL_SECONDS": "0.2",
    }


@pytest.fixture
async def shared_redis_env(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """A scratch database and the shared Redis under a fresh prefix (deleted afterwards)."""
    require_postgres()
    require_redis()
    prefix = f"test:{uuid.uuid4().hex}:"
    async with scratch_postgres("chaos") as database_url:
        try:
            yield chaos_env(tmp_path, database_url, REDIS_URL, prefix)
        finally:
            await delete_prefix(prefix)


@pytest.fixture
async def private_redis_env(
    tmp_path: Path, private_redis: PrivateRedis
) -> AsyncIterator[dict[str, str]]:
    """A scratch database and the test's own Redis."""
    require_postgres()
    async with scratch_postgres("chaos") as database_url:
        yield chaos_env(tmp_path, database_url, private_redis.url, "chaos:")
