"""The exam start path, on both deployments: a crowd starting one exam at once all get
their sessions (concurrent starts used to deadlock on PostgreSQL while marking the
questions seen), and a start costs the same number of SQL statements however many
questions the exam has."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event, select

from studyhall.exams.service import EXPIRE_JOB
from studyhall.platform.models import Job
from studyhall.platform.runtime import Platform
from studyhall.questions.frozen import frozen_versions
from studyhall.questions.repository import current_version_ids
from tests.exams.test_sessions import _start
from tests.helpers import Person, make_person

QUESTIONS = 60
STUDENTS = 50


async def _question_ids(client: httpx.AsyncClient, teacher: Person) -> list[str]:
    """A bank of ``QUESTIONS`` single-choice questions."""
    bank = await client.post("/api/v1/banks", json={"name": "Big bank"}, headers=teacher.headers)
    bank_id = bank.json()["id"]
    gift = "\n\n".join(
        f"::Q{n}:: What is {n} plus one? {{={n + 1} ~{n} ~{n + 2}}}" for n in range(QUESTIONS)
    )
    report = await client.post(
        f"/api/v1/banks/{bank_id}/import?format=gift",
        content=gift.encode(),
        headers={**teacher.headers, "content-type": "text/plain"},
    )
    assert report.json()["imported"] == QUESTIONS, report.text
    listed = await client.get(f"/api/v1/banks/{bank_id}/questions", headers=teacher.headers)
    return [question["id"] for question in listed.json()]


async def _exam(client: httpx.AsyncClient, teacher: Person, question_ids: list[str]) -> str:
    body = {
        "title": f"{len(question_ids)} questions",
        "durationSeconds": 600,
        "questionIds": question_ids,
        "shuffleQuestions": True,
        "shuffleOptions": True,
    }
    created = await client.post("/api/v1/exams", json=body, headers=teacher.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_a_crowd_starting_one_exam_all_get_its_questions(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    question_ids = await _question_ids(client, teacher)
    exam_id = await _exam(client, teacher, question_ids)
    students = [await make_person(platform) for _ in range(STUDENTS)]

    started = await asyncio.gather(
        *(
            client.post(f"/api/v1/exams/{exam_id}/sessions", headers=student.headers)
            for student in students
        )
    )

    assert [response.status_code for response in started] == [201] * STUDENTS, [
        response.text for response in started if response.status_code != 201
    ]
    sessions = [response.json() for response in started]
    assert len({session["sessionId"] for session in sessions}) == STUDENTS
    for session in sessions:
        assert sorted(session["questionOrder"]) == sorted(question_ids)
        assert [q["id"] for q in session["questions"]] == session["questionOrder"]
    # Students have seen the questions: editing one now keeps their version intact.
    edit = {
        "content": {
            "kind": "single",
            "text": "What is one plus one?",
            "choices": [{"text": "2", "fraction": 1.0}, {"text": "3", "fraction": 0.0}],
        },
        "points": 1,
    }
    edited = await client.put(
        f"/api/v1/questions/{question_ids[0]}", json=edit, headers=teacher.headers
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2


@contextmanager
def _statements(platform: Platform) -> Iterator[list[str]]:
    """The SQL statements the app sends while the block runs."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    engine = platform.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _counted_start(
    client: httpx.AsyncClient, platform: Platform, exam_id: str
) -> tuple[list[str], dict[str, Any]]:
    student = await make_person(platform)
    with _statements(platform) as sent:
        session = await _start(client, student, exam_id)
    return sent, session


def _marks_seen(statements: list[str]) -> bool:
    return any(sql.lstrip().upper().startswith("UPDATE QUESTION_VERSIONS") for sql in statements)


async def test_a_start_costs_the_same_statements_for_5_or_60_questions(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    question_ids = await _question_ids(client, teacher)
    small = await _exam(client, teacher, question_ids[:5])
    large = await _exam(client, teacher, question_ids[5:])
    # A first start anywhere loads what every start shares (the catalog of paid products).
    await _counted_start(client, platform, await _exam(client, teacher, question_ids[:1]))

    first_small, session = await _counted_start(client, platform, small)
    first_large, _ = await _counted_start(client, platform, large)
    assert len(session["questions"]) == 5
    assert len(first_small) == len(first_large), (first_small, first_large)
    assert _marks_seen(first_small)
    assert _marks_seen(first_large)

    # Once the versions are known seen, later starts do not write them again.
    again_small, _ = await _counted_start(client, platform, small)
    again_large, session = await _counted_start(client, platform, large)
    assert len(session["questions"]) == QUESTIONS - 5
    assert len(again_small) == len(again_large), (again_small, again_large)
    assert not _marks_seen(again_small)
    assert not _marks_seen(again_large)
    assert len(again_large) < len(first_large)


def _single(text: str, choices: int) -> dict[str, Any]:
    """An edit body: a single-choice question whose first of ``choices`` choices is right."""
    return {
        "content": {
            "kind": "single",
            "text": text,
            "choices": [
                {"text": f"c{n}", "fraction": 1.0 if n == 0 else 0.0} for n in range(choices)
            ],
        },
        "points": choices,
    }


async def test_a_session_shows_the_content_it_marked_seen(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    question_id = (await _question_ids(client, teacher))[0]
    exam_id = await _exam(client, teacher, [question_id])
    # Something read the unseen version before it was edited (a process cache must not
    # keep that content).
    async with platform.sessions() as db:
        current = await current_version_ids(db, [uuid.UUID(question_id)])
        await frozen_versions(db, [current[uuid.UUID(question_id)][0]])
    url = f"/api/v1/questions/{question_id}"
    first = await client.put(url, json=_single("First edit", 4), headers=teacher.headers)
    assert first.json()["version"] == 1  # nobody has seen it: edited in place

    student = await make_person(platform)
    started = await _start(client, student, exam_id)
    second = await client.put(url, json=_single("Second edit", 2), headers=teacher.headers)
    assert second.json()["version"] == 2  # the start froze version 1

    view = await client.get(f"/api/v1/sessions/{started['sessionId']}", headers=student.headers)
    for shown in (started, view.json()):
        [question] = shown["questions"]
        assert (question["version"], question["points"]) == (1, 4)
        assert "First edit" in question["html"]
        assert len(question["choices"]) == 4
    [later] = (await _start(client, await make_person(platform), exam_id))["questions"]
    assert later["version"] == 2
    assert "Second edit" in later["html"]


async def test_a_burst_of_starts_shares_its_reads_and_commits(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    """Starts arriving together are group-committed: a crowd sends far fewer statements
    than the same starts one by one, and every session still gets its expiry job."""
    exam_id = await _exam(client, teacher, await _question_ids(client, teacher))
    single, _ = await _counted_start(client, platform, exam_id)
    students = [await make_person(platform) for _ in range(STUDENTS)]

    with _statements(platform) as sent:
        started = await asyncio.gather(
            *(
                client.post(f"/api/v1/exams/{exam_id}/sessions", headers=student.headers)
                for student in students
            )
        )

    assert [response.status_code for response in started] == [201] * STUDENTS
    assert len(sent) < STUDENTS * len(single) / 4, (len(sent), len(single))
    session_ids = {response.json()["sessionId"] for response in started}
    async with platform.sessions() as db:
        expiring = {
            job.payload["sessionId"]
            for job in (await db.execute(select(Job).where(Job.kind == EXPIRE_JOB))).scalars()
        }
    assert session_ids <= expiring


async def test_one_student_clicking_start_many_times_at_once_gets_one_session(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    exam_id = await _exam(client, teacher, (await _question_ids(client, teacher))[:5])
    student = await make_person(platform)

    clicks = await asyncio.gather(
        *(
            client.post(f"/api/v1/exams/{exam_id}/sessions", headers=student.headers)
            for _ in range(8)
        )
    )

    assert sorted(response.status_code for response in clicks) == [200] * 7 + [201]
    assert len({response.json()["sessionId"] for response in clicks}) == 1
    attempts = await client.get(f"/api/v1/exams/{exam_id}/attempts", headers=student.headers)
    assert len(attempts.json()["attempts"]) == 1, attempts.text
