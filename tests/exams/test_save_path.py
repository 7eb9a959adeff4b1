"""The answer-save hot path, on both deployments: what this process knows about a session
may be out of date (another node paused, resumed or submitted it), and the database
decides; a flood of saves from one page is refused while other sessions save on."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from studyhall.exams import answers
from studyhall.exams.models import ExamSession, SessionAnswer
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.runtime import Platform
from tests.exams.test_sessions import _by_text, _choice_index, _exam, _save, _start, _submit
from tests.helpers import Person, make_person


@pytest.fixture
async def student(platform: Platform) -> Person:
    return await make_person(platform, Role.STUDENT)


async def _set(platform: Platform, session_id: str, **values: object) -> None:
    """Change the session row the way another app process would, behind this one's back."""
    async with platform.sessions() as db, db.begin():
        await db.execute(
            update(ExamSession).where(ExamSession.id == uuid.UUID(session_id)).values(**values)
        )


async def test_a_deadline_moved_elsewhere_is_honoured(
    client: httpx.AsyncClient,
    platform: Platform,
    teacher: Person,
    student: Person,
    clock: FakeClock,
) -> None:
    session = await _start(client, student, await _exam(client, teacher))
    capital = _by_text(session, "capital of France")
    assert (await _save(client, student, session["sessionId"], capital["id"], 1)).status_code == 200
    # Another node resumed a pause: the deadline is ten minutes later than this one saw.
    ends_at = clock.now() + timedelta(seconds=1200)
    await _set(platform, session["sessionId"], ends_at=ends_at, submit_by=ends_at)
    clock.advance(900)
    late_here = await _save(client, student, session["sessionId"], capital["id"], 2)
    assert late_here.status_code == 200, late_here.text
    clock.advance(301)
    expired = await _save(client, student, session["sessionId"], capital["id"], 3)
    assert (expired.status_code, expired.json()["code"]) == (409, "time_expired")


async def test_a_session_submitted_elsewhere_takes_no_new_save(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, student: Person
) -> None:
    session = await _start(client, student, await _exam(client, teacher))
    capital = _by_text(session, "capital of France")
    first = await _save(client, student, session["sessionId"], capital["id"], 1, key="first")
    assert first.status_code == 200
    await _set(platform, session["sessionId"], status="SCORED")
    for _ in range(2):  # refused by the database, then by this process's fresh view
        refused = await _save(client, student, session["sessionId"], capital["id"], 2)
        assert (refused.status_code, refused.json()["code"]) == (409, "session_closed")
    retry = await _save(client, student, session["sessionId"], capital["id"], 1, key="first")
    assert retry.status_code == 200, "a retry of an acknowledged save is acknowledged again"
    async with platform.sessions() as db:
        stored = (await db.execute(select(SessionAnswer.response))).scalars().all()
    assert stored == [1]


async def test_a_session_resumed_elsewhere_takes_saves_again(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, student: Person
) -> None:
    exam_id = await _exam(client, teacher, pauseBudgetSeconds=600)
    session = await _start(client, student, exam_id)
    capital = _by_text(session, "capital of France")
    paused = await client.post(
        f"/api/v1/sessions/{session['sessionId']}/pause", headers=student.headers
    )
    assert paused.status_code == 200, paused.text
    refused = await _save(client, student, session["sessionId"], capital["id"], 1)
    assert (refused.status_code, refused.json()["code"]) == (409, "session_paused")
    await _set(platform, session["sessionId"], status="ACTIVE", paused_at=None)
    paris = _choice_index(capital, "Paris")
    saved = await _save(client, student, session["sessionId"], capital["id"], paris)
    assert saved.status_code == 200, saved.text
    submitted = await _submit(client, student, session["sessionId"])
    assert submitted.json()["score"] == 1, "the save counts"


async def test_a_save_flood_from_one_page_is_refused_and_others_save_on(
    client: httpx.AsyncClient,
    platform: Platform,
    teacher: Person,
    student: Person,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(answers, "SAVES_PER_MINUTE", 3)
    exam_id = await _exam(client, teacher)
    flooding = await _start(client, student, exam_id)
    other = await make_person(platform)
    calm = await _start(client, other, exam_id)
    capital = _by_text(flooding, "capital of France")
    codes = [
        (await _save(client, student, flooding["sessionId"], capital["id"], 1)).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    calm_capital = _by_text(calm, "capital of France")
    assert (await _save(client, other, calm["sessionId"], calm_capital["id"], 1)).status_code == 200
