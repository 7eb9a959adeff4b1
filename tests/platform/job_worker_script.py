"""A real worker process for the kill -9 test: ``python -m tests.platform.job_worker_script URL``.

Its one job kind records an effect and then, on attempt 1 only, holds the job (and its
open transaction) for a minute, so the test can SIGKILL the process mid-job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any

from studyhall.config import Settings
from studyhall.platform.clock import SystemClock
from studyhall.platform.db import create_engine, create_session_factory
from studyhall.platform.jobs import JobContext, JobRegistry, Worker
from tests.platform.jobs_effects import record_effect

HELD_EFFECT_JOB = "test.held_effect"
HOLD_SECONDS = 60
LEASE_SECONDS = 2.0
POLL_SECONDS = 0.1


async def held_effect(ctx: JobContext, payload: dict[str, Any]) -> None:
    await record_effect(ctx)
    if ctx.attempt == 1:
        await asyncio.sleep(HOLD_SECONDS)


async def main(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url))
    registry = JobRegistry()
    registry.job(HELD_EFFECT_JOB)(held_effect)
    worker = Worker(
        create_session_factory(engine),
        SystemClock(),
        registry,
        owner=f"job_worker_script:{os.getpid()}",
        lease_seconds=LEASE_SECONDS,
        poll_seconds=POLL_SECONDS,
        concurrency=1,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await worker.run(stop)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(main(sys.argv[1]))
