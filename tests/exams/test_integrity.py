"""Integrity over the API, on both deployments: signals in (queued, rate-limited), suspicion
reasons out, each proven on a crafted session and absent from an honest one."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from studyhall.app import litestar_of
from studyhall.exams.integrity import SIGNALS_PER_MINUTE
from studyhall.exams.integrity_rules import AnswerSheet, similar_pairs
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.exams.test_sessions import _save, _start, _submit
from tests.helpers import Person, make_person

# Six single-choice questions; in each, option 0 (as stored) is the right one.
GIFT = """
::Q1:: Which planet is known as the red planet? {=Mars ~Venus ~Jupiter ~Saturn}

::Q2:: Which gas do plants take in for photosynthesis? {=Carbon dioxide ~Oxygen ~Nitrogen ~Helium}

::Q3:: What is the largest ocean on Earth? {=Pacific ~Atlantic ~Indian ~Arctic}

::Q4:: Who wrote the play Hamlet? {=Shakespeare ~Marlowe ~Jonson ~Kyd}

::Q5:: What is the chemical symbol for gold? {=Au ~Ag ~Gd ~Go}

::Q6:: How many sides does a hexagon have? {=Six ~Five ~Seven ~Eight}
"""
TITLES = ("Q1", "Q2", "Q3", "Q4", "Q5", "Q6")
ALL_RIGHT = dict.fromkeys(TITLES, 0)
Flush = Callable[[], Awaitable[None]]


@pytest.fixture
async def student(platform: Platform) -> Person:
    return await make_person(platform, Role.STUDENT, name="Crafty Carl")


@pytest.fixture
async def honest(platform: Platform) -> Person:
    return await make_person(platform, Role.STUDENT, name="Honest Hana")


@pytest.fixture
def flush_signals(app: ObservedApp) -> Flush:
    """Write the buffered signals now instead of at the next one-second tick."""
    flush: Flush = litestar_of(app).state.signal_buffer.flush
    return flush


@pytest.fixture
async def exam(client: httpx.AsyncClient, teacher: Person) -> dict[str, Any]:
    """An exam over the six questions: its id and each title's question id."""
    bank = await client.post("/api/v1/banks", json={"name": "Integrity"}, headers=teacher.headers)
    bank_id = bank.json()["id"]
    report = await client.post(
        f"/api/v1/banks/{bank_id}/import?format=gift",
        content=GIFT.encode(),
        headers={**teacher.headers, "content-type": "text/plain"},
    )
    assert report.json()["imported"] == 6, report.text
    listed = await client.get(f"/api/v1/banks/{bank_id}/questions", headers=teacher.headers)
    ids = {question["title"]: question["id"] for question in listed.json()}
    created = await client.post(
        "/api/v1/exams",
        json={"title": "Integrity mock", "durationSeconds": 600, "questionIds": list(ids.values())},
        headers=teacher.headers,
    )
    assert created.status_code == 201, created.text
    return {"id": created.json()["id"], "questions": ids}


async def _signal(
    client: httpx.AsyncClient, person: Person, session_id: str, kind: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/api/v1/sessions/{session_id}/signals",
        json={"kind": kind, "at": "2026-11-30T10:00:00Z", **body},
        headers=person.headers,
    )


async def _answer(
    client: httpx.AsyncClient,
    clock: FakeClock,
    person: Person,
    session_id: str,
    questions: dict[str, str],
    picks: dict[str, int],
    *,
    seconds_each: float = 30,
) -> None:
    for title, choice in picks.items():
        clock.advance(seconds_each)
        saved = await _save(client, person, session_id, questions[title], choice)
        assert saved.status_code == 200, saved.text


async def _exam_report(client: httpx.AsyncClient, teacher: Person, exam_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/exams/{exam_id}/integrity", headers=teacher.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _session_report(
    client: httpx.AsyncClient, teacher: Person, session_id: str
) -> dict[str, Any]:
    response = await client.get(f"/api/v1/sessions/{session_id}/integrity", headers=teacher.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _flagged(report: dict[str, Any]) -> dict[str, set[str]]:
    """Flagged session id -> its reason codes."""
    return {
        item["sessionId"]: {reason["code"] for reason in item["reasons"]}
        for item in report["sessions"]
    }


async def test_signals_are_accepted_at_once_and_stored_after_the_flush(
    client: httpx.AsyncClient,
    teacher: Person,
    student: Person,
    exam: dict[str, Any],
    flush_signals: Flush,
) -> None:
    sid = (await _start(client, student, exam["id"]))["sessionId"]
    for kind, detail in (("page-hidden", "tab switch"), ("focus-lost", ""), ("paste", "42 chars")):
        accepted = await _signal(client, student, sid, kind, detail=detail)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json() == {"accepted": True}
    minimal = await client.post(
        f"/api/v1/sessions/{sid}/signals", json={"kind": "copy"}, headers=student.headers
    )
    assert minimal.status_code == 202, "the browser's time and a detail are optional"
    await flush_signals()
    report = await _session_report(client, teacher, sid)
    assert [(s["kind"], s["detail"]) for s in report["signals"]] == [
        ("page-hidden", "tab switch"),
        ("focus-lost", ""),
        ("paste", "42 chars"),
        ("copy", ""),
    ]
    assert report["signals"][0]["at"].startswith("2026-11-30T10:00:00")
    assert report["signals"][3]["at"] is None
    assert report["signalCounts"] == {"page-hidden": 1, "focus-lost": 1, "paste": 1, "copy": 1}
    assert report["reasons"] == [], "a few signals are no reason"
    assert report["userName"] == "Crafty Carl"


async def test_bad_signals_are_refused_with_a_code_and_store_nothing(
    client: httpx.AsyncClient,
    teacher: Person,
    student: Person,
    honest: Person,
    exam: dict[str, Any],
    flush_signals: Flush,
) -> None:
    sid = (await _start(client, student, exam["id"]))["sessionId"]
    unknown = await _signal(client, student, sid, "telepathy")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_signal_kind")
    assert "page-hidden" in unknown.json()["detail"], "the refusal names the known kinds"
    for body in ({"at": "2026-11-30T10:00:00Z"}, {"kind": "copy", "extra": 1}):
        invalid = await client.post(
            f"/api/v1/sessions/{sid}/signals", json=body, headers=student.headers
        )
        assert (invalid.status_code, invalid.json()["code"]) == (422, "validation_failed")
    too_long = await _signal(client, student, sid, "copy", detail="x" * 501)
    assert too_long.status_code == 422
    strangers = await _signal(client, honest, sid, "copy")
    assert strangers.status_code == 404, "another student's session does not exist for them"
    nowhere = await _signal(client, student, str(uuid.uuid4()), "copy")
    assert nowhere.status_code == 404
    assert (await _submit(client, student, sid)).status_code == 200
    closed = await _signal(client, student, sid, "copy")
    assert (closed.status_code, closed.json()["code"]) == (409, "session_closed")
    await flush_signals()
    report = await _session_report(client, teacher, sid)
    assert report["signals"] == []
    assert report["signalCounts"] == {}


async def test_a_signal_flood_is_rate_limited_and_saves_still_succeed(
    client: httpx.AsyncClient,
    teacher: Person,
    student: Person,
    exam: dict[str, Any],
    clock: FakeClock,
    flush_signals: Flush,
) -> None:
    sid = (await _start(client, student, exam["id"]))["sessionId"]
    statuses = [
        (await _signal(client, student, sid, "focus-lost")).status_code
        for _ in range(SIGNALS_PER_MINUTE)
    ]
    assert set(statuses) == {202}
    flooded = await _signal(client, student, sid, "focus-lost")
    assert (flooded.status_code, flooded.json()["code"]) == (429, "rate_limited")
    assert int(flooded.headers["Retry-After"]) >= 1
    saved = await _save(client, student, sid, exam["questions"]["Q1"], 0)
    assert saved.status_code == 200, "signals have a limit of their own; saves go on"
    clock.advance(60)
    assert (await _signal(client, student, sid, "focus-lost")).status_code == 202
    await flush_signals()
    report = await _session_report(client, teacher, sid)
    assert report["signalCounts"] == {"focus-lost": SIGNALS_PER_MINUTE + 1}


async def test_leaving_the_page_and_the_clipboard_are_reasons(
    client: httpx.AsyncClient,
    teacher: Person,
    student: Person,
    honest: Person,
    exam: dict[str, Any],
    flush_signals: Flush,
) -> None:
    crafted = (await _start(client, student, exam["id"]))["sessionId"]
    fair = (await _start(client, honest, exam["id"]))["sessionId"]
    # Switching tabs fires both events: five departures, counted once each.
    for _ in range(5):
        for kind in ("focus-lost", "page-hidden"):
            assert (await _signal(client, student, crafted, kind)).status_code == 202
    for _ in range(3):
        assert (await _signal(client, student, crafted, "paste")).status_code == 202
    for kind in ["focus-lost", "page-hidden"] * 4 + ["copy", "copy", "fullscreen-exit"]:
        assert (await _signal(client, honest, fair, kind)).status_code == 202
    await flush_signals()

    report = await _exam_report(client, teacher, exam["id"])
    assert (report["sessionCount"], report["flaggedCount"]) == (2, 1)
    assert _flagged(report) == {crafted: {"left_page", "clipboard"}}
    reasons = {reason["code"]: reason for reason in report["sessions"][0]["reasons"]}
    assert (reasons["left_page"]["count"], reasons["left_page"]["threshold"]) == (5, 5)
    assert reasons["left_page"]["message"] == "Left the exam page 5 times"
    assert reasons["clipboard"]["count"] == 3
    fair_report = await _session_report(client, teacher, fair)
    assert fair_report["reasons"] == []
    assert fair_report["signalCounts"]["focus-lost"] == 4


async def test_answers_faster_than_reading_them_are_a_reason(
    client: httpx.AsyncClient,
    teacher: Person,
    student: Person,
    honest: Person,
    exam: dict[str, Any],
    clock: FakeClock,
) -> None:
    crafted = (await _start(client, student, exam["id"]))["sessionId"]
    fair = (await _start(client, honest, exam["id"]))["sessionId"]
    questions = exam["questions"]
    await _answer(client, clock, student, crafted, questions, ALL_RIGHT, seconds_each=1)
    await _answer(client, clock, honest, fair, questions, ALL_RIGHT, seconds_each=20)
    # Changing an answer quickly later is not a new first answer.
    await _answer(client, clock, honest, fair, questions, {"Q1": 1, "Q2": 1}, seconds_each=0)

    report = await _exam_report(client, teacher, exam["id"])
    assert _flagged(report) == {crafted: {"fast_answers"}}
    (reason,) = report["sessions"][0]["reasons"]
    assert reason["count"] == 6
    assert reason["message"].startswith("Answered 6 of 6 questions faster than reading")
    assert (await _session_report(client, teacher, fair))["reasons"] == []


async def test_saves_from_several_addresses_and_browsers_are_reasons(
    client: httpx.AsyncClient,
    app: ObservedApp,
    teacher: Person,
    student: Person,
    honest: Person,
    exam: dict[str, Any],
    clock: FakeClock,
) -> None:
    crafted = (await _start(client, student, exam["id"]))["sessionId"]
    fair = (await _start(client, honest, exam["id"]))["sessionId"]
    questions = exam["questions"]
    await _answer(client, clock, student, crafted, questions, {"Q1": 0, "Q2": 0})
    await _answer(client, clock, honest, fair, questions, {"Q1": 0, "Q2": 0, "Q3": 0})
    elsewhere = httpx.ASGITransport(app=app, client=("10.1.2.3", 40000))
    async with httpx.AsyncClient(
        transport=elsewhere,
        base_url="http://127.0.0.1",
        headers={"User-Agent": "Mozilla/5.0 (Phone) Other/1.0"},
    ) as phone:
        await _answer(phone, clock, student, crafted, questions, {"Q3": 0})

    report = await _exam_report(client, teacher, exam["id"])
    assert _flagged(report) == {crafted: {"several_ips", "several_user_agents"}}
    (flagged,) = report["sessions"]
    assert flagged["addresses"] == ["10.1.2.3", "127.0.0.1"]
    assert len(flagged["userAgents"]) == 2
    fair_report = await _session_report(client, teacher, fair)
    assert fair_report["reasons"] == []
    assert fair_report["addresses"] == ["127.0.0.1"]


async def test_improbably_similar_answer_sheets_are_paired(
    client: httpx.AsyncClient,
    platform: Platform,
    teacher: Person,
    exam: dict[str, Any],
    clock: FakeClock,
) -> None:
    copied = {"Q1": 1, "Q2": 2, "Q3": 1, "Q4": 3, "Q5": 0, "Q6": 0}
    sheets = {
        "Copy Cat": copied,
        "Copy Kitten": copied,
        "Right Rita": ALL_RIGHT,
        # Wrong three times, never the way the copiers were.
        "Own Olga": {"Q1": 2, "Q2": 0, "Q3": 3, "Q4": 0, "Q5": 1, "Q6": 0},
        # Shares two of the copiers' mistakes: a common misconception, not copying.
        "Mixed Max": {"Q1": 1, "Q2": 2, "Q3": 0, "Q4": 0, "Q5": 2, "Q6": 0},
    }
    # Tokens first: one issued after the fake clock ran ahead would not be valid yet.
    people = {name: await make_person(platform, Role.STUDENT, name=name) for name in sheets}
    sessions: dict[str, str] = {}
    for name, picks in sheets.items():
        person = people[name]
        sid = (await _start(client, person, exam["id"]))["sessionId"]
        await _answer(client, clock, person, sid, exam["questions"], picks)
        assert (await _submit(client, person, sid)).status_code == 200
        sessions[name] = sid

    report = await _exam_report(client, teacher, exam["id"])
    cat, kitten = sessions["Copy Cat"], sessions["Copy Kitten"]
    assert _flagged(report) == {cat: {"similar_answers"}, kitten: {"similar_answers"}}
    others = {
        item["sessionId"]: (item["reasons"][0]["otherSessionId"], item["reasons"][0]["count"])
        for item in report["sessions"]
    }
    assert others == {cat: (kitten, 4), kitten: (cat, 4)}
    one = await _session_report(client, teacher, cat)
    (reason,) = one["reasons"]
    assert reason["message"] == (
        "Shares 4 identical wrong answers with Copy Kitten's attempt and differs on no question"
    )
    for name in ("Right Rita", "Own Olga", "Mixed Max"):
        assert (await _session_report(client, teacher, sessions[name]))["reasons"] == []


def test_the_similarity_threshold_is_harpp_and_hogans() -> None:
    """Flagged from 3 identical wrong answers, when they are no fewer than the differences."""
    user_a, user_b = uuid.uuid4(), uuid.uuid4()

    def sheet(user: uuid.UUID, wrong: int, right: int, differing: int) -> AnswerSheet:
        answers = {f"w{i}": (b"9", False) for i in range(wrong)}
        answers |= {f"r{i}": (b"0", True) for i in range(right)}
        answers |= {f"d{i}": (str(user).encode(), False) for i in range(differing)}
        return AnswerSheet(uuid.uuid4(), user, answers)

    def flagged(wrong: int, differing: int, same_user: bool = False) -> bool:
        first = sheet(user_a, wrong, 5, differing)
        second = sheet(user_a if same_user else user_b, wrong, 5, differing)
        return bool(similar_pairs([first, second]))

    assert flagged(3, 0)
    assert flagged(3, 3)
    assert not flagged(3, 4), "more differences than shared mistakes"
    assert not flagged(2, 0), "two shared mistakes can be chance"
    assert not flagged(6, 0, same_user=True), "one student's attempts are not a pair"
    trio = [sheet(uuid.uuid4(), 3, 5, 0) for _ in range(3)]
    assert len(similar_pairs(trio)) == 3
    focused = similar_pairs(trio, focus=trio[2].session_id)
    assert {pair.other(trio[2].session_id) for pair in focused} == {s.session_id for s in trio[:2]}


async def test_reports_are_for_the_exam_owner_and_admins_only(
    client: httpx.AsyncClient,
    platform: Platform,
    teacher: Person,
    student: Person,
    exam: dict[str, Any],
) -> None:
    sid = (await _start(client, student, exam["id"]))["sessionId"]
    other_teacher = await make_person(platform, Role.TEACHER)
    admin = await make_person(platform, Role.ADMIN)
    paths = (f"/api/v1/exams/{exam['id']}/integrity", f"/api/v1/sessions/{sid}/integrity")
    for path in paths:
        for outsider in (student, other_teacher):
            refused = await client.get(path, headers=outsider.headers)
            assert refused.status_code == 404, f"{path} must not exist for outsiders"
        assert (await client.get(path, headers=admin.headers)).status_code == 200
    for path in (
        f"/api/v1/exams/{uuid.uuid4()}/integrity",
        f"/api/v1/sessions/{uuid.uuid4()}/integrity",
    ):
        assert (await client.get(path, headers=teacher.headers)).status_code == 404
