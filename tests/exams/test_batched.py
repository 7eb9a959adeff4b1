"""Submits arriving together are group-committed (``exams/batched.py``), on both
deployments: each session is still scored exactly once with its own answers, a submit
of someone else's session in the same batch is still 404, and the batch costs far fewer
statements than the same submits one by one."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import func, select

from studyhall.app import build_worker
from studyhall.exams.models import ExamResult, ExamSession
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.runtime import Platform
from tests.exams.test_sessions import _by_text, _choice_index, _exam, _save, _start, _submit
from tests.exams.test_start_path import _statements
from tests.helpers import Person, make_person

STUDENTS = 30


async def test_a_burst_of_submits_scores_each_session_once_with_its_own_answers(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    exam_id = await _exam(client, teacher)
    students = [await make_person(platform) for _ in range(STUDENTS + 1)]
    sessions = [await _start(client, student, exam_id) for student in students]
    for number, (student, session) in enumerate(zip(students, sessions, strict=True)):
        capital = _by_text(session, "capital of France")
        city = "Paris" if number % 2 == 0 else "London"
        saved = await _save(
            client, student, session["sessionId"], capital["id"], _choice_index(capital, city)
        )
        assert saved.status_code == 200, saved.text
    with _statements(platform) as alone:
        single = await _submit(client, students[-1], sessions[-1]["sessionId"])
    assert single.status_code == 200, single.text
    intruder = await make_person(platform)

    with _statements(platform) as sent:
        responses = await asyncio.gather(
            _submit(client, intruder, sessions[0]["sessionId"]),
            *(
                _submit(client, student, session["sessionId"])
                for student, session in zip(students[:STUDENTS], sessions, strict=False)
            ),
        )

    assert responses[0].status_code == 404, responses[0].text
    scores = [response.json()["score"] for response in responses[1:]]
    assert [response.status_code for response in responses[1:]] == [200] * STUDENTS
    assert scores == [1.0 if number % 2 == 0 else 0.0 for number in range(STUDENTS)]
    assert len(sent) < STUDENTS * len(alone) / 3, (len(sent), len(alone))
    async with platform.sessions() as db:
        counted = await db.execute(
            select(ExamResult.session_id, func.count()).group_by(ExamResult.session_id)
        )
        per_session = dict(counted.all())
    assert set(per_session) == {uuid.UUID(session["sessionId"]) for session in sessions}
    assert set(per_session.values()) == {1}
    again = await _submit(client, students[1], sessions[1]["sessionId"])
    assert again.json() == responses[2].json()


async def test_a_bundle_gates_new_attempts_until_the_student_holds_it(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    """Starts of a bundled exam arriving together: the student without the bundle gets
    402 with the bundle to buy, the one holding it starts."""
    exam_id = await _exam(client, teacher)
    admin = await make_person(platform, Role.ADMIN)
    body = {
        "kind": "bundle",
        "title": "Mock tests",
        "priceMinor": 900,
        "currency": "EUR",
        "examIds": [exam_id],
    }
    bundle = await client.post("/api/v1/products", json=body, headers=admin.headers)
    assert bundle.status_code == 201, bundle.text
    buyer, browser = await make_person(platform), await make_person(platform)
    grant = {"userId": str(buyer.id), "productId": bundle.json()["id"], "note": "scholarship"}
    granted = await client.post("/api/v1/entitlements", json=grant, headers=admin.headers)
    assert granted.status_code == 201, granted.text

    bought, refused = await asyncio.gather(
        client.post(f"/api/v1/exams/{exam_id}/sessions", headers=buyer.headers),
        client.post(f"/api/v1/exams/{exam_id}/sessions", headers=browser.headers),
    )

    assert bought.status_code == 201, bought.text
    assert refused.status_code == 402, refused.text
    assert refused.json()["code"] == "entitlement_required"
    assert [p["id"] for p in refused.json()["products"]] == [bundle.json()["id"]]


async def test_one_expiry_job_closes_every_session_that_timed_out_at_once(
    client: httpx.AsyncClient, platform: Platform, clock: FakeClock, teacher: Person
) -> None:
    """At a scheduled exam's end most expiry jobs fall due together: the first to run
    closes the others' sessions too (scored, or discarded where the exam says so), and
    the rest find nothing left to do."""
    scored_exam = await _exam(client, teacher)
    discarded_exam = await _exam(client, teacher, onExpiry="discard")
    started = []
    for number in range(12):
        student = await make_person(platform)
        exam_id = scored_exam if number % 3 else discarded_exam
        session = await _start(client, student, exam_id)
        capital = _by_text(session, "capital of France")
        choice = _choice_index(capital, "Paris")
        assert (
            await _save(client, student, session["sessionId"], capital["id"], choice)
        ).is_success
        started.append((exam_id, uuid.UUID(session["sessionId"])))
    clock.advance(601)

    assert await build_worker(platform).run_once()
    async with platform.sessions() as db:
        states = dict((await db.execute(select(ExamSession.id, ExamSession.status))).all())
        results = dict((await db.execute(select(ExamResult.session_id, ExamResult.score))).all())
    for exam_id, session_id in started:
        if exam_id == scored_exam:
            assert (states[session_id], results[session_id]) == ("SCORED", 1.0)
        else:
            assert states[session_id] == "DISCARDED"
            assert session_id not in results
    assert await build_worker(platform).run_once(), "the other jobs still run, as no-ops"
    async with platform.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(ExamResult)) == 8
