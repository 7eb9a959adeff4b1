"""Practice on a lesson, on both deployments: the bank's questions without their keys, a
check that scores each item type, who may practise, refusals, the rate limit, and the
page that works as a plain form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from studyhall.content.practice import CHECKS_PER_MINUTE
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.content.helpers import add_lesson, create_bank, create_course
from tests.helpers import Person, browser_tab, form_token, make_person, sign_in
from tests.questions.api import import_file
from tests.test_answer_keys import SENTINEL_GIFT, leaks

WITH_IMAGE = (Path(__file__).parents[1] / "questions" / "fixtures" / "with_image.xml").read_text()
ORDERING = {
    "kind": "ordering",
    "text": "Order the planets from the Sun.",
    "items": ["Mercury", "Venus", "Earth"],
}


@dataclass(frozen=True)
class Practice:
    lesson: str
    course: str
    bank: str
    questions: dict[str, dict[str, Any]]  # the student view, by title

    @property
    def path(self) -> str:
        return f"/api/v1/lessons/{self.lesson}/practice"

    def check_path(self, title: str) -> str:
        return f"{self.path}/{self.questions[title]['id']}/check"


async def _practice(
    client: httpx.AsyncClient, teacher: Person, student: Person, *, published: bool = True
) -> Practice:
    """The sentinel bank (every GIFT item type) plus an ordering question, on a lesson."""
    bank = await create_bank(client, teacher, "Practice bank")
    report = await import_file(client, teacher, bank, SENTINEL_GIFT)
    assert report.json()["imported"] == 10, report.text
    ordering = await client.post(
        f"/api/v1/banks/{bank}/questions",
        json={"content": ORDERING, "title": "Planets"},
        headers=teacher.headers,
    )
    assert ordering.status_code == 201, ordering.text
    teachers = await client.get(f"/api/v1/banks/{bank}/questions", headers=teacher.headers)
    titles = {question["id"]: question["title"] for question in teachers.json()}
    course = await create_course(client, teacher, title="Planets", published=published)
    lesson = await add_lesson(client, teacher, course["id"], title="The sky", bankId=bank)
    reader = teacher if not published else student
    shown = await client.get(f"/api/v1/lessons/{lesson['id']}/practice", headers=reader.headers)
    assert shown.status_code == 200, shown.text
    questions = {titles[question["id"]]: question for question in shown.json()["questions"]}
    return Practice(lesson["id"], course["id"], bank, questions)


async def _check(
    client: httpx.AsyncClient, practice: Practice, person: Person, title: str, choice: Any
) -> httpx.Response:
    return await client.post(
        practice.check_path(title), json={"choice": choice}, headers=person.headers
    )


async def test_a_student_sees_the_banks_questions_without_their_keys(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    practice = await _practice(client, teacher, student)
    response = await client.get(practice.path, headers=student.headers)
    assert leaks(response.text, response.headers["content-type"]) == []
    body = response.json()
    assert (body["lessonId"], body["examId"]) == (practice.lesson, None)
    assert list(practice.questions) == [
        "Planet",
        "Metals",
        "Sky",
        "Animal",
        "Constant",
        "Band",
        "Graded",
        "Pairs",
        "Essay",
        "Intro",
        "Planets",
    ], "the bank's own order"
    assert {q["kind"] for q in body["questions"]} == {
        "single",
        "multiple",
        "truefalse",
        "shortanswer",
        "numerical",
        "matching",
        "essay",
        "description",
        "ordering",
    }
    planet = practice.questions["Planet"]
    assert [choice["html"] for choice in planet["choices"]] == ["Mars", "Venus"]
    pairs = practice.questions["Pairs"]
    assert [prompt["html"] for prompt in pairs["prompts"]] == ["Canada", "Italy", "Japan"]
    assert [answer["html"] for answer in pairs["answers"]] == ["Ottawa", "Rome", "Tokyo"]


async def test_the_view_links_the_questions_images_for_the_reader(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    bank = await create_bank(client, teacher)
    assert (await import_file(client, teacher, bank, WITH_IMAGE, "moodlexml")).status_code == 200
    course = await create_course(client, teacher, published=True)
    lesson = await add_lesson(client, teacher, course["id"], bankId=bank)
    shown = await client.get(f"/api/v1/lessons/{lesson['id']}/practice", headers=student.headers)
    stem = shown.json()["questions"][0]["html"]
    assert "@@PLUGINFILE@@" not in stem
    link = re.search(r'src="(/media/question-files/[^"]+)"', stem)
    assert link, stem
    image = await client.get(unescape(link.group(1)))  # the link is the only credential
    assert image.status_code == 200
    assert image.content.startswith(b"\x89PNG")


# (title, choice, fraction, correct, in the feedback)
CASES = [
    ("Planet", 0, 1.0, True, "keyfeedbackone"),
    ("Planet", 1, 0.0, False, "keyfeedbacktwo"),
    ("Metals", [1, 0], 1.0, True, "keyfeedbackthree"),
    ("Metals", [0], 0.5, False, "keyfeedbackthree"),
    ("Metals", [0, 2], 0.0, False, None),
    ("Sky", False, 1.0, True, None),
    ("Sky", True, 0.0, False, None),
    ("Animal", "  KeyAcceptedZebra ", 1.0, True, None),
    ("Animal", "horse", 0.0, False, None),
    ("Constant", "4242.49", 1.0, True, None),
    ("Constant", 4242.5, 0.0, False, None),
    ("Band", 8676, 1.0, True, None),
    ("Graded", "1357.2468", 1.0, True, None),
    ("Graded", 1358, 0.5, False, None),
    ("Pairs", [[0, 0], [1, 1], [2, 2]], 1.0, True, None),
    ("Pairs", [[0, 1], [1, 0], [2, 2]], 1 / 3, False, None),
    ("Planets", [0, 1, 2], 1.0, True, None),
    ("Planets", [1, 0, 2], 1 / 3, False, None),
]


async def test_a_check_scores_each_item_type_and_explains(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    practice = await _practice(client, teacher, student)
    for title, choice, fraction, correct, feedback in CASES:
        response = await _check(client, practice, student, title, choice)
        assert response.status_code == 200, (title, choice, response.text)
        result = response.json()
        assert result["questionId"] == practice.questions[title]["id"]
        assert result["version"] == 1
        assert result["fraction"] == pytest.approx(fraction), (title, choice)
        assert result["correct"] is correct, (title, choice)
        if feedback:
            assert feedback in result["feedbackHtml"], (title, choice)
        assert result["rightAnswerHtml"], title

    planet = (await _check(client, practice, student, "Planet", 1)).json()
    assert planet["rightAnswerHtml"] == "Mars"
    assert "keygeneralone" in planet["explanationHtml"]
    pairs = (await _check(client, practice, student, "Pairs", [])).json()
    assert pairs["rightAnswerHtml"] == "Canada → Ottawa; Italy → Rome; Japan → Tokyo"
    assert "keygeneralthree" in pairs["explanationHtml"]
    planets = (await _check(client, practice, student, "Planets", [2, 1, 0])).json()
    assert planets["rightAnswerHtml"] == "Mercury → Venus → Earth"
    assert planets["explanationHtml"] is None, "a question without one has no explanation"

    essay = await _check(client, practice, student, "Essay", "The Moon pulls the sea.")
    assert essay.status_code == 200
    assert essay.json() == {
        "questionId": practice.questions["Essay"]["id"],
        "version": 1,
        "fraction": None,
        "correct": None,
        "feedbackHtml": None,
        "rightAnswerHtml": None,
        "explanationHtml": "keygeneralfour",
    }, "an essay is not marked, but its explanation is shown"


async def test_a_malformed_answer_is_refused_as_exams_refuse_it(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    practice = await _practice(client, teacher, student)
    for title, choice in (
        ("Planet", "0"),
        ("Planet", 2),
        ("Planet", True),
        ("Metals", [0, 0]),
        ("Sky", "false"),
        ("Constant", "four"),
        ("Pairs", [[0, 9]]),
        ("Planets", [0, 1]),
        ("Intro", "nothing to answer"),
        ("Planet", None),
    ):
        refused = await _check(client, practice, student, title, choice)
        assert refused.status_code == 422, (title, choice, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["code"] == "invalid_answer", (title, choice)
        assert "keyfeedback" not in refused.text
        assert "Mars" not in refused.text
    unanswered = (await _check(client, practice, student, "Planet", None)).json()
    assert unanswered["detail"] == "Answer the question before checking it"

    path = practice.check_path("Planet")
    for body in ({}, {"choice": 0, "extra": 1}):
        wrong_shape = await client.post(path, json=body, headers=student.headers)
        assert wrong_shape.status_code == 422, body
        assert wrong_shape.json()["code"] == "validation_failed"
    broken = await client.post(
        path, content=b"{", headers={**student.headers, "content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "malformed_body"


async def test_only_readers_of_the_lesson_practise(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, student: Person
) -> None:
    practice = await _practice(client, teacher, student, published=False)
    other_teacher = await make_person(platform, Role.TEACHER)
    admin = await make_person(platform, Role.ADMIN)
    for outsider in (student, other_teacher):
        hidden = await client.get(practice.path, headers=outsider.headers)
        assert hidden.status_code == 404
        assert hidden.json()["code"] == "not_found"
        checked = await _check(client, practice, outsider, "Planet", 0)
        assert checked.status_code == 404, "no score, no answer for a lesson one cannot read"
    assert (await client.get(practice.path)).status_code == 401
    for editor in (teacher, admin):
        assert (await client.get(practice.path, headers=editor.headers)).status_code == 200
        assert (await _check(client, practice, editor, "Planet", 0)).status_code == 200

    published = await client.put(
        f"/api/v1/courses/{practice.course}",
        json={"title": "Planets", "published": True},
        headers=teacher.headers,
    )
    assert published.status_code == 200
    assert (await client.get(practice.path, headers=student.headers)).status_code == 200
    assert (await _check(client, practice, student, "Planet", 0)).json()["correct"] is True

    no_bank = await add_lesson(client, teacher, practice.course, title="Reading only")
    for path in (
        f"/api/v1/lessons/{no_bank['id']}/practice",
        f"/api/v1/lessons/{no_bank['id']}/practice/{practice.questions['Planet']['id']}/check",
    ):
        method = "GET" if path.endswith("practice") else "POST"
        missing = await client.request(method, path, json={"choice": 0}, headers=student.headers)
        assert missing.status_code == 404, path


async def test_a_question_of_another_bank_is_not_found(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    practice = await _practice(client, teacher, student)
    other_bank = await create_bank(client, teacher, "Another bank")
    await import_file(client, teacher, other_bank, "::Other:: Pick {=yes ~no}\n")
    listed = await client.get(f"/api/v1/banks/{other_bank}/questions", headers=teacher.headers)
    other_question = listed.json()[0]["id"]
    for question in (other_question, "01890000-0000-7000-8000-000000000000"):
        refused = await client.post(
            f"{practice.path}/{question}/check", json={"choice": 0}, headers=student.headers
        )
        assert refused.status_code == 404, question
        assert refused.json()["code"] == "not_found"
        assert "yes" not in refused.text


async def test_a_check_scores_the_current_version_and_stores_nothing(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    practice = await _practice(client, teacher, student)
    question = practice.questions["Planet"]["id"]
    assert (await _check(client, practice, student, "Planet", 0)).json()["correct"] is True
    edited = await client.put(
        f"/api/v1/questions/{question}",
        json={
            "content": {
                "kind": "single",
                "text": "Which planet is blue?",
                "choices": [
                    {"text": "Mars", "fraction": 0.0},
                    {"text": "Neptune", "fraction": 1.0},
                ],
            }
        },
        headers=teacher.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 1, "practice marks nothing seen: edited in place"
    now = (await _check(client, practice, student, "Planet", 0)).json()
    assert (now["correct"], now["rightAnswerHtml"]) == (False, "Neptune")


async def test_checks_are_rate_limited_per_user(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    teacher: Person,
    student: Person,
) -> None:
    practice = await _practice(client, teacher, student)
    classmate = await make_person(platform, Role.STUDENT)
    clock.advance(60 - clock.timestamp() % 60)  # the start of a window
    for _ in range(CHECKS_PER_MINUTE):
        assert (await _check(client, practice, student, "Sky", False)).status_code == 200
    limited = await _check(client, practice, student, "Sky", False)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) == 60
    assert (await _check(client, practice, classmate, "Sky", False)).status_code == 200
    clock.advance(60)
    assert (await _check(client, practice, student, "Sky", False)).status_code == 200


# --- the page, as a plain form (no script) ----------------------------------------


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, name
    return unescape(found.group(1))


async def test_the_page_checks_a_posted_answer_and_carries_progress(
    client: httpx.AsyncClient, app: ObservedApp, teacher: Person, student: Person
) -> None:
    practice = await _practice(client, teacher, student)
    page_path = f"/lessons/{practice.lesson}/practice"
    async with browser_tab(app) as tab:
        assert (await tab.get(page_path)).headers["location"].startswith("/login?next=")
        await sign_in(tab, student)
        first = await tab.get(page_path)
        assert first.status_code == 200
        assert "Question 1 of 11" in first.text
        assert "0 of 11 answered, 0 right" in first.text
        assert leaks(first.text, first.headers["content-type"]) == []
        token = await form_token(tab, page_path)
        form = {"_csrf_token": token, "question": _field(first.text, "question")}

        empty = await tab.post(page_path, data={**form, "progress": ""})
        assert empty.status_code == 422
        assert "Answer the question before checking it" in empty.text

        right = await tab.post(page_path, data={**form, "progress": "", "choice": "0"})
        assert right.status_code == 200
        assert re.search(r"</span>\s*Right\s*</h2>", right.text)
        assert "keyfeedbackone" in right.text
        assert "keygeneralone" in right.text
        assert "1 of 11 answered, 1 right" in right.text
        assert 'id="choice-0" name="choice" value="0"' in right.text
        assert re.search(r'value="0"[^>]*checked', right.text), "the answer stays chosen"
        progress = _field(right.text, "progress")
        assert progress == "r" + "." * 10
        next_link = re.search(r'href="([^"]+)" rel="next"', right.text)
        assert next_link
        second = await tab.get(unescape(next_link.group(1)))
        assert "Question 2 of 11" in second.text
        assert "1 of 11 answered, 1 right" in second.text

        metals = {"_csrf_token": token, "question": _field(second.text, "question")}
        partly = await tab.post(page_path, data={**metals, "progress": progress, "choice": ["0"]})
        assert re.search(r"</span>\s*Partly right\s*</h2>", partly.text)
        assert "2 of 11 answered, 1 right" in partly.text

        last = await tab.get(f"{page_path}?q=99")
        assert "Question 11 of 11" in last.text, "a position past the end shows the last"
        planets = {"_csrf_token": token, "question": _field(last.text, "question")}
        ids = re.findall(r'name="place-(\d+)"', last.text)
        assert len(ids) == 3
        clash = await tab.post(page_path, data={**planets, **{f"place-{i}": "1" for i in ids}})
        assert clash.status_code == 422
        assert "Give each item its own place, from 1 to 3" in clash.text
        # Items are shown sorted by text: Earth (2), Mercury (0), Venus (1).
        places = {"place-2": "3", "place-0": "1", "place-1": "2"}
        ordered = await tab.post(page_path, data={**planets, **places})
        assert re.search(r"</span>\s*Right\s*</h2>", ordered.text)
        assert "Mercury → Venus → Earth" in ordered.text

        outsider = await tab.post(
            page_path, data={**form, "question": "not-a-question", "choice": "0"}
        )
        assert outsider.status_code == 404


async def test_the_lesson_page_links_to_practice_and_the_exam(
    client: httpx.AsyncClient, app: ObservedApp, teacher: Person, student: Person
) -> None:
    bank = await create_bank(client, teacher)
    course = await create_course(client, teacher, published=True)
    exam_id = "01890000-0000-7000-8000-0000000000aa"
    lesson = await add_lesson(client, teacher, course["id"], bankId=bank, examId=exam_id)
    async with browser_tab(app) as tab:
        await sign_in(tab, student)
        page = await tab.get(f"/lessons/{lesson['id']}")
        assert f'href="/lessons/{lesson["id"]}/practice"' in page.text
        assert f'href="/exams/{exam_id}"' in page.text
        assert "on the way" not in page.text
        assert "/banks/" not in page.text, "the bank itself is for its editors"
        empty = await tab.get(f"/lessons/{lesson['id']}/practice")
        assert empty.status_code == 200
        assert "No questions yet" in empty.text
        assert f'href="/exams/{exam_id}"' in empty.text
    async with browser_tab(app) as tab:
        await sign_in(tab, teacher)
        page = await tab.get(f"/lessons/{lesson['id']}")
        assert f'href="/banks/{bank}"' in page.text
        assert "do not attach a bank you also use in graded exams" in page.text
