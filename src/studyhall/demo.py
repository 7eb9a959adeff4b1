"""Demo data for ``studyhall serve --demo``: one hook every domain adds its seeder to.

Seeders run in order in one transaction and must be idempotent (running the
demo twice changes nothing). They share a :class:`DemoContext`, so a later
domain can use the demo teacher or students an earlier one created.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.platform.runtime import Platform

DEFAULT_DEMO_PASSWORD = "studyhall-demo"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    role: str
    email: str
    password: str
    name: str


@dataclass
class DemoContext:
    password: str
    logins: list[DemoLogin] = field(default_factory=list)
    # Objects created by earlier seeders, by a short name ("teacher", "cohort", ...).
    objects: dict[str, Any] = field(default_factory=dict)


Seeder = Callable[[AsyncSession, Platform, DemoContext], Awaitable[None]]


def seeders() -> list[Seeder]:
    """The seeders in the order they run; a new domain appends its own here."""
    from studyhall.content.demo import seed_content
    from studyhall.exams.demo import seed_exams
    from studyhall.identity.demo import seed_identity
    from studyhall.live.demo import seed_live
    from studyhall.questions.demo import seed_questions

    return [seed_identity, seed_questions, seed_content, seed_exams, seed_live]


async def seed_demo(platform: Platform) -> list[DemoLogin]:
    context = DemoContext(password=platform.settings.demo_password or DEFAULT_DEMO_PASSWORD)
    async with platform.sessions() as session, session.begin():
        for seeder in seeders():
            await seeder(session, platform, context)
    return context.logins
