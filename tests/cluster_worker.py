"""A real job worker whose welcome job stalls on its first attempt after writing its effect,
so a test can kill it with SIGKILL while it holds the job (``python -m tests.cluster_worker``)."""

from __future__ import annotations

import asyncio
from typing import Any

from studyhall.app import build_worker
from studyhall.config import load_settings
from studyhall.identity.tasks import WELCOME_JOB, send_welcome
from studyhall.platform.jobs import JobContext, JobRegistry
from studyhall.platform.runtime import Platform


async def stalling_welcome(ctx: JobContext, payload: dict[str, Any]) -> None:
    await send_welcome(ctx, payload)
    await ctx.session.flush()
    if ctx.attempt == 1:
        await asyncio.sleep(3600)


async def main() -> None:
    platform = await Platform.start(load_settings())
    registry = JobRegistry()
    registry.job(WELCOME_JOB)(stalling_welcome)
    await build_worker(platform, registry).run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main())
