"""A demo live quiz, so `make run` lets the demo teacher host a game at once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.demo import DemoContext
from studyhall.identity.service import actor_for
from studyhall.live import service
from studyhall.live.schemas import QuestionIn, QuizIn
from studyhall.platform.runtime import Platform

QUIZ_TITLE = "Friday quiz: science and the world"


async def seed_live(session: AsyncSession, platform: Platform, context: DemoContext) -> None:
    actor = actor_for(context.objects["teacher"], "bearer")
    if any(quiz.title == QUIZ_TITLE for quiz in await service.list_quizzes(session, actor)):
        return
    quiz = QuizIn(
        title=QUIZ_TITLE,
        scoring="classic",
        questions=[
            QuestionIn(
                type="single",
                text="Which planet is known as the red planet?",
                options=["Venus", "Mars", "Jupiter", "Mercury"],
                correct_options=[1],
            ),
            QuestionIn(
                type="truefalse",
                text="Sound travels faster in water than in air.",
                options=["True", "False"],
                correct_options=[0],
            ),
            QuestionIn(
                type="multiple",
                text="Which of these are noble gases?",
                options=["Neon", "Oxygen", "Argon", "Nitrogen"],
                correct_options=[0, 2],
            ),
            QuestionIn(
                type="numeric",
                text="How many minutes are there in a day?",
                correct_value=1440,
                tolerance=0,
            ),
            QuestionIn(
                type="ordering",
                text="Put these from smallest to largest.",
                options=["Atom", "Cell", "Mouse", "Elephant"],
                correct_options=[0, 1, 2, 3],
            ),
            QuestionIn(
                type="poll",
                text="How did you find this quiz?",
                options=["Easy", "Just right", "Hard"],
            ),
        ],
    )
    await service.create_quiz(session, platform, actor, quiz)
