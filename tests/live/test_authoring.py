"""Authoring: the contract's quiz body, every question type, and stable refusal codes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from studyhall.live.questions import LiveQuestion, is_correct, parse_response
from studyhall.platform.auth import Role
from studyhall.platform.runtime import Platform
from tests.helpers import make_person
from tests.live.helpers import SINGLE, TEXT, TRUE_FALSE, quiz_body

EVERY_TYPE: list[dict[str, Any]] = [
    SINGLE,
    {
        "type": "multiple",
        "text": "Metals?",
        "options": ["Iron", "Wood", "Nickel"],
        "correctOptions": [0, 2],
    },
    TRUE_FALSE,
    TEXT,
    {"type": "poll", "text": "Enjoying it?", "options": ["Yes", "No"]},
    {
        "type": "numeric",
        "text": "Pi?",
        "correctValue": 3.14,
        "tolerance": 0.01,
        "timeLimitSeconds": 240,
    },
    {
        "type": "numeric",
        "text": "Slide to 7",
        "correctValue": 7,
        "min": 0,
        "max": 10,
        "timeLimitSeconds": 5,
    },
    {
        "type": "ordering",
        "text": "Small to big",
        "options": ["Sun", "Moon", "Earth"],
        "correctOptions": [1, 2, 0],
    },
]


async def test_a_teacher_authors_every_question_type_and_reads_it_back(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    body = quiz_body(*EVERY_TYPE, scoring="speed", autoStart=True, autoAdvance=True)
    created = await client.post("/api/v1/quizzes", json=body, headers=teacher.headers)
    assert created.status_code == 201, created.text
    quiz_id = created.json()["id"]
    detail = await client.get(f"/api/v1/quizzes/{quiz_id}", headers=teacher.headers)
    assert detail.status_code == 200
    quiz = detail.json()
    assert (quiz["scoring"], quiz["autoStart"], quiz["autoAdvance"]) == ("speed", True, True)
    assert [q["type"] for q in quiz["questions"]] == [q["type"] for q in EVERY_TYPE]
    assert quiz["questions"][2]["options"] == ["True", "False"]
    assert quiz["questions"][4]["points"] == "none", "a poll is unscored"
    listed = await client.get("/api/v1/quizzes", headers=teacher.headers)
    assert [(q["id"], q["questionCount"]) for q in listed.json()] == [(quiz_id, len(EVERY_TYPE))]

    colleague = await make_person(platform, Role.TEACHER)
    assert (await client.get("/api/v1/quizzes", headers=colleague.headers)).json() == []
    other = await client.get(f"/api/v1/quizzes/{quiz_id}", headers=colleague.headers)
    assert other.status_code == 404
    admin = await make_person(platform, Role.ADMIN)
    assert (
        await client.get(f"/api/v1/quizzes/{quiz_id}", headers=admin.headers)
    ).status_code == 200


async def test_students_do_not_author(client: httpx.AsyncClient, platform: Platform) -> None:
    student = await make_person(platform, Role.STUDENT)
    created = await client.post("/api/v1/quizzes", json=quiz_body(SINGLE), headers=student.headers)
    assert (created.status_code, created.json()["code"]) == (403, "not_a_teacher")
    assert (await client.get("/api/v1/quizzes", headers=student.headers)).status_code == 403
    assert (await client.post("/api/v1/quizzes", json=quiz_body(SINGLE))).status_code == 401


@pytest.mark.parametrize(
    ("question", "code"),
    [
        ({**SINGLE, "timeLimitSeconds": 4}, "time_limit_out_of_range"),
        ({**SINGLE, "timeLimitSeconds": 241}, "time_limit_out_of_range"),
        ({**SINGLE, "points": "triple"}, "invalid_points"),
        ({**SINGLE, "type": "essay"}, "unknown_question_type"),
        ({**SINGLE, "text": "  "}, "invalid_text"),
        ({**SINGLE, "options": ["only one"]}, "invalid_options"),
        ({**SINGLE, "correctOptions": [0, 1]}, "invalid_correct_options"),
        ({**SINGLE, "correctOptions": [3]}, "invalid_correct_options"),
        (
            {"type": "multiple", "text": "x", "options": ["a", "b"], "correctOptions": []},
            "invalid_correct_options",
        ),
        (
            {"type": "ordering", "text": "x", "options": ["a", "b"], "correctOptions": [0, 0]},
            "invalid_correct_options",
        ),
        ({"type": "text", "text": "x"}, "missing_accepted_answers"),
        (
            {"type": "text", "text": "x", "acceptedAnswers": ["a"], "options": ["a", "b"]},
            "unexpected_options",
        ),
        ({"type": "numeric", "text": "x"}, "missing_correct_value"),
        ({"type": "numeric", "text": "x", "correctValue": 1, "tolerance": -1}, "invalid_tolerance"),
        (
            {"type": "numeric", "text": "x", "correctValue": 11, "min": 0, "max": 10},
            "invalid_slider_range",
        ),
        (
            {"type": "poll", "text": "x", "options": ["a", "b"], "points": "double"},
            "poll_is_unscored",
        ),
        (
            {"type": "poll", "text": "x", "options": ["a", "b"], "correctOptions": [0]},
            "unexpected_correct_options",
        ),
    ],
)
async def test_a_bad_question_is_refused_with_its_code(
    client: httpx.AsyncClient, platform: Platform, question: dict[str, Any], code: str
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    body = quiz_body(SINGLE, question)
    refused = await client.post("/api/v1/quizzes", json=body, headers=teacher.headers)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "invalid_quiz"
    assert {"question": 1, "code": code} in [
        {"question": e["question"], "code": e["code"]} for e in problem["errors"]
    ]
    assert (await client.get("/api/v1/quizzes", headers=teacher.headers)).json() == []


async def test_quiz_level_problems_and_wrong_types(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    body = {"title": "", "scoring": "fastest", "questions": [], "answerResult": "never"}
    refused = await client.post("/api/v1/quizzes", json=body, headers=teacher.headers)
    assert refused.status_code == 422
    codes = {e["code"] for e in refused.json()["errors"]}
    assert codes == {
        "invalid_title",
        "invalid_scoring",
        "invalid_question_count",
        "invalid_answer_result",
    }
    typed = await client.post(
        "/api/v1/quizzes", json={**quiz_body(SINGLE), "autoStart": "yes"}, headers=teacher.headers
    )
    assert (typed.status_code, typed.json()["code"]) == (422, "validation_failed")


async def test_bank_questions_become_live_questions(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    bank = (await client.post("/api/v1/banks", json={"name": "B"}, headers=teacher.headers)).json()
    gift = "::Q1:: Which planet is red? {=Mars ~Venus}\n\n::Q2:: Explain. {}\n"
    await client.post(
        f"/api/v1/banks/{bank['id']}/import?format=gift",
        content=gift.encode(),
        headers={**teacher.headers, "content-type": "text/plain"},
    )
    questions = (
        await client.get(f"/api/v1/banks/{bank['id']}/questions", headers=teacher.headers)
    ).json()
    by_title = {q["title"]: q["id"] for q in questions}
    body = quiz_body({"questionId": by_title["Q1"], "timeLimitSeconds": 15, "points": "double"})
    created = await client.post("/api/v1/quizzes", json=body, headers=teacher.headers)
    assert created.status_code == 201, created.text
    quiz = (
        await client.get(f"/api/v1/quizzes/{created.json()['id']}", headers=teacher.headers)
    ).json()
    question = quiz["questions"][0]
    assert (question["type"], question["correctOptions"], question["points"]) == (
        "single",
        [0],
        "double",
    )
    essay = await client.post(
        "/api/v1/quizzes", json=quiz_body({"questionId": by_title["Q2"]}), headers=teacher.headers
    )
    assert essay.json()["errors"][0]["code"] == "unsupported_bank_question"
    colleague = await make_person(platform, Role.TEACHER)
    foreign = await client.post(
        "/api/v1/quizzes", json=quiz_body({"questionId": by_title["Q1"]}), headers=colleague.headers
    )
    assert foreign.json()["errors"][0]["code"] == "unknown_bank_question"


def _question(**fields: Any) -> LiveQuestion:
    return LiveQuestion(id="q", text="t", **fields)


def test_answers_are_checked_in_their_canonical_shape() -> None:
    single = _question(type="single", options=["a", "b"], correct_options=[1])
    assert is_correct(single, parse_response(single, "1")) is True
    multiple = _question(type="multiple", options=["a", "b", "c"], correct_options=[2, 0])
    assert is_correct(multiple, parse_response(multiple, [0, 2])) is True
    assert is_correct(multiple, parse_response(multiple, [0])) is False
    truefalse = _question(type="truefalse", options=["True", "False"], correct_options=[1])
    assert is_correct(truefalse, parse_response(truefalse, False)) is True
    text = _question(type="text", accepted_answers=["Pacific Ocean"])
    assert is_correct(text, parse_response(text, "  pacific   OCEAN ")) is True
    numeric = _question(type="numeric", correct_value=0.3, tolerance=0.0)
    assert is_correct(numeric, parse_response(numeric, 0.1 + 0.2)) is True
    assert is_correct(numeric, parse_response(numeric, "0.31")) is False
    ordering = _question(type="ordering", options=["a", "b", "c"], correct_options=[2, 0, 1])
    assert is_correct(ordering, parse_response(ordering, [2, 0, 1])) is True
    poll = _question(type="poll", options=["a", "b"], points="none")
    assert is_correct(poll, parse_response(poll, 0)) is None


@pytest.mark.parametrize(
    ("fields", "raw"),
    [
        ({"type": "single", "options": ["a", "b"]}, 2),
        ({"type": "single", "options": ["a", "b"]}, True),
        ({"type": "multiple", "options": ["a", "b"]}, [0, 0]),
        ({"type": "ordering", "options": ["a", "b"]}, [0]),
        ({"type": "numeric", "correct_value": 1.0}, "many"),
        ({"type": "numeric", "correct_value": 1.0}, float("nan")),
        ({"type": "text", "accepted_answers": ["a"]}, ""),
        ({"type": "text", "accepted_answers": ["a"]}, 5),
    ],
)
def test_an_answer_of_the_wrong_shape_is_refused(fields: dict[str, Any], raw: Any) -> None:
    from studyhall.live.questions import InvalidAnswer

    with pytest.raises(InvalidAnswer):
        parse_response(_question(**fields), raw)
