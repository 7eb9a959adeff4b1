"""What the exam pages read beyond the contract, on both deployments: the exams a student
may take, a student's attempts at one exam, a teacher's overrides; and the pages' forms
without JavaScript (start from the lobby, the setup form's errors, accommodations)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.helpers import Person, browser_tab, form_token, make_person, sign_in

GIFT = """
::Capital:: What is the capital of France? {=Paris ~London ~Berlin}

::Sky:: The sky is green. {F}
"""


@pytest.fixture
async def teacher(platform: Platform) -> Person:
    return await make_person(platform, Role.TEACHER, name="Tess Teacher")


@pytest.fixture
async def student(platform: Platform) -> Person:
    return await make_person(platform, Role.STUDENT, name="Sam Student")


async def _question_ids(client: httpx.AsyncClient, teacher: Person) -> list[str]:
    bank = await client.post("/api/v1/banks", json={"name": "Pages"}, headers=teacher.headers)
    bank_id = bank.json()["id"]
    report = await client.post(
        f"/api/v1/banks/{bank_id}/import?format=gift",
        content=GIFT.encode(),
        headers={**teacher.headers, "content-type": "text/plain"},
    )
    assert report.json()["imported"] == 2, report.text
    listed = await client.get(f"/api/v1/banks/{bank_id}/questions", headers=teacher.headers)
    return [question["id"] for question in listed.json()]


async def _exam(client: httpx.AsyncClient, teacher: Person, title: str, **rules: Any) -> str:
    body = {
        "title": title,
        "durationSeconds": 600,
        "questionIds": await _question_ids(client, teacher),
        **rules,
    }
    created = await client.post("/api/v1/exams", json=body, headers=teacher.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _cohort(client: httpx.AsyncClient, teacher: Person, name: str, *members: Person) -> str:
    cohort = await client.post("/api/v1/cohorts", json={"name": name}, headers=teacher.headers)
    assert cohort.status_code == 201, cohort.text
    cohort_id = str(cohort.json()["id"])
    for member in members:
        added = await client.put(
            f"/api/v1/cohorts/{cohort_id}/members/{member.id}", headers=teacher.headers
        )
        assert added.status_code in (200, 201, 204), added.text
    return cohort_id


def _iso(moment: datetime) -> str:
    return moment.isoformat()


async def _attempts(client: httpx.AsyncClient, person: Person, exam_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/exams/{exam_id}/attempts", headers=person.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_available_exams_are_the_open_and_coming_ones_of_the_students_classes(
    client: httpx.AsyncClient, teacher: Person, student: Person, clock: FakeClock
) -> None:
    now = clock.now()
    await _exam(client, teacher, "Open")
    await _exam(client, teacher, "Closed", closesAt=_iso(now - timedelta(hours=1)))
    await _exam(client, teacher, "Coming", opensAt=_iso(now + timedelta(days=1)))
    mine = await _cohort(client, teacher, "Mine", student)
    other = await _cohort(client, teacher, "Other")
    await _exam(client, teacher, "For my class", cohortId=mine)
    await _exam(client, teacher, "For another class", cohortId=other)

    seen = await client.get("/api/v1/exams/available", headers=student.headers)
    assert seen.status_code == 200, seen.text
    assert sorted(exam["title"] for exam in seen.json()) == ["Coming", "For my class", "Open"]
    staff = await client.get("/api/v1/exams/available", headers=teacher.headers)
    assert "For another class" in {exam["title"] for exam in staff.json()}
    assert "Closed" not in {exam["title"] for exam in staff.json()}
    anonymous = await client.get("/api/v1/exams/available")
    assert anonymous.status_code == 401


async def test_attempts_show_the_running_one_and_what_stops_a_new_one(
    client: httpx.AsyncClient, teacher: Person, student: Person, clock: FakeClock
) -> None:
    exam_id = await _exam(client, teacher, "Once", attemptsAllowed=1)
    before = await _attempts(client, student, exam_id)
    assert (before["attemptsLeft"], before["openSessionId"], before["blockedBy"]) == (1, None, None)
    assert before["attempts"] == []

    started = await client.post(f"/api/v1/exams/{exam_id}/sessions", headers=student.headers)
    session_id = started.json()["sessionId"]
    running = await _attempts(client, student, exam_id)
    assert (running["openSessionId"], running["attemptsLeft"]) == (session_id, 0)
    assert running["blockedBy"] is None, "a running attempt is continued, not blocked"
    assert [a["status"] for a in running["attempts"]] == ["ACTIVE"]

    clock.advance(601)
    overdue = await _attempts(client, student, exam_id)
    assert overdue["openSessionId"] is None, "an attempt past its deadline is not open"
    assert overdue["blockedBy"] == "no_attempts_left"

    coming = await _exam(client, teacher, "Later", opensAt=_iso(clock.now() + timedelta(hours=2)))
    assert (await _attempts(client, student, coming))["blockedBy"] == "not_open"
    closed = await _exam(client, teacher, "Gone", closesAt=_iso(clock.now() - timedelta(hours=2)))
    assert (await _attempts(client, student, closed))["blockedBy"] == "closed"
    other = await _cohort(client, teacher, "Not yours")
    gated = await _exam(client, teacher, "Class only", cohortId=other)
    assert (await _attempts(client, student, gated))["blockedBy"] == "not_in_cohort"
    missing = await client.get(f"/api/v1/exams/{uuid.uuid4()}/attempts", headers=student.headers)
    assert missing.status_code == 404


async def test_overrides_name_the_student_and_only_their_teacher_reads_them(
    client: httpx.AsyncClient,
    teacher: Person,
    student: Person,
    platform: Platform,
    clock: FakeClock,
) -> None:
    exam_id = await _exam(
        client, teacher, "Accommodated", closesAt=_iso(clock.now() + timedelta(hours=1))
    )
    later = clock.now() + timedelta(hours=3)
    put = await client.put(
        f"/api/v1/exams/{exam_id}/overrides/{student.id}",
        json={"extraSeconds": 300, "closesAt": _iso(later)},
        headers=teacher.headers,
    )
    assert put.status_code == 200, put.text
    assert (put.json()["userName"], put.json()["extraSeconds"]) == ("Sam Student", 300)
    listed = await client.get(f"/api/v1/exams/{exam_id}/overrides", headers=teacher.headers)
    assert [(o["userEmail"], o["extraSeconds"]) for o in listed.json()] == [(student.email, 300)]

    mine = await _attempts(client, student, exam_id)
    assert mine["durationSeconds"] == 900
    assert datetime.fromisoformat(mine["closesAt"]) == later

    colleague = await make_person(platform, Role.TEACHER)
    for person, status in ((colleague, 404), (student, 403)):
        peek = await client.get(f"/api/v1/exams/{exam_id}/overrides", headers=person.headers)
        assert peek.status_code == status, peek.text
    nobody = await client.put(
        f"/api/v1/exams/{exam_id}/overrides/{uuid.uuid4()}",
        json={"extraSeconds": 60},
        headers=teacher.headers,
    )
    assert nobody.status_code == 404


SESSION_PATH = re.compile(r"^/sessions/([0-9a-f-]{36})$")


async def test_the_lobby_starts_and_continues_an_attempt_without_javascript(
    client: httpx.AsyncClient,
    app: ObservedApp,
    teacher: Person,
    student: Person,
    platform: Platform,
) -> None:
    exam_id = await _exam(client, teacher, "Plain form", instructions="Bring a pencil.\nNo phones.")
    async with browser_tab(app) as tab:
        await sign_in(tab, student)
        lobby = await tab.get(f"/exams/{exam_id}")
        assert lobby.status_code == 200
        assert "Bring a pencil.<br>No phones." in lobby.text
        assert "Start the exam" in lobby.text
        assert f'href="/exams/{exam_id}/leaderboard"' in lobby.text
        token = await form_token(tab, f"/exams/{exam_id}")
        started = await tab.post(f"/exams/{exam_id}/start", data={"_csrf_token": token})
        assert started.status_code == 303
        match = SESSION_PATH.match(started.headers["location"])
        assert match, started.headers["location"]
        session_id = match.group(1)

        page = await tab.get(f"/sessions/{session_id}")
        assert page.status_code == 200
        assert "What is the capital of France?" in page.text
        assert f'data-session-id="{session_id}"' in page.text
        again = await tab.get(f"/exams/{exam_id}")
        assert f'href="/sessions/{session_id}"' in again.text
        assert "Continue your attempt" in again.text
        early = await tab.get(f"/sessions/{session_id}/result")
        assert (early.status_code, early.headers["location"]) == (303, f"/sessions/{session_id}")

        listed = await tab.get("/exams")
        assert f'href="/exams/{exam_id}"' in listed.text

    stranger = await make_person(platform, Role.STUDENT)
    async with browser_tab(app) as tab:
        await sign_in(tab, stranger)
        assert (await tab.get(f"/sessions/{session_id}")).status_code == 404
        assert (await tab.get(f"/sessions/{session_id}/result")).status_code == 404
        assert (await tab.get("/teach/exams")).status_code == 404


async def test_a_refused_start_shows_the_reason_in_the_lobby(
    client: httpx.AsyncClient, app: ObservedApp, teacher: Person, student: Person
) -> None:
    other = await _cohort(client, teacher, "Elsewhere")
    exam_id = await _exam(client, teacher, "Not for you", cohortId=other)
    async with browser_tab(app) as tab:
        await sign_in(tab, student)
        lobby = await tab.get(f"/exams/{exam_id}")
        assert "This exam is for another class." in lobby.text
        assert "Start the exam" not in lobby.text
        token = await form_token(tab, f"/exams/{exam_id}")
        refused = await tab.post(f"/exams/{exam_id}/start", data={"_csrf_token": token})
        assert refused.status_code == 403
        assert "another cohort" in refused.text


async def test_the_setup_form_keeps_what_was_typed_and_says_what_is_wrong(
    client: httpx.AsyncClient, app: ObservedApp, teacher: Person, student: Person
) -> None:
    questions = await _question_ids(client, teacher)
    async with browser_tab(app) as tab:
        await sign_in(tab, teacher)
        token = await form_token(tab, "/teach/exams")
        form = {
            "_csrf_token": token,
            "title": "Midterm <draft>",
            "duration_minutes": "45",
            "source": "pick",
            "attempts": "2",
            "attempt_policy": "last",
            "on_expiry": "submit",
            "review_submit_score": "on",
        }
        empty = await tab.post("/teach/exams", data=form)
        assert empty.status_code == 422
        assert "Pick at least one question" in empty.text
        assert 'value="Midterm &lt;draft&gt;"' in empty.text
        assert re.search(r'<option value="last"\s+selected', empty.text)

        backwards = await tab.post(
            "/teach/exams",
            data={
                **form,
                "question": questions[0],
                "opens_at": "2030-01-02T10:00",
                "closes_at": "2030-01-01T10:00",
            },
        )
        assert backwards.status_code == 422
        assert "must close after it opens" in backwards.text
        assert 'value="2030-01-02T10:00"' in backwards.text

        created = await tab.post(
            "/teach/exams",
            data={**form, "question": questions, f"points_{questions[1]}": "3"},
        )
        assert created.status_code == 303, created.text
        exam_path = created.headers["location"]
        exam_id = exam_path.rsplit("/", 1)[1]
    exam = (await client.get(f"/api/v1/exams/{exam_id}", headers=teacher.headers)).json()
    assert (exam["title"], exam["durationSeconds"], exam["questionCount"]) == (
        "Midterm <draft>",
        2700,
        2,
    )
    assert (exam["attemptsAllowed"], exam["attemptPolicy"]) == (2, "last")
    assert exam["reviewAfterSubmit"] == {
        "score": True,
        "correctness": False,
        "rightAnswers": False,
        "explanations": False,
    }
    assert (exam["shuffleQuestions"], exam["pauseBudgetSeconds"]) == (False, None)

    async with browser_tab(app) as tab:
        await sign_in(tab, teacher)
        token = await form_token(tab, exam_path)
        unknown = await tab.post(
            f"{exam_path}/overrides",
            data={"_csrf_token": token, "email": "nobody@example.org", "extra_minutes": "10"},
        )
        assert unknown.status_code == 404
        assert "nobody@example.org" in unknown.text
        saved = await tab.post(
            f"{exam_path}/overrides",
            data={"_csrf_token": token, "email": student.email, "extra_minutes": "15"},
        )
        assert saved.status_code == 200
        assert "Saved the accommodation for Sam Student" in saved.text
        assert "15 min extra" in saved.text
