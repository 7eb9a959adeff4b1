"""Exam jobs: submit a session when its time is up, restart a clock whose pause budget ran out.

Both are queued in the transaction that started (or paused) the session, so a
session can never exist without its expiry job, and both are safe to run twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from studyhall.exams import repository, service
from studyhall.platform.jobs import JobContext, JobRegistry
from studyhall.platform.runtime import Platform

EXPIRE_BATCH = 200


def register_jobs(registry: JobRegistry, platform: Platform) -> None:
    async def expire(ctx: JobContext, payload: dict[str, Any]) -> None:
        # Its own session and others overdue: at a scheduled exam's end most expiry jobs
        # are due at one instant, and the first few to run close the rest in batches.
        own = uuid.UUID(payload["sessionId"])
        claimed = await repository.claim_overdue(ctx.session, own, ctx.clock.now(), EXPIRE_BATCH)
        await service.expire_many(ctx.session, platform, claimed)

    async def auto_resume(ctx: JobContext, payload: dict[str, Any]) -> None:
        await service.auto_resume(ctx.session, platform, uuid.UUID(payload["sessionId"]))

    registry.job(service.EXPIRE_JOB)(expire)
    registry.job(service.AUTO_RESUME_JOB)(auto_resume)
