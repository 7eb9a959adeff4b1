"""Essay grading over the API, on both deployments: the queue, bounds, who may grade,
rubrics, the audit trail, finality (status, score, standings) and racing graders."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from studyhall.exams import service
from studyhall.exams.models import ExamResult
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.runtime import Platform
from tests.exams.test_sessions import _by_text, _save, _start, _submit
from tests.helpers import Person, make_person

GIFT = """
::Capital:: What is the capital of France? {=Paris ~London ~Berlin ~Madrid}

::Tides:: Explain the tides. {}

::Seasons:: Explain the seasons. {}
"""
ESSAY_POINTS = 10.0
RUBRIC = {
    "criteria": [
        {
            "title": "Accuracy",
            "levels": [{"title": "Wrong", "points": 0}, {"title": "Right", "points": 6}],
        },
        {
            "title": "Clarity",
            "levels": [{"title": "Muddled", "points": 1}, {"title": "Clear", "points": 5}],
        },
    ]
}


@dataclass
class Exam:
    id: str
    teacher: Person
    questions: dict[str, str]  # title -> question id

    def grading(self, session_id: str = "", question: str = "") -> str:
        path = f"/api/v1/exams/{self.id}/grading"
        return f"{path}/{session_id}/{self.questions[question]}" if session_id else path

    def history(self, session_id: str, question: str) -> str:
        return self.grading(session_id, question) + "/history"

    def rubric(self, question: str) -> str:
        return f"/api/v1/exams/{self.id}/questions/{self.questions[question]}/rubric"


@pytest.fixture
async def teacher(platform: Platform) -> Person:
    return await make_person(platform, Role.TEACHER, name="Tess Teacher")


@pytest.fixture
async def exam(client: httpx.AsyncClient, teacher: Person) -> Exam:
    bank = await client.post("/api/v1/banks", json={"name": "Essays"}, headers=teacher.headers)
    report = await client.post(
        f"/api/v1/banks/{bank.json()['id']}/import?format=gift",
        content=GIFT.encode(),
        headers={**teacher.headers, "content-type": "text/plain"},
    )
    assert report.json()["imported"] == 3, report.text
    listed = await client.get(
        f"/api/v1/banks/{bank.json()['id']}/questions", headers=teacher.headers
    )
    questions = {question["title"]: question["id"] for question in listed.json()}
    body = {
        "title": "Essay exam",
        "durationSeconds": 600,
        "shuffleQuestions": False,
        "questions": [
            {"questionId": questions["Capital"], "points": 2},
            {"questionId": questions["Tides"], "points": ESSAY_POINTS},
            {"questionId": questions["Seasons"], "points": ESSAY_POINTS},
        ],
        "reviewAfterSubmit": {"score": True, "explanations": True},
    }
    created = await client.post("/api/v1/exams", json=body, headers=teacher.headers)
    assert created.status_code == 201, created.text
    return Exam(created.json()["id"], teacher, questions)


async def _sit(
    client: httpx.AsyncClient,
    platform: Platform,
    exam: Exam,
    *,
    essays: tuple[str, ...] = ("Tides", "Seasons"),
    name: str = "",
    student: Person | None = None,
) -> tuple[Person, str]:
    """A student (new unless given) answers Paris and the given essays, then submits."""
    student = student or await make_person(platform, Role.STUDENT, name=name)
    session = await _start(client, student, exam.id)
    sid = session["sessionId"]
    capital = _by_text(session, "capital of France")
    paris = next(c["id"] for c in capital["choices"] if "Paris" in c["html"])
    assert (await _save(client, student, sid, capital["id"], paris)).status_code == 200
    for title in essays:
        essay = _by_text(session, title.lower().replace("tides", "the tides"))
        saved = await _save(client, student, sid, essay["id"], f"{name} on {title}: because.")
        assert saved.status_code == 200, saved.text
    submitted = await _submit(client, student, sid)
    assert submitted.status_code == (202 if essays else 200), submitted.text
    return student, sid


async def _grade(
    client: httpx.AsyncClient, exam: Exam, sid: str, question: str, **body: Any
) -> httpx.Response:
    return await client.put(exam.grading(sid, question), json=body, headers=exam.teacher.headers)


async def _result(client: httpx.AsyncClient, student: Person, sid: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/sessions/{sid}/result", headers=student.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def finals(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """Each result ``service.results_final`` hears of (where standings learn of final
    results)."""
    calls: list[tuple[str, float]] = []
    original = service.results_final

    async def recording(session: Any, platform: Platform, results: Sequence[ExamResult]) -> None:
        calls.extend((str(result.session_id), result.score) for result in results)
        await original(session, platform, results)

    monkeypatch.setattr(service, "results_final", recording)
    return calls


async def test_the_queue_lists_essays_oldest_submit_first_for_the_exam_owner_only(
    client: httpx.AsyncClient, platform: Platform, clock: FakeClock, exam: Exam
) -> None:
    # Made before the clock moves: a token's issue time must not lie ahead of real time.
    bob = await make_person(platform, Role.STUDENT, name="Bob")
    cyd = await make_person(platform, Role.STUDENT, name="Cyd")
    other_teacher = await make_person(platform, Role.TEACHER)
    admin = await make_person(platform, Role.ADMIN)
    first, first_sid = await _sit(client, platform, exam, name="Ann")
    clock.advance(30)
    _, second_sid = await _sit(client, platform, exam, essays=("Seasons",), name="Bob", student=bob)
    clock.advance(30)
    await _sit(client, platform, exam, essays=(), student=cyd)  # nothing to grade

    queue = await client.get(exam.grading(), headers=exam.teacher.headers)
    assert queue.status_code == 200, queue.text
    body = queue.json()
    assert body["pending"] == 3
    assert [(i["sessionId"], i["questionId"], i["studentName"]) for i in body["items"]] == [
        (first_sid, exam.questions["Tides"], "Ann"),
        (first_sid, exam.questions["Seasons"], "Ann"),
        (second_sid, exam.questions["Seasons"], "Bob"),
    ]
    assert {i["status"] for i in body["items"]} == {"pending"}
    assert all(i["points"] == ESSAY_POINTS for i in body["items"])

    assert (await _grade(client, exam, first_sid, "Tides", score=4)).status_code == 200
    pending = (await client.get(exam.grading(), headers=exam.teacher.headers)).json()
    assert pending["pending"] == 2
    assert len(pending["items"]) == 2
    everything = await client.get(exam.grading() + "?show=all", headers=exam.teacher.headers)
    graded = [i for i in everything.json()["items"] if i["status"] == "graded"]
    assert [(i["questionId"], i["score"]) for i in graded] == [(exam.questions["Tides"], 4)]

    for outsider in (first, other_teacher):
        for path in (exam.grading(), exam.grading(first_sid, "Seasons")):
            refused = await client.get(path, headers=outsider.headers)
            assert (refused.status_code, refused.json()["code"]) == (404, "not_found")
        sneaky = await client.put(
            exam.grading(first_sid, "Seasons"), json={"score": 10}, headers=outsider.headers
        )
        assert sneaky.status_code == 404
    assert (await client.get(exam.grading(), headers=admin.headers)).json()["pending"] == 2


async def test_one_essay_shows_the_answer_and_its_points(
    client: httpx.AsyncClient, platform: Platform, exam: Exam
) -> None:
    _, sid = await _sit(client, platform, exam, name="Ann")
    essay = (await client.get(exam.grading(sid, "Tides"), headers=exam.teacher.headers)).json()
    assert essay["response"] == "Ann on Tides: because."
    assert "Explain the tides" in essay["questionHtml"]
    assert (essay["points"], essay["studentName"], essay["status"]) == (10, "Ann", "SCORING")
    assert essay["grade"] is None
    assert essay["rubric"] is None


async def test_a_grade_must_fit_the_question_and_bad_ones_change_nothing(
    client: httpx.AsyncClient, platform: Platform, exam: Exam
) -> None:
    _, sid = await _sit(client, platform, exam, essays=("Tides",))
    refusals = [
        ("Tides", {"score": 10.5}, 422, "score_out_of_range"),
        ("Tides", {"score": -1}, 422, "score_out_of_range"),
        ("Tides", {"score": 3, "rubricLevels": [0, 0]}, 422, "validation_failed"),
        ("Tides", {"feedback": "No score"}, 422, "validation_failed"),
        ("Tides", {"rubricLevels": [0, 1]}, 422, "rubric_mismatch"),
        ("Tides", {"score": "ten"}, 422, "validation_failed"),
        ("Capital", {"score": 1}, 422, "not_an_essay"),
        ("Seasons", {"score": 1}, 409, "nothing_to_grade"),
    ]
    for question, body, status, code in refusals:
        refused = await _grade(client, exam, sid, question, **body)
        assert (refused.status_code, refused.json()["code"]) == (status, code), (body, refused.text)
    history = await client.get(exam.history(sid, "Tides"), headers=exam.teacher.headers)
    assert history.json() == []
    queue = (await client.get(exam.grading(), headers=exam.teacher.headers)).json()
    assert queue["pending"] == 1

    student = await make_person(platform, Role.STUDENT)
    running = await _start(client, student, exam.id)
    early = await _grade(client, exam, running["sessionId"], "Tides", score=1)
    assert (early.status_code, early.json()["code"]) == (409, "result_not_ready")

    edge = await _grade(client, exam, sid, "Tides", score=ESSAY_POINTS)
    assert edge.status_code == 200, edge.text


async def test_rubric_levels_give_the_score_capped_to_the_points(
    client: httpx.AsyncClient, platform: Platform, exam: Exam
) -> None:
    headers = exam.teacher.headers
    not_essay = await client.put(exam.rubric("Capital"), json=RUBRIC, headers=headers)
    assert (not_essay.status_code, not_essay.json()["code"]) == (422, "not_an_essay")
    other_teacher = await make_person(platform, Role.TEACHER)
    foreign = await client.put(exam.rubric("Tides"), json=RUBRIC, headers=other_teacher.headers)
    assert foreign.status_code == 404
    empty = await client.put(exam.rubric("Tides"), json={"criteria": []}, headers=headers)
    assert empty.status_code == 422
    assert (await client.get(exam.rubric("Tides"), headers=headers)).status_code == 404

    attached = await client.put(exam.rubric("Tides"), json=RUBRIC, headers=headers)
    assert attached.status_code == 200, attached.text
    assert attached.json()["maxPoints"] == 11
    assert (await client.get(exam.rubric("Tides"), headers=headers)).json()["criteria"] == (
        attached.json()["criteria"]
    )

    _, sid = await _sit(client, platform, exam, essays=("Tides",))
    essay = (await client.get(exam.grading(sid, "Tides"), headers=headers)).json()
    assert [c["title"] for c in essay["rubric"]["criteria"]] == ["Accuracy", "Clarity"]
    wrong_count = await _grade(client, exam, sid, "Tides", rubricLevels=[1])
    assert (wrong_count.status_code, wrong_count.json()["code"]) == (422, "rubric_mismatch")
    no_level = await _grade(client, exam, sid, "Tides", rubricLevels=[2, 0])
    assert (no_level.status_code, no_level.json()["code"]) == (422, "rubric_mismatch")

    partial = await _grade(client, exam, sid, "Tides", rubricLevels=[1, 0], feedback="Unclear")
    assert partial.status_code == 200, partial.text
    assert partial.json()["grade"]["score"] == 7
    assert [(c["criterionTitle"], c["levelTitle"]) for c in partial.json()["grade"]["rubric"]] == [
        ("Accuracy", "Right"),
        ("Clarity", "Muddled"),
    ]
    best = await _grade(client, exam, sid, "Tides", rubricLevels=[1, 1])
    assert best.json()["grade"]["score"] == ESSAY_POINTS  # 11 capped to the 10 points
    assert best.json()["score"] == 2 + ESSAY_POINTS

    # Editing the rubric later leaves the levels a grade was given with as they read.
    renamed = {"criteria": [{"title": "Overall", "levels": [{"title": "Fine", "points": 3}]}]}
    assert (await client.put(exam.rubric("Tides"), json=renamed, headers=headers)).is_success
    history = (await client.get(exam.history(sid, "Tides"), headers=headers)).json()
    assert history[0]["rubric"][1]["levelTitle"] == "Muddled"
    assert (await client.delete(exam.rubric("Tides"), headers=headers)).status_code == 204
    assert (await client.get(exam.rubric("Tides"), headers=headers)).status_code == 404


async def test_the_last_grade_makes_the_result_final_and_regrades_are_audited(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    exam: Exam,
    finals: list[tuple[str, float]],
) -> None:
    student, sid = await _sit(client, platform, exam)
    first = await _grade(client, exam, sid, "Tides", score=6, feedback="Mention the moon.")
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["pendingGrades"]) == ("SCORING", 1)
    assert first.json()["score"] is None
    waiting = await _result(client, student, sid)
    assert (waiting["status"], waiting["pendingGrades"]) == ("SCORING", 1)
    assert "score" not in waiting
    assert finals == []

    clock.advance(60)
    last = await _grade(client, exam, sid, "Seasons", score=7.5)
    assert (last.json()["status"], last.json()["score"]) == ("SCORED", 15.5)
    assert finals == [(sid, 15.5)]
    final = await _result(client, student, sid)
    assert (final["status"], final["score"], final["maxScore"], final["rank"]) == (
        "SCORED",
        15.5,
        22,
        1,
    )
    tides = next(e for e in final["breakdown"] if e["questionId"] == exam.questions["Tides"])
    assert tides["awarded"] == 6
    assert "Mention the moon." in tides["feedbackHtml"]
    view = await client.get(f"/api/v1/sessions/{sid}", headers=student.headers)
    assert view.json()["status"] == "SCORED"
    assert (await client.get(exam.grading(), headers=exam.teacher.headers)).json()["items"] == []

    clock.advance(60)
    regrade = await _grade(client, exam, sid, "Tides", score=9, feedback="Better on reflection.")
    assert (regrade.json()["status"], regrade.json()["score"]) == ("SCORED", 18.5)
    assert finals == [(sid, 15.5), (sid, 18.5)]
    assert (await _result(client, student, sid))["score"] == 18.5

    history = await client.get(exam.history(sid, "Tides"), headers=exam.teacher.headers)
    trail = history.json()
    assert [(h["previousScore"], h["score"]) for h in trail] == [(None, 6), (6, 9)]
    assert [(h["previousFeedback"], h["feedback"]) for h in trail] == [
        (None, "Mention the moon."),
        ("Mention the moon.", "Better on reflection."),
    ]
    assert {h["graderName"] for h in trail} == {"Tess Teacher"}
    assert trail[0]["gradedAt"] < trail[1]["gradedAt"]
    essay = (await client.get(exam.grading(sid, "Tides"), headers=exam.teacher.headers)).json()
    assert (essay["grade"]["score"], essay["grade"]["graderName"]) == (9, "Tess Teacher")
    assert student.token not in history.text


async def test_racing_graders_are_applied_one_after_the_other(
    client: httpx.AsyncClient, platform: Platform, exam: Exam, finals: list[tuple[str, float]]
) -> None:
    student, sid = await _sit(client, platform, exam)
    # Two graders of the same essay, and a third of the other essay, all at once.
    racing = await asyncio.gather(
        _grade(client, exam, sid, "Tides", score=3),
        _grade(client, exam, sid, "Tides", score=5),
        _grade(client, exam, sid, "Seasons", score=8),
    )
    assert [r.status_code for r in racing] == [200, 200, 200], [r.text for r in racing]
    trail = (await client.get(exam.history(sid, "Tides"), headers=exam.teacher.headers)).json()
    assert len(trail) == 2
    assert trail[0]["previousScore"] is None
    assert trail[1]["previousScore"] == trail[0]["score"]
    tides = trail[1]["score"]
    result = await _result(client, student, sid)
    assert (result["status"], result.get("pendingGrades", 0)) == ("SCORED", 0)
    assert result["score"] == 2 + tides + 8
    awarded = {e["questionId"]: e["awarded"] for e in result["breakdown"]}
    assert (awarded[exam.questions["Tides"]], awarded[exam.questions["Seasons"]]) == (tides, 8)
    # Final when the second essay got its grade, and again if a Tides regrade came after.
    assert len(finals) in (1, 2)
    assert finals[-1] == (sid, result["score"])
