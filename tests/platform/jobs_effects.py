"""The table the job tests' handlers write their effect to, through the job's own session.

No unique key on ``job_id`` on purpose: a second committed run would show up as a
second row instead of being hidden by a constraint.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Column, Integer, MetaData, Table, Uuid, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.platform.jobs import JobContext

EFFECTS_METADATA = MetaData()
EFFECTS = Table(
    "jobs_test_effects",
    EFFECTS_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Uuid, nullable=False),
    Column("attempt", Integer, nullable=False),
)


async def record_effect(ctx: JobContext) -> None:
    """The job's visible effect: one row, committed only if the job is marked done."""
    await ctx.session.execute(insert(EFFECTS).values(job_id=ctx.job_id, attempt=ctx.attempt))


async def effects(session: AsyncSession) -> list[tuple[uuid.UUID, int]]:
    rows = await session.execute(select(EFFECTS.c.job_id, EFFECTS.c.attempt).order_by(EFFECTS.c.id))
    return [(row.job_id, row.attempt) for row in rows]
