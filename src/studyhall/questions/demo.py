"""Demo question bank: 41 questions of every GIFT type, imported through the GIFT importer,
plus ordering questions (GIFT cannot express them) made through the editor's service."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.demo import DemoContext
from studyhall.identity.service import actor_for
from studyhall.platform.runtime import Platform
from studyhall.questions import repository, service
from studyhall.questions.content import QuestionContent
from studyhall.questions.schemas import QuestionIn

DEMO_BANK = "General knowledge (demo)"
DEMO_GIFT = Path(__file__).parent / "demo" / "general_knowledge.gift"
ORDERING = [
    ("Put the planets in order from the Sun.", ["Mercury", "Venus", "Earth", "Mars"]),
    ("Order these numbers from smallest to largest.", ["-3", "0", "0.5", "2", "10"]),
]


async def seed_questions(session: AsyncSession, platform: Platform, context: DemoContext) -> None:
    teacher = context.objects["teacher"]
    owned = await repository.banks_visible_to(session, teacher.id)
    existing = next((bank for bank, _ in owned if bank.name == DEMO_BANK), None)
    if existing is not None:
        context.objects["bank_id"] = existing.id
        return
    actor = actor_for(teacher, "bearer")
    bank = await service.create_bank(session, platform, actor, name=DEMO_BANK)
    await service.import_questions(session, platform, actor, bank.id, DEMO_GIFT.read_text(), "gift")
    for text, items in ORDERING:
        content = QuestionContent(kind="ordering", text=text, text_format="plain", items=items)
        await service.create_question(
            session,
            platform,
            actor,
            bank.id,
            QuestionIn(content=content, category="Ordering", tags=["demo"]),
        )
    context.objects["bank_id"] = bank.id
