"""Question banks over the API, on both deployments: import, browse, share, edit, export."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from studyhall.platform.auth import Role
from studyhall.platform.runtime import Platform
from studyhall.questions import service
from tests.helpers import Person, make_person
from tests.questions.api import create_bank as _bank
from tests.questions.api import import_file as _import
from tests.questions.api import shown_images

FIXTURES = Path(__file__).parent / "fixtures"
EVERY_KIND = (FIXTURES / "every_kind.gift").read_text()
WITH_IMAGE = (FIXTURES / "with_image.xml").read_text()
# Words that would give an answer away in a student-facing payload.
ANSWER_KEY_FIELDS = {
    "fraction",
    "correct",
    "feedback",
    "tolerance",
    "shortAnswers",
    "short_answers",
    "numericAnswers",
    "numeric_answers",
    "pairs",
    "feedbackTrue",
    "feedback_true",
    "feedbackFalse",
    "feedback_false",
    "generalFeedback",
    "general_feedback",
    "min",
    "max",
}


async def test_gift_import_reports_counts_kinds_categories_and_broken_lines(
    client: httpx.AsyncClient, teacher: Person
) -> None:
    bank = await _bank(client, teacher)
    report = await _import(client, teacher, bank, EVERY_KIND)
    assert report.status_code == 200
    body = report.json()
    assert body["imported"] == 8
    assert [error["line"] for error in body["errors"]] == [26]
    questions = (
        await client.get(f"/api/v1/banks/{bank}/questions", headers=teacher.headers)
    ).json()
    assert [q["kind"] for q in questions] == [
        "single",
        "multiple",
        "truefalse",
        "numerical",
        "shortanswer",
        "matching",
        "essay",
        "description",
    ]
    assert questions[0]["category"] == "Geography/Capitals"
    assert questions[3]["category"] == "Maths"
    assert all(q["version"] == 1 for q in questions)
    detail = (await client.get(f"/api/v1/banks/{bank}", headers=teacher.headers)).json()
    paths = {c["path"]: c for c in detail["categories"]}
    assert set(paths) == {"Geography", "Geography/Capitals", "Maths"}
    assert paths["Geography/Capitals"]["parentId"] == paths["Geography"]["id"]
    geography = await client.get(
        f"/api/v1/banks/{bank}/questions?category=Geography", headers=teacher.headers
    )
    assert len(geography.json()) == 3, "a category includes its subcategories"
    banks = (await client.get("/api/v1/banks", headers=teacher.headers)).json()
    assert [(b["name"], b["questionCount"]) for b in banks] == [("Bank", 8)]


async def test_aiken_import(client: httpx.AsyncClient, teacher: Person) -> None:
    bank = await _bank(client, teacher)
    aiken = "What is 2+2?\nA. 3\nB. 4\nANSWER: B\n\nBad question\nA. x\nANSWER: C\n"
    body = (await _import(client, teacher, bank, aiken, "aiken")).json()
    assert body["imported"] == 1
    assert body["errors"][0]["line"] >= 5


async def test_students_and_strangers_never_reach_a_bank(
    client: httpx.AsyncClient, teacher: Person, platform: Platform
) -> None:
    bank = await _bank(client, teacher)
    await _import(client, teacher, bank, EVERY_KIND)
    student = await make_person(platform, Role.STUDENT)
    stranger = await make_person(platform, Role.TEACHER)
    for person in (student, stranger):
        for path in ("", "/questions", "/export"):
            response = await client.get(f"/api/v1/banks/{bank}{path}", headers=person.headers)
            assert response.status_code == 404, path
        denied = await _import(client, person, bank, EVERY_KIND)
        assert denied.status_code == 404
    assert (await client.get("/api/v1/banks", headers=student.headers)).status_code == 403

    shared = await client.post(
        f"/api/v1/banks/{bank}/shares", json={"userId": str(stranger.id)}, headers=teacher.headers
    )
    assert shared.status_code == 204
    colleague_view = await client.get(f"/api/v1/banks/{bank}/questions", headers=stranger.headers)
    assert len(colleague_view.json()) == 8
    to_student = await client.post(
        f"/api/v1/banks/{bank}/shares", json={"userId": str(student.id)}, headers=teacher.headers
    )
    assert to_student.status_code == 422
    assert to_student.json()["code"] == "not_a_teacher"
    # A colleague may use the bank but not share it further.
    reshare = await client.post(
        f"/api/v1/banks/{bank}/shares", json={"userId": str(teacher.id)}, headers=stranger.headers
    )
    assert reshare.status_code == 404


@pytest.mark.parametrize("fmt", ["gift", "moodlexml"])
async def test_export_then_import_gives_the_same_questions(
    client: httpx.AsyncClient, teacher: Person, fmt: str
) -> None:
    """Moodle XML carries the images too, byte for byte; GIFT cannot, and says so."""
    source = await _bank(client, teacher, "Source")
    await _import(client, teacher, source, EVERY_KIND)
    assert (await _import(client, teacher, source, WITH_IMAGE, "moodlexml")).json()["imported"]
    exported = await client.get(
        f"/api/v1/banks/{source}/export?format={fmt}", headers=teacher.headers
    )
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    copy = await _bank(client, teacher, "Copy")
    report = (await _import(client, teacher, copy, exported.text, fmt)).json()
    assert report == {"imported": 9, "errors": []}

    def comparable(bank: str) -> Any:
        return [
            (q["kind"], q["title"], q["category"], q["content"]) for q in questions_by_bank[bank]
        ]

    questions_by_bank = {
        bank: (await client.get(f"/api/v1/banks/{bank}/questions", headers=teacher.headers)).json()
        for bank in (source, copy)
    }
    assert comparable(source) == comparable(copy)
    original, copied = (questions_by_bank[bank][-1]["id"] for bank in (source, copy))
    _, original_images = await shown_images(client, teacher, original)
    sources, copied_images = await shown_images(client, teacher, copied)
    assert len(original_images) == 2
    if fmt == "moodlexml":
        assert copied_images == original_images
    else:
        assert exported.text.startswith(
            "// files not exported (GIFT cannot carry files): "
            "Read the diagram: diagram one.png, shapes/square.gif\n"
        )
        assert copied_images == []
        assert sources[0] == "@@PLUGINFILE@@/diagram%20one.png", "left as it was"


def _single(text: str = "Pick one") -> dict[str, Any]:
    return {
        "kind": "single",
        "text": text,
        "choices": [
            {"text": "right", "fraction": 1.0, "feedback": "yes"},
            {"text": "wrong", "fraction": 0.0},
        ],
    }


async def test_editing_a_seen_question_makes_a_new_version(
    client: httpx.AsyncClient, teacher: Person, platform: Platform
) -> None:
    bank = await _bank(client, teacher)
    created = await client.post(
        f"/api/v1/banks/{bank}/questions",
        json={
            "content": _single(),
            "tags": ["easy", "easy", "logic"],
            "difficulty": "easy",
            "category": "Logic/Basics",
            "points": 2,
        },
        headers=teacher.headers,
    )
    assert created.status_code == 201, created.text
    question = created.json()
    assert question["tags"] == ["easy", "logic"]
    assert question["category"] == "Logic/Basics"
    edit = {"content": _single("Pick one, again"), "points": 2}
    unseen = await client.put(
        f"/api/v1/questions/{question['id']}", json=edit, headers=teacher.headers
    )
    assert unseen.json()["version"] == 1, "nobody saw it: edited in place"

    async with platform.sessions() as session, session.begin():
        found = await service.repository.question_with_version(session, uuid.UUID(question["id"]))
        assert found is not None
        await service.mark_seen(session, [found[1].id])
    edit["content"] = _single("Pick one, third time")
    seen = await client.put(
        f"/api/v1/questions/{question['id']}", json=edit, headers=teacher.headers
    )
    assert seen.json()["version"] == 2
    assert seen.json()["content"]["text"] == "Pick one, third time"
    async with platform.sessions() as session:
        versions = await session.execute(
            service.QuestionVersion.__table__.select().where(
                service.QuestionVersion.question_id == uuid.UUID(question["id"])
            )
        )
        texts = {row.version: row.content["text"] for row in versions}
    assert texts == {1: "Pick one, again", 2: "Pick one, third time"}


async def test_incomplete_questions_are_refused(client: httpx.AsyncClient, teacher: Person) -> None:
    bank = await _bank(client, teacher)
    no_right_answer = _single()
    no_right_answer["choices"][0]["fraction"] = 0.5
    for content in (
        no_right_answer,
        {"kind": "truefalse", "text": "Is it?"},
        {"kind": "ordering", "text": "Sort", "items": ["a", "a"]},
        {"kind": "single", "text": "   ", "choices": []},
    ):
        refused = await client.post(
            f"/api/v1/banks/{bank}/questions", json={"content": content}, headers=teacher.headers
        )
        assert refused.status_code == 422, content
        assert refused.json()["code"] == "invalid_question"


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | set().union(*(_keys(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(item) for item in value)) if value else set()
    return set()


async def test_preview_shows_what_a_student_sees_and_no_answer_key(
    client: httpx.AsyncClient, teacher: Person
) -> None:
    bank = await _bank(client, teacher)
    await _import(client, teacher, bank, EVERY_KIND)
    questions = (
        await client.get(f"/api/v1/banks/{bank}/questions", headers=teacher.headers)
    ).json()
    for question in questions:
        preview = await client.get(
            f"/api/v1/questions/{question['id']}/preview", headers=teacher.headers
        )
        assert preview.status_code == 200
        payload = preview.json()
        leaked = _keys(payload) & ANSWER_KEY_FIELDS
        assert not leaked, f"{question['kind']} preview leaks {leaked}"
        assert "Ottawa" not in json.dumps(payload) or question["kind"] == "matching"
    matching = next(q for q in questions if q["kind"] == "matching")
    shown = (
        await client.get(f"/api/v1/questions/{matching['id']}/preview", headers=teacher.headers)
    ).json()
    assert [option["html"] for option in shown["answers"]] == ["Ottawa", "Rome", "Tokyo"]
    assert len(shown["prompts"]) == 3


async def test_stems_are_sanitised(client: httpx.AsyncClient, teacher: Person) -> None:
    bank = await _bank(client, teacher)
    await _import(client, teacher, bank, "[html]<b>Bold</b><script>alert(1)</script> ok? {T}")
    question = (
        await client.get(f"/api/v1/banks/{bank}/questions", headers=teacher.headers)
    ).json()[0]
    shown = (
        await client.get(f"/api/v1/questions/{question['id']}/preview", headers=teacher.headers)
    ).json()
    assert "<b>Bold</b>" in shown["html"]
    assert "<script" not in shown["html"]


async def test_bad_import_requests(client: httpx.AsyncClient, teacher: Person) -> None:
    bank = await _bank(client, teacher)
    not_utf8 = await client.post(
        f"/api/v1/banks/{bank}/import", content=b"\xff\xfe\x00bad", headers=teacher.headers
    )
    assert not_utf8.status_code == 400
    assert not_utf8.json()["code"] == "malformed_body"
    unknown = await _import(client, teacher, bank, EVERY_KIND, "csv")
    assert unknown.status_code == 422
    missing = await _import(client, teacher, str(uuid.uuid4()), EVERY_KIND)
    assert missing.status_code == 404


async def test_text_moodle_xml_cannot_hold_is_a_409_not_a_500(
    client: httpx.AsyncClient, teacher: Person
) -> None:
    """Found by tests/test_fuzz.py: a form feed in a question made the XML export a 500."""
    bank = await _bank(client, teacher)
    created = await client.post(
        f"/api/v1/banks/{bank}/questions",
        json={"content": _single("Pick\x0cone")},
        headers=teacher.headers,
    )
    assert created.status_code == 201, created.text
    xml = await client.get(f"/api/v1/banks/{bank}/export?format=moodlexml", headers=teacher.headers)
    assert xml.status_code == 409, xml.text
    assert xml.json()["code"] == "not_exportable"
    assert "U+000C" in xml.json()["detail"]
    gift = await client.get(f"/api/v1/banks/{bank}/export?format=gift", headers=teacher.headers)
    assert gift.status_code == 200, gift.text
