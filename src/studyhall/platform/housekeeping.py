"""The hourly housekeeping job: expired idempotency keys, and finished jobs past their
retention (a million students leave a million expiry jobs behind every exam season).

One job per hour however many processes ask (its dedupe key is the hour). A full batch
means more is waiting, so the next run is due at once. The kind keeps its first name,
``platform.idempotency.prune``, so queues written by earlier versions still run it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from studyhall.platform import idempotency, jobs
from studyhall.platform.clock import Clock

PRUNE_JOB = "platform.idempotency.prune"
PRUNE_INTERVAL = timedelta(hours=1)
JOB_RETENTION = timedelta(days=7)
"""Done jobs are kept a week for operators to look back; failed ones until deleted by hand."""
logger = logging.getLogger("studyhall.housekeeping")


async def schedule(session_factory: async_sessionmaker[AsyncSession], clock: Clock) -> None:
    """Queue the next run. App start calls it; it never raises, because an app must start
    while the database is away."""
    try:
        async with session_factory() as session, session.begin():
            await _enqueue_next(session, clock)
    except Exception:
        logger.warning("could not schedule housekeeping", exc_info=True)


def register_jobs(registry: jobs.JobRegistry) -> None:
    registry.job(PRUNE_JOB)(_prune)


async def _prune(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
    now = ctx.clock.now()
    keys = await idempotency.prune_expired(ctx.session, now)
    finished = await jobs.prune_done(ctx.session, now - JOB_RETENTION)
    if keys < idempotency.PRUNE_BATCH and finished < jobs.PRUNE_BATCH:
        await _enqueue_next(ctx.session, ctx.clock)
    else:
        await jobs.enqueue(
            ctx.session, ctx.clock, PRUNE_JOB, {}, dedupe_key=f"{PRUNE_JOB}:after:{ctx.job_id}"
        )


async def _enqueue_next(session: AsyncSession, clock: Clock) -> None:
    interval = PRUNE_INTERVAL.total_seconds()
    slot = int((clock.now().timestamp() + interval) // interval)
    await jobs.enqueue(
        session, clock, PRUNE_JOB, {}, dedupe_key=f"{PRUNE_JOB}:{slot}", delay_seconds=interval
    )
