"""Demo data: the people `make run` prints, created once however often it runs."""

from __future__ import annotations

from sqlalchemy import func, select

from studyhall.demo import seed_demo
from studyhall.identity.models import CohortMember, User
from studyhall.platform.runtime import Platform
from studyhall.questions.models import Question, QuestionVersion


async def test_demo_seeding_is_idempotent(platform: Platform) -> None:
    first = await seed_demo(platform)
    second = await seed_demo(platform)
    assert first == second
    assert sorted(login.role for login in first) == [
        "admin",
        "student",
        "student",
        "student",
        "teacher",
    ]
    async with platform.sessions() as session:
        users = await session.scalar(select(func.count()).select_from(User))
        members = await session.scalar(select(func.count()).select_from(CohortMember))
        questions = await session.scalar(select(func.count()).select_from(Question))
        kinds = set((await session.scalars(select(QuestionVersion.kind))).all())
    assert (users, members) == (5, 3)
    assert questions >= 40
    assert kinds == {
        "single",
        "multiple",
        "truefalse",
        "numerical",
        "shortanswer",
        "matching",
        "ordering",
        "essay",
        "description",
    }
