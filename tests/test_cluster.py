"""The scaled deployment as an operator runs it: two app processes and a job worker on one
PostgreSQL and one Redis, each a real process."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from studyhall.identity.tasks import WELCOME_JOB
from tests.conftest import TEST_SECRET, delete_prefix
from tests.helpers import PASSWORD
from tests.processes import processes, studyhall
from tests.services import REDIS_URL, require_redis, scratch_postgres

pytestmark = pytest.mark.services


async def _eventually(what: str, check, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.1)


async def test_two_app_processes_and_a_worker_share_one_database_and_redis(
    tmp_path: Path,
) -> None:
    require_redis()
    prefix = f"test:{uuid.uuid4().hex}:"
    async with scratch_postgres("cluster") as database_url:
        env = {
            "STUDYHALL_DATABASE_URL": database_url,
            "STUDYHALL_REDIS_URL": REDIS_URL,
            "STUDYHALL_REDIS_PREFIX": prefix,
            "STUDYHALL_SECRET_KEY": TEST_SECRET,
            "STUDYHALL_DATA_DIR": str(tmp_path),
            "STUDYHALL_PASSWORD_HASH_PROFILE": "fast",
            "STUDYHALL_ACCESS_LOG": "false",
            "STUDYHALL_JOB_LEASE_SECONDS": "2",
            "STUDYHALL_JOB_POLL_SECONDS": "0.2",
        }
        pg = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            with processes(env) as cluster:
                subprocess.run(studyhall("migrate"), env=cluster.env, check=True, timeout=60)
                node_a = cluster.serve(tmp_path / "a.log")
                node_b = cluster.serve(tmp_path / "b.log", "--workers", "2")
                async with httpx.AsyncClient(timeout=10) as http:
                    # A token issued by one node is accepted by the other.
                    registered = await http.post(
                        f"{node_a}/api/v1/auth/register",
                        json={"email": "c@example.org", "password": PASSWORD, "name": "C"},
                    )
                    assert registered.status_code == 201
                    token = await http.post(
                        f"{node_a}/api/v1/auth/token",
                        json={"email": "c@example.org", "password": PASSWORD},
                    )
                    auth = {"Authorization": f"Bearer {token.json()['accessToken']}"}
                    me = await http.get(f"{node_b}/api/v1/me", headers=auth)
                    assert me.status_code == 200
                    assert me.json()["email"] == "c@example.org"

                    # The welcome job node A queued is held by a worker that then dies.
                    stalling = cluster.start(
                        [sys.executable, "-m", "tests.cluster_worker"], tmp_path / "w1.log"
                    )

                    async def held_uncommitted() -> bool:
                        return bool(
                            await pg.fetchval(
                                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
                                " AND state = 'idle in transaction'",
                                database_url.rsplit("/", 1)[1],
                            )
                        ) and bool(
                            await pg.fetchval(
                                "SELECT count(*) FROM jobs WHERE kind = $1"
                                " AND state = 'running' AND attempts = 1",
                                WELCOME_JOB,
                            )
                        )

                    await _eventually("the worker holds the job", held_uncommitted)
                    cluster.kill_9(stalling)

                    cluster.start(studyhall("worker"), tmp_path / "w2.log")

                    async def done() -> bool:
                        return (
                            await pg.fetchval("SELECT state FROM jobs WHERE kind = $1", WELCOME_JOB)
                            == "done"
                        )

                    await _eventually("the restarted worker finished the job", done)
                    attempts = await pg.fetchval(
                        "SELECT attempts FROM jobs WHERE kind = $1", WELCOME_JOB
                    )
                    inbox = await http.get(f"{node_b}/api/v1/me/notifications", headers=auth)
                    kinds = [item["kind"] for item in inbox.json()]
                    print(f"job attempts={attempts}, welcome messages={kinds.count('welcome')}")
                    assert attempts == 2
                    assert kinds == ["welcome"]

                    # Node B runs two processes; its /metrics sums what both served.
                    for _ in range(20):
                        await http.get(f"{node_b}/healthz")
                    metrics = (await http.get(f"{node_b}/metrics")).text
                    served = re.search(
                        r'studyhall_http_requests_total\{method="GET",route="/healthz",'
                        r'status="200"\} (\d+)',
                        metrics,
                    )
                    assert served, metrics
                    print(f"node B served /healthz {served.group(1)} times over 2 processes")
                    assert int(served.group(1).split(".")[0]) >= 20
        finally:
            await pg.close()
            await delete_prefix(prefix)
