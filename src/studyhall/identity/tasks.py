"""Identity background jobs: the welcome message a new account finds in its inbox."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.identity.models import Notification, User
from studyhall.platform.ids import new_id
from studyhall.platform.jobs import JobContext, JobRegistry
from studyhall.platform.runtime import Platform

WELCOME_JOB = "identity.welcome"


async def enqueue_welcome(session: AsyncSession, platform: Platform, user: User) -> None:
    """Queued in the registration's own transaction: no account, no message; no message lost."""
    await platform.enqueue(session, WELCOME_JOB, {"userId": str(user.id)})


async def send_welcome(ctx: JobContext, payload: dict[str, Any]) -> None:
    user = await ctx.session.get(User, uuid.UUID(payload["userId"]))
    if user is None:
        return
    ctx.session.add(
        Notification(
            id=new_id(),
            user_id=user.id,
            kind="welcome",
            title=f"Welcome to studyhall, {user.name}",
            body="Browse the catalog, take a mock exam, or join a live quiz with a code.",
            created_at=ctx.clock.now(),
            read_at=None,
        )
    )


def register_jobs(registry: JobRegistry) -> None:
    registry.job(WELCOME_JOB)(send_welcome)
