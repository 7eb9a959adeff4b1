"""Demo data: the people `make run` prints, created once however often it runs."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from studyhall.demo import seed_demo
from studyhall.exams import service as exam_service
from studyhall.exams.demo import MOCK_TITLE, PRACTICE_TITLE
from studyhall.exams.models import Exam
from studyhall.identity.models import CohortMember, User
from studyhall.identity.service import actor_for
from studyhall.live.demo import QUIZ_TITLE
from studyhall.platform.auth import issue_access_token
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


async def test_demo_exams_start_for_a_demo_student(platform: Platform) -> None:
    """Both demo exams are there once, and a demo student can sit the drawn mock test."""
    await seed_demo(platform)
    await seed_demo(platform)
    async with platform.sessions() as session, session.begin():
        exams = (await session.scalars(select(Exam).order_by(Exam.title))).all()
        student = await session.scalar(select(User).where(User.role == "student").limit(1))
        assert student is not None
        mock = next(exam for exam in exams if exam.title == MOCK_TITLE)
        started, _ = await exam_service.start_session(
            session, platform, actor_for(student, "bearer"), mock.id
        )
    assert sorted(exam.title for exam in exams) == sorted([MOCK_TITLE, PRACTICE_TITLE])
    assert len(started.questions) == 10
    practice = next(exam for exam in exams if exam.title == PRACTICE_TITLE)
    assert practice.pause_budget_seconds == 600


async def test_the_demo_teacher_can_host_the_demo_quiz(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    """One demo quiz however often the demo is seeded, ready to host as a game."""
    await seed_demo(platform)
    await seed_demo(platform)
    async with platform.sessions() as session:
        teacher = await session.scalar(select(User).where(User.role == "teacher").limit(1))
    assert teacher is not None
    token = issue_access_token(
        secret=platform.settings.secret_key,
        clock=platform.clock,
        user_id=teacher.id,
        generation=teacher.token_generation,
        ttl_seconds=600,
    )
    headers = {"Authorization": f"Bearer {token}"}
    quizzes = (await client.get("/api/v1/quizzes", headers=headers)).json()
    assert [quiz["title"] for quiz in quizzes] == [QUIZ_TITLE]
    game = await client.post(f"/api/v1/quizzes/{quizzes[0]['id']}/games", headers=headers)
    assert game.status_code == 201, game.text
