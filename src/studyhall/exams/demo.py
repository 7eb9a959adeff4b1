"""Demo exams over the demo bank: a timed mock test drawn at random per session, and a
practice paper with an essay and a pause budget, so `make run` shows both kinds."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.demo import DemoContext
from studyhall.exams import service
from studyhall.exams.schemas import ExamIn, ReviewPolicy
from studyhall.identity.service import actor_for
from studyhall.platform.runtime import Platform
from studyhall.questions import service as question_service
from studyhall.questions.draw import DrawRule

MOCK_TITLE = "Mock test: science, maths and geography"
PRACTICE_TITLE = "Practice paper with an essay"
EVERYTHING = ReviewPolicy(score=True, correctness=True, right_answers=True, explanations=True)


async def seed_exams(session: AsyncSession, platform: Platform, context: DemoContext) -> None:
    actor = actor_for(context.objects["teacher"], "bearer")
    titles = {exam.title: exam.id for exam in await service.list_exams(session, actor)}
    bank_id = context.objects["bank_id"]
    if MOCK_TITLE not in titles:
        mock = await service.create_exam(
            session,
            platform,
            actor,
            ExamIn(
                title=MOCK_TITLE,
                instructions=(
                    "Ten questions drawn at random for you: four of science, four of "
                    "mathematics, two of geography. The clock runs on the server and the "
                    "exam is submitted for you when it reaches zero. You may try three "
                    "times; your best attempt counts."
                ),
                duration_seconds=10 * 60,
                draw=[
                    DrawRule(bank_id=bank_id, count=4, category="Science"),
                    DrawRule(bank_id=bank_id, count=4, category="Mathematics"),
                    DrawRule(bank_id=bank_id, count=2, category="Geography"),
                ],
                attempts_allowed=3,
                attempt_policy="highest",
                review_after_submit=EVERYTHING,
            ),
        )
        titles[MOCK_TITLE] = mock.id
    if PRACTICE_TITLE not in titles:
        language = await question_service.list_questions(
            session, actor, bank_id, category="Language"
        )
        essays = await question_service.list_questions(session, actor, bank_id, kind="essay")
        practice = await service.create_exam(
            session,
            platform,
            actor,
            ExamIn(
                title=PRACTICE_TITLE,
                instructions=(
                    "Practice mode: you may pause for up to ten minutes in all. The essay "
                    "is graded by your teacher; your score is final once it is."
                ),
                duration_seconds=30 * 60,
                question_ids=[question.id for question in language + essays[:1]],
                pause_budget_seconds=10 * 60,
                shuffle_questions=False,
                review_after_submit=EVERYTHING,
            ),
        )
        titles[PRACTICE_TITLE] = practice.id
    context.objects["exam_ids"] = [titles[MOCK_TITLE], titles[PRACTICE_TITLE]]
