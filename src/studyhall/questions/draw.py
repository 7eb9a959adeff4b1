"""Random draw rules: an exam asks for N questions from a category, by tags and difficulty.

A draw is deterministic for a seed (each exam session stores its seed), so the
same session always gets the same questions, and no question is drawn twice
across the rules of one exam.
"""

from __future__ import annotations

import random
import uuid
from typing import Annotated

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.platform.auth import Actor
from studyhall.platform.errors import InvalidInput
from studyhall.questions import repository
from studyhall.questions.content import Difficulty
from studyhall.questions.service import bank_for, category_ids_under, category_paths

Count = Annotated[int, msgspec.Meta(ge=1, le=500)]


class DrawRule(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """``difficulty_mix`` (counts per difficulty) must add up to ``count`` when given."""

    bank_id: uuid.UUID
    count: Count
    category: str | None = None
    include_subcategories: bool = True
    tags: list[str] = []
    difficulty_mix: dict[Difficulty, Count] | None = None


class DrawnQuestion(msgspec.Struct, frozen=True):
    question_id: uuid.UUID
    version_id: uuid.UUID
    version: int


class NotEnoughQuestions(InvalidInput):
    code = "not_enough_questions"
    title = "The bank has fewer matching questions than the rule asks for"


async def check_rules(session: AsyncSession, actor: Actor, rules: list[DrawRule]) -> None:
    """At exam setup: the teacher may use every bank, and every rule can be satisfied."""
    for rule in rules:
        await bank_for(session, actor, rule.bank_id)
    await draw(session, rules, seed=0)


async def draw(session: AsyncSession, rules: list[DrawRule], *, seed: int) -> list[DrawnQuestion]:
    rng = random.Random(seed)
    taken: set[uuid.UUID] = set()
    drawn: list[DrawnQuestion] = []
    for index, rule in enumerate(rules, start=1):
        mix = rule.difficulty_mix
        if mix is not None and sum(mix.values()) != rule.count:
            raise InvalidInput(f"Rule {index}: the difficulty mix must add up to {rule.count}")
        paths = await category_paths(session, rule.bank_id)
        category_ids = (
            None
            if rule.category is None
            else category_ids_under(paths, rule.category, subcategories=rule.include_subcategories)
        )
        wanted: list[tuple[Difficulty | None, int]] = (
            [(level, count) for level, count in mix.items()] if mix else [(None, rule.count)]
        )
        for difficulty, count in wanted:
            rows = await repository.list_questions(
                session,
                rule.bank_id,
                category_ids=category_ids,
                tags=rule.tags,
                kind=None,
                difficulty=difficulty,
                limit=None,
                offset=0,
            )
            candidates = sorted(
                (
                    version
                    for question, version in rows
                    if question.id not in taken and version.kind != "description"
                ),
                key=lambda version: version.question_id,
            )
            if len(candidates) < count:
                which = f" of difficulty {difficulty}" if difficulty else ""
                raise NotEnoughQuestions(
                    f"Rule {index} asks for {count} questions{which}; {len(candidates)} match"
                )
            for version in rng.sample(candidates, count):
                taken.add(version.question_id)
                drawn.append(DrawnQuestion(version.question_id, version.id, version.version))
    return drawn
