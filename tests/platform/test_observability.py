"""Health, readiness, Prometheus metrics and JSON logs."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from studyhall.app import create_app, litestar_of
from studyhall.config import Settings
from studyhall.platform.auth import Role
from studyhall.platform.logging import JsonFormatter
from studyhall.platform.runtime import Platform
from tests.conftest import base_settings, serving
from tests.helpers import make_person
from tests.services import require_service


async def test_healthz_and_readyz(client: httpx.AsyncClient, settings: Settings) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    expected = {"database": "ok"} | ({"redis": "ok"} if settings.redis_url else {})
    assert ready.json() == {"status": "ready", "checks": expected}


async def test_metrics_show_requests_by_route_template(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    created = await client.post("/api/v1/cohorts", json={"name": "M"}, headers=teacher.headers)
    await client.get(f"/api/v1/cohorts/{created.json()['id']}", headers=teacher.headers)
    await client.get("/api/v1/no-such-route")
    text = (await client.get("/metrics")).text
    assert (
        'studyhall_http_requests_total{method="GET",route="/api/v1/cohorts/{cohort_id}",'
        'status="200"}' in text
    )
    assert 'studyhall_http_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert (
        'studyhall_http_request_duration_seconds_bucket{le="0.1",method="POST",'
        'route="/api/v1/cohorts"}' in text
    )
    for gauge in (
        "studyhall_http_requests_in_flight",
        "studyhall_websocket_connections",
        "studyhall_db_pool_checked_out",
        "studyhall_jobs_queue_depth",
        "studyhall_jobs_lag_seconds",
    ):
        assert f"\n{gauge} " in text, gauge


async def test_job_queue_depth_is_reported(client: httpx.AsyncClient, run_jobs) -> None:  # type: ignore[no-untyped-def]
    for index in range(3):
        await client.post(
            "/api/v1/auth/register",
            json={"email": f"q{index}@example.org", "password": "long enough", "name": "Q"},
        )
    assert "\nstudyhall_jobs_queue_depth 3.0" in (await client.get("/metrics")).text
    await run_jobs()
    assert "\nstudyhall_jobs_queue_depth 0.0" in (await client.get("/metrics")).text


async def test_logs_are_json_with_request_and_user_ids(
    tmp_path: Path, sqlite_template: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copy(sqlite_template, tmp_path / "studyhall.db")
    app = create_app(base_settings(tmp_path, access_log=True))
    caplog.handler.setFormatter(JsonFormatter())
    caplog.set_level(logging.INFO, logger="studyhall.access")
    async with serving(app):
        platform: Platform = litestar_of(app).state.platform
        person = await make_person(platform)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await client.get("/api/v1/me", headers={**person.headers, "X-Request-ID": "req-42"})
    lines = [json.loads(line) for line in caplog.text.splitlines() if line.startswith("{")]
    entry = next(line for line in lines if line.get("path") == "/api/v1/me")
    assert entry["request_id"] == "req-42"
    assert entry["user_id"] == str(person.id)
    assert entry["status"] == 200
    assert entry["route"] == "/api/v1/me"
    assert entry["duration_ms"] >= 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A Redis server of this test's own, so stopping it disturbs nobody else."""
    require_service("Redis", "127.0.0.1", 6379)
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed")
    port = _free_port()
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        processes.append(
            subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(tmp_path),
                ],
                stdout=subprocess.DEVNULL,
            )
        )

    start()
    try:
        yield port, processes
    finally:
        for process in processes:
            process.kill()
            process.wait()


async def _wait_for_status(client: httpx.AsyncClient, status: int) -> httpx.Response:
    for _ in range(100):
        response = await client.get("/readyz")
        if response.status_code == status:
            return response
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz never answered {status}")


@pytest.mark.services
async def test_readyz_follows_redis_going_away_and_coming_back(
    tmp_path: Path, sqlite_template: Path, own_redis: tuple[int, list[subprocess.Popen[bytes]]]
) -> None:
    port, processes = own_redis
    shutil.copy(sqlite_template, tmp_path / "studyhall.db")
    settings = base_settings(
        tmp_path, redis_url=f"redis://127.0.0.1:{port}/0", readiness_timeout_seconds=0.5
    )
    app = create_app(settings)
    async with serving(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await _wait_for_status(client, 200)
            processes[-1].kill()
            processes[-1].wait()
            down = await _wait_for_status(client, 503)
            assert down.json()["code"] == "not_ready"
            assert down.json()["checks"]["redis"].startswith("failed")
            assert down.json()["checks"]["database"] == "ok"
            assert down.headers["Retry-After"]
            processes.append(subprocess.Popen(processes[-1].args, stdout=subprocess.DEVNULL))
            back = await _wait_for_status(client, 200)
            assert back.json()["checks"]["redis"] == "ok"
