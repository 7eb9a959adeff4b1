"""Exam sessions over the API, on both deployments: start, save, resume, pause, submit, result."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from studyhall.exams.models import ExamResult, SessionAnswer
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.runtime import Platform
from tests.helpers import Person, make_person

GIFT = """
::Capital:: What is the capital of France? {=Paris ~London ~Berlin ~Madrid}

::Metals:: Which are metals? {~%50%Iron ~%50%Nickel ~%-100%Wood}

::Sky:: The sky is green. {F}

::Pi:: Pi to two decimals? {#3.14:0.005}

::Essay:: Explain the tides. {}
"""
OBJECTIVE = ("Capital", "Metals", "Sky", "Pi")


@pytest.fixture
async def student(platform: Platform) -> Person:
    return await make_person(platform, Role.STUDENT)


async def _questions(client: httpx.AsyncClient, teacher: Person) -> dict[str, dict[str, Any]]:
    bank = await client.post("/api/v1/banks", json={"name": "Exam bank"}, headers=teacher.headers)
    bank_id = bank.json()["id"]
    report = await client.post(
        f"/api/v1/banks/{bank_id}/import?format=gift",
        content=GIFT.encode(),
        headers={**teacher.headers, "content-type": "text/plain"},
    )
    assert report.json()["imported"] == 5, report.text
    listed = await client.get(f"/api/v1/banks/{bank_id}/questions", headers=teacher.headers)
    return {question["title"]: question for question in listed.json()}


async def _exam(
    client: httpx.AsyncClient, teacher: Person, titles: tuple[str, ...] = OBJECTIVE, **rules: Any
) -> str:
    questions = await _questions(client, teacher)
    body = {
        "title": "Mock exam",
        "durationSeconds": 600,
        "questionIds": [questions[title]["id"] for title in titles],
        **rules,
    }
    created = await client.post("/api/v1/exams", json=body, headers=teacher.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _start(client: httpx.AsyncClient, student: Person, exam_id: str) -> dict[str, Any]:
    started = await client.post(f"/api/v1/exams/{exam_id}/sessions", headers=student.headers)
    assert started.status_code == 201, started.text
    body: dict[str, Any] = started.json()
    return body


def _by_text(session: dict[str, Any], fragment: str) -> dict[str, Any]:
    return next(q for q in session["questions"] if fragment in q["html"])


async def _save(
    client: httpx.AsyncClient,
    student: Person,
    session_id: str,
    question_id: str,
    choice: Any,
    key: str | None = None,
) -> httpx.Response:
    headers = {**student.headers, "Idempotency-Key": key or uuid.uuid4().hex}
    return await client.put(
        f"/api/v1/sessions/{session_id}/answers",
        json={"questionId": question_id, "choice": choice},
        headers=headers,
    )


async def _submit(
    client: httpx.AsyncClient, student: Person, session_id: str, key: str | None = None
) -> httpx.Response:
    headers = {**student.headers, "Idempotency-Key": key or uuid.uuid4().hex}
    return await client.post(f"/api/v1/sessions/{session_id}/submit", headers=headers)


def _choice_index(question: dict[str, Any], text: str) -> int:
    return int(next(c["id"] for c in question["choices"] if text in c["html"]))


async def test_start_fixes_the_deadline_and_shows_no_answer_key(
    client: httpx.AsyncClient, teacher: Person, student: Person, clock: FakeClock
) -> None:
    exam_id = await _exam(client, teacher)
    session = await _start(client, student, exam_id)
    ends_at = datetime.fromisoformat(session["endsAt"])
    assert ends_at == clock.now() + timedelta(seconds=600)
    assert session["remainingSeconds"] == 600
    assert len(session["questionOrder"]) == 4
    assert [q["id"] for q in session["questions"]] == session["questionOrder"]
    text = json.dumps(session)
    for key_field in ('"fraction"', '"correct"', '"tolerance"', '"feedback"'):
        assert key_field not in text
    again = await client.post(f"/api/v1/exams/{exam_id}/sessions", headers=student.headers)
    assert again.status_code == 200
    assert again.json()["sessionId"] == session["sessionId"]


async def test_a_saved_answer_is_there_on_resume_and_the_clock_keeps_running(
    client: httpx.AsyncClient, teacher: Person, student: Person, clock: FakeClock
) -> None:
    session = await _start(client, student, await _exam(client, teacher))
    capital = _by_text(session, "capital of France")
    saved = await _save(client, student, session["sessionId"], capital["id"], 1)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"saved": True}
    clock.advance(120)
    resumed = (
        await client.get(f"/api/v1/sessions/{session['sessionId']}", headers=student.headers)
    ).json()
    assert resumed["remainingSeconds"] == 480
    assert resumed["status"] == "ACTIVE"
    assert [(a["questionId"], a["choice"]) for a in resumed["answers"]] == [(capital["id"], 1)]
    assert resumed["questionOrder"] == session["questionOrder"]


async def test_saves_are_idempotent_and_last_write_wins(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    session = await _start(client, student, await _exam(client, teacher))
    sid = session["sessionId"]
    capital = _by_text(session, "capital of France")
    first = await _save(client, student, sid, capital["id"], 0, key="k1")
    second = await _save(client, student, sid, capital["id"], 2, key="k2")
    late_retry = await _save(client, student, sid, capital["id"], 0, key="k1")
    assert [r.status_code for r in (first, second, late_retry)] == [200, 200, 200]
    reused = await _save(client, student, sid, capital["id"], 3, key="k1")
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    missing = await client.put(
        f"/api/v1/sessions/{sid}/answers",
        json={"questionId": capital["id"], "choice": 1},
        headers=student.headers,
    )
    assert missing.status_code == 400
    assert missing.json()["code"] == "idempotency_key_required"
    resumed = (await client.get(f"/api/v1/sessions/{sid}", headers=student.headers)).json()
    assert [a["choice"] for a in resumed["answers"]] == [2], "a late retry never overwrites"


async def test_bad_saves_are_refused_with_a_code(
    client: httpx.AsyncClient, teacher: Person, student: Person, platform: Platform
) -> None:
    session = await _start(client, student, await _exam(client, teacher))
    sid = session["sessionId"]
    capital = _by_text(session, "capital of France")
    elsewhere = await _save(client, student, sid, str(uuid.uuid4()), 1)
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (422, "question_not_in_session")
    wrong_shape = await _save(client, student, sid, capital["id"], "Paris")
    assert (wrong_shape.status_code, wrong_shape.json()["code"]) == (422, "invalid_answer")
    out_of_range = await _save(client, student, sid, capital["id"], 17)
    assert (out_of_range.status_code, out_of_range.json()["code"]) == (422, "invalid_answer")
    other = await make_person(platform, Role.STUDENT)
    stranger = await _save(client, other, sid, capital["id"], 1)
    assert stranger.status_code == 404
    peek = await client.get(f"/api/v1/sessions/{sid}", headers=other.headers)
    assert peek.status_code == 404
    garbage = await client.put(
        f"/api/v1/sessions/{sid}/answers",
        content=b"{not json",
        headers={**student.headers, "Idempotency-Key": "g", "content-type": "application/json"},
    )
    assert garbage.status_code == 400


async def test_saves_after_the_deadline_are_refused_and_acknowledged_ones_count(
    client: httpx.AsyncClient, teacher: Person, student: Person, clock: FakeClock, run_jobs: Any
) -> None:
    session = await _start(client, student, await _exam(client, teacher))
    sid = session["sessionId"]
    capital = _by_text(session, "capital of France")
    sky = _by_text(session, "sky is green")
    paris = _choice_index(capital, "Paris")
    assert (await _save(client, student, sid, capital["id"], paris)).status_code == 200
    clock.advance(600)
    on_time = await _save(client, student, sid, sky["id"], False)
    assert on_time.status_code == 200, "a save arriving exactly at endsAt counts"
    clock.advance(0.001)
    late = await _save(client, student, sid, sky["id"], True)
    assert (late.status_code, late.json()["code"]) == (409, "time_expired")
    assert await run_jobs() >= 1
    result = (await client.get(f"/api/v1/sessions/{sid}/result", headers=student.headers)).json()
    assert result["status"] == "SCORED"
    assert result["score"] == 2.0, "Paris and 'false' were acknowledged, so both count"
    submitted = await _submit(client, student, sid)
    assert submitted.status_code == 200
    assert submitted.json()["score"] == 2.0


async def test_the_worker_submits_a_vanished_students_session(
    client: httpx.AsyncClient,
    teacher: Person,
    student: Person,
    clock: FakeClock,
    run_jobs: Any,
    platform: Platform,
) -> None:
    session = await _start(client, student, await _exam(client, teacher))
    assert await run_jobs() == 0, "nothing is due before endsAt"
    clock.advance(599)
    assert await run_jobs() == 0
    clock.advance(1)
    assert await run_jobs() == 1
    view = (
        await client.get(f"/api/v1/sessions/{session['sessionId']}", headers=student.headers)
    ).json()
    assert view["status"] == "SCORED"
    assert view["remainingSeconds"] == 0


async def test_concurrent_submits_with_mixed_keys_score_once(
    client: httpx.AsyncClient, teacher: Person, student: Person, platform: Platform
) -> None:
    session = await _start(client, student, await _exam(client, teacher))
    sid = session["sessionId"]
    capital = _by_text(session, "capital of France")
    await _save(client, student, sid, capital["id"], _choice_index(capital, "Paris"))
    keys = [f"key-{index % 7}" for index in range(200)]
    responses = await asyncio.gather(*(_submit(client, student, sid, key) for key in keys))
    assert {r.status_code for r in responses} == {200}
    bodies = {r.text for r in responses}
    assert len(bodies) == 1, bodies
    assert json.loads(bodies.pop())["score"] == 1.0
    async with platform.sessions() as db:
        rows = (
            await db.execute(
                select(func.count())
                .select_from(ExamResult)
                .where(ExamResult.session_id == uuid.UUID(sid))
            )
        ).scalar_one()
    assert rows == 1


async def test_saves_racing_a_submit_are_either_scored_or_refused(
    client: httpx.AsyncClient, teacher: Person, student: Person, platform: Platform
) -> None:
    session = await _start(client, student, await _exam(client, teacher))
    sid = session["sessionId"]
    capital = _by_text(session, "capital of France")
    choices = [index % 4 for index in range(60)]
    saves = [_save(client, student, sid, capital["id"], choice) for choice in choices]
    outcomes = await asyncio.gather(*saves[:30], _submit(client, student, sid), *saves[30:])
    submitted = outcomes[30]
    assert submitted.status_code == 200
    acknowledged = [
        choice
        for choice, response in zip(choices, outcomes[:30] + outcomes[31:], strict=True)
        if response.status_code == 200
    ]
    refused = [r for r in outcomes[:30] + outcomes[31:] if r.status_code != 200]
    assert all(r.json()["code"] == "session_closed" for r in refused)
    async with platform.sessions() as db:
        journal = (
            (
                await db.execute(
                    select(SessionAnswer.response)
                    .where(SessionAnswer.session_id == uuid.UUID(sid))
                    .order_by(SessionAnswer.id)
                )
            )
            .scalars()
            .all()
        )
    assert sorted(journal) == sorted(acknowledged), "every acknowledged save is in the journal"
    result = (await client.get(f"/api/v1/sessions/{sid}/result", headers=student.headers)).json()
    paris = _choice_index(capital, "Paris")
    expected = 1.0 if acknowledged and journal[-1] == paris else 0.0
    assert result["score"] == expected, "the score is that of the last acknowledged answer"


async def test_pausing_needs_a_budget_and_stops_the_clock(
    client: httpx.AsyncClient, teacher: Person, student: Person, clock: FakeClock, run_jobs: Any
) -> None:
    timed = await _start(client, student, await _exam(client, teacher))
    refused = await client.post(
        f"/api/v1/sessions/{timed['sessionId']}/pause", headers=student.headers
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "pause_not_allowed")

    practice = await _start(client, student, await _exam(client, teacher, pauseBudgetSeconds=300))
    sid = practice["sessionId"]
    clock.advance(100)
    paused = await client.post(f"/api/v1/sessions/{sid}/pause", headers=student.headers)
    assert paused.json()["status"] == "PAUSED"
    capital = _by_text(practice, "capital of France")
    blocked = await _save(client, student, sid, capital["id"], 0)
    assert (blocked.status_code, blocked.json()["code"]) == (409, "session_paused")
    clock.advance(200)
    view = (await client.get(f"/api/v1/sessions/{sid}", headers=student.headers)).json()
    assert view["remainingSeconds"] == 500, "the clock stood still while paused"
    resumed = await client.post(f"/api/v1/sessions/{sid}/resume", headers=student.headers)
    assert resumed.json()["remainingSeconds"] == 500
    clock.advance(500)
    assert await run_jobs() >= 1
    done = (await client.get(f"/api/v1/sessions/{sid}", headers=student.headers)).json()
    assert done["status"] == "SCORED"


async def test_the_pause_budget_running_out_restarts_the_clock(
    client: httpx.AsyncClient, teacher: Person, student: Person, clock: FakeClock, run_jobs: Any
) -> None:
    session = await _start(client, student, await _exam(client, teacher, pauseBudgetSeconds=60))
    sid = session["sessionId"]
    await client.post(f"/api/v1/sessions/{sid}/pause", headers=student.headers)
    clock.advance(60)
    assert await run_jobs() == 1
    view = (await client.get(f"/api/v1/sessions/{sid}", headers=student.headers)).json()
    assert view["status"] == "ACTIVE"
    assert view["remainingSeconds"] == 600
    again = await client.post(f"/api/v1/sessions/{sid}/pause", headers=student.headers)
    assert again.json()["code"] == "pause_not_allowed"


async def test_essays_make_the_result_wait_for_a_grader(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    exam_id = await _exam(client, teacher, ("Capital", "Essay"))
    session = await _start(client, student, exam_id)
    essay = _by_text(session, "tides")
    await _save(client, student, session["sessionId"], essay["id"], "The moon pulls the sea.")
    submitted = await _submit(client, student, session["sessionId"])
    assert submitted.status_code == 202
    assert submitted.json()["status"] == "SCORING"
    result = (
        await client.get(f"/api/v1/sessions/{session['sessionId']}/result", headers=student.headers)
    ).json()
    assert result["pendingGrades"] == 1
    assert "score" not in result


async def test_the_result_shows_only_what_the_review_policy_allows(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    closed_book = await _start(client, student, await _exam(client, teacher))
    await _submit(client, student, closed_book["sessionId"])
    hidden = (
        await client.get(
            f"/api/v1/sessions/{closed_book['sessionId']}/result", headers=student.headers
        )
    ).json()
    assert hidden["score"] == 0
    assert hidden["rank"] == 1
    assert all(
        set(entry) <= {"questionId", "points", "answered", "awarded"}
        for entry in hidden["breakdown"]
    )

    open_book = await _start(
        client,
        student,
        await _exam(
            client,
            teacher,
            reviewAfterSubmit={"correctness": True, "rightAnswers": True, "explanations": True},
        ),
    )
    await _submit(client, student, open_book["sessionId"])
    shown = (
        await client.get(
            f"/api/v1/sessions/{open_book['sessionId']}/result", headers=student.headers
        )
    ).json()
    capital = next(
        e
        for e in shown["breakdown"]
        if e.get("rightAnswerHtml") and "Paris" in e["rightAnswerHtml"]
    )
    assert capital["correct"] is False


async def test_no_result_before_submit_and_attempts_are_limited(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    exam_id = await _exam(client, teacher)
    session = await _start(client, student, exam_id)
    early = await client.get(
        f"/api/v1/sessions/{session['sessionId']}/result", headers=student.headers
    )
    assert (early.status_code, early.json()["code"]) == (409, "result_not_ready")
    await _submit(client, student, session["sessionId"])
    second = await client.post(f"/api/v1/exams/{exam_id}/sessions", headers=student.headers)
    assert (second.status_code, second.json()["code"]) == (409, "no_attempts_left")
