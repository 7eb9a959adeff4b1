"""Liveness, readiness and metrics endpoints for operators and load balancers."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import MediaType, Response, get
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from studyhall.platform import jobs
from studyhall.platform.errors import problem_response
from studyhall.platform.http import Runtime
from studyhall.platform.metrics import gauge, render_metrics


@get("/healthz", tags=["operations"], sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


async def _check(name: str, probe: Any, seconds: float) -> tuple[str, str]:
    try:
        await asyncio.wait_for(probe(), seconds)
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        return name, f"failed: {type(exc).__name__}"
    return name, "ok"


@get("/readyz", tags=["operations"])
async def readyz(platform: Runtime) -> Response[Any]:
    """Database and (when configured) Redis answer; 503 otherwise so traffic moves elsewhere."""

    async def database() -> None:
        async with platform.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    probes: dict[str, Any] = {"database": database}
    if platform.redis is not None:
        probes["redis"] = platform.hot.ping
    timeout = platform.settings.readiness_timeout_seconds
    results = dict(
        await asyncio.gather(*(_check(name, probe, timeout) for name, probe in probes.items()))
    )
    if all(result == "ok" for result in results.values()):
        return Response({"status": "ready", "checks": results})
    failed = ", ".join(name for name, result in results.items() if result != "ok")
    return problem_response(
        503,
        "not_ready",
        "Not ready",
        f"Unavailable: {failed}",
        headers={"Retry-After": "5"},
        extra={"checks": results},
    )


@get("/metrics", tags=["operations"], media_type=MediaType.TEXT)
async def metrics(platform: Runtime) -> Response[bytes]:
    scrape_time = []
    pool = platform.engine.pool
    if isinstance(pool, QueuePool):
        scrape_time += [
            gauge("studyhall_db_pool_size", "Connections the pool keeps", pool.size()),
            gauge("studyhall_db_pool_checked_out", "Connections in use", pool.checkedout()),
            gauge(
                "studyhall_db_pool_overflow", "Connections beyond the pool size", pool.overflow()
            ),
        ]
    try:
        async with platform.sessions() as session:
            stats = await jobs.queue_stats(session, platform.clock.now())
    except Exception:  # metrics must render even while the database is down
        stats = None
    if stats is not None:
        scrape_time += [
            gauge("studyhall_jobs_queue_depth", "Jobs due and waiting", stats.depth),
            gauge("studyhall_jobs_running", "Jobs held by a worker", stats.running),
            gauge("studyhall_jobs_failed", "Jobs that gave up", stats.failed),
            gauge(
                "studyhall_jobs_lag_seconds",
                "Age of the oldest due job",
                stats.oldest_due_lag_seconds,
            ),
        ]
    body, content_type = render_metrics(scrape_time)
    return Response(body, media_type=content_type)


ROUTES = [healthz, readyz, metrics]
