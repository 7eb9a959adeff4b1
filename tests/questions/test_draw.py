"""Draw rules: category subtree, tags, difficulty mix, no repeats, same seed same draw."""

from __future__ import annotations

import uuid

import pytest

from studyhall.identity.service import actor_for
from studyhall.platform.auth import Actor, Role
from studyhall.platform.runtime import Platform
from studyhall.questions import service
from studyhall.questions.content import QuestionContent
from studyhall.questions.draw import DrawRule, NotEnoughQuestions, check_rules, draw
from studyhall.questions.schemas import QuestionIn
from tests.helpers import make_person


def _content(text: str) -> QuestionContent:
    return QuestionContent(kind="truefalse", text=text, correct=True)


@pytest.fixture
async def bank(platform: Platform) -> tuple[uuid.UUID, Actor]:
    teacher = await make_person(platform, Role.TEACHER)
    async with platform.sessions() as session, session.begin():
        from studyhall.identity import repository

        user = await repository.user_by_id(session, teacher.id)
        assert user is not None
        actor = actor_for(user, "bearer")
        created = await service.create_bank(session, platform, actor, name="Draws")
        layout = [("Algebra", "easy", ["core"])] * 6 + [("Algebra/Linear", "hard", ["core"])] * 4
        layout += [("Geometry", "medium", [])] * 3
        for index, (category, difficulty, tags) in enumerate(layout):
            await service.create_question(
                session,
                platform,
                actor,
                created.id,
                QuestionIn(
                    content=_content(f"Q{index}"),
                    category=category,
                    difficulty=difficulty,
                    tags=tags,
                ),  # type: ignore[arg-type]
            )
    return created.id, actor


async def test_rules_draw_from_a_subtree_with_a_difficulty_mix(
    platform: Platform, bank: tuple[uuid.UUID, Actor]
) -> None:
    bank_id, actor = bank
    rules = [
        DrawRule(
            bank_id=bank_id,
            count=5,
            category="Algebra",
            tags=["core"],
            difficulty_mix={"easy": 3, "hard": 2},
        ),
        DrawRule(bank_id=bank_id, count=3, category="Geometry"),
    ]
    async with platform.sessions() as session:
        await check_rules(session, actor, rules)
        first = await draw(session, rules, seed=42)
        again = await draw(session, rules, seed=42)
        other = await draw(session, rules, seed=7)
        versions = {
            d.question_id: (await service.repository.question_with_version(session, d.question_id))
            for d in first
        }
    assert first == again, "a session's seed always gives the same questions"
    assert len(first) == 8
    assert len({d.question_id for d in first}) == 8, "no question is drawn twice"
    difficulties = [versions[d.question_id][1].difficulty for d in first]  # type: ignore[index]
    assert sorted(difficulties[:5]) == ["easy", "easy", "easy", "hard", "hard"]
    assert difficulties[5:] == ["medium"] * 3
    assert [d.question_id for d in other] != [d.question_id for d in first]


async def test_subcategories_can_be_left_out_and_shortfalls_are_reported(
    platform: Platform, bank: tuple[uuid.UUID, Actor]
) -> None:
    bank_id, _ = bank
    only_top = [DrawRule(bank_id=bank_id, count=7, category="Algebra", include_subcategories=False)]
    async with platform.sessions() as session:
        with pytest.raises(NotEnoughQuestions, match="6 match"):
            await draw(session, only_top, seed=1)
        whole = [DrawRule(bank_id=bank_id, count=10, category="Algebra")]
        assert len(await draw(session, whole, seed=1)) == 10
        with pytest.raises(Exception, match="add up to"):
            await draw(
                session,
                [DrawRule(bank_id=bank_id, count=4, difficulty_mix={"easy": 1})],
                seed=1,
            )
