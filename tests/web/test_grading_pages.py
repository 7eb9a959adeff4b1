"""Essay grading in a real Chromium: a teacher finds the essay in the queue, adds a rubric,
grades with it (after a score out of range is refused), and the student's result page
then shows the final score and the feedback; a phone fits the grading form, and a
student finds none of these pages.

The exam and the student's attempt come through the API.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import Account, scroll_width, sign_in, unlabelled_inputs
from tests.web.test_integrity_pages import _client, _new_student

pytestmark = pytest.mark.browser

GIFT = """
::Capital:: What is the capital of France? {=Paris ~London ~Berlin}

::Tides:: Explain the tides. {}
"""
ANSWER = "The moon pulls the sea.\n\nTwice a day, the water rises."


@dataclass(frozen=True)
class Submitted:
    exam_id: str
    title: str
    session_id: str
    student: Account


@pytest.fixture
def submitted(server: str, teacher: Account) -> Submitted:
    """A new exam (2 + 10 points) and a new student's attempt, waiting for its essay."""
    title = f"Tides quiz {uuid.uuid4().hex[:6]}"
    with _client(server, teacher) as http:
        bank = http.post("/api/v1/banks", json={"name": "Essays"}).json()
        imported = http.post(
            f"/api/v1/banks/{bank['id']}/import?format=gift",
            content=GIFT.encode(),
            headers={"content-type": "text/plain"},
        )
        assert imported.json()["imported"] == 2, imported.text
        questions = {
            q["title"]: q["id"] for q in http.get(f"/api/v1/banks/{bank['id']}/questions").json()
        }
        exam = http.post(
            "/api/v1/exams",
            json={
                "title": title,
                "durationSeconds": 1800,
                "questions": [
                    {"questionId": questions["Capital"], "points": 2},
                    {"questionId": questions["Tides"], "points": 10},
                ],
                "reviewAfterSubmit": {"score": True, "explanations": True},
            },
        ).json()
    student = _new_student(server, f"Marina {uuid.uuid4().hex[:6]}")
    with _client(server, student) as http:
        session = http.post(f"/api/v1/exams/{exam['id']}/sessions").json()
        sid = session["sessionId"]
        for question in session["questions"]:
            if "capital" in question["html"]:
                paris = next(c["id"] for c in question["choices"] if "Paris" in c["html"])
                choice: object = paris
            else:
                choice = ANSWER
            saved = http.put(
                f"/api/v1/sessions/{sid}/answers",
                json={"questionId": question["id"], "choice": choice},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            assert saved.status_code == 200, saved.text
        done = http.post(f"/api/v1/sessions/{sid}/submit", headers={"Idempotency-Key": "1"})
        assert done.status_code == 202, done.text
    return Submitted(exam["id"], title, sid, student)


def _open_essay(page: Page, server: str, teacher: Account, exam: Submitted) -> None:
    """From the grading overview to the essay's form, the way a teacher clicks there."""
    sign_in(page, server, teacher, then="/grading")
    card = page.locator("li", has=page.get_by_role("link", name=exam.title, exact=True))
    expect(card).to_contain_text("1 essay waiting")
    page.get_by_role("link", name=exam.title, exact=True).click()
    expect(page.get_by_role("heading", name=f"Grading: {exam.title}")).to_be_visible()
    expect(page.get_by_text("1 essay waiting for a grade.")).to_be_visible()
    page.get_by_role("link", name=re.compile(f"{exam.student.name}.*[(]grade this essay")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Grade the essay of {exam.student.name}"
    )


def test_a_teacher_grades_with_a_rubric_and_the_student_sees_the_final_score(
    page: Page, browser: Browser, server: str, teacher: Account, submitted: Submitted
) -> None:
    _open_essay(page, server, teacher, submitted)
    answer = page.locator("[data-answer] p")
    expect(answer).to_have_count(2)
    expect(answer.first).to_have_text("The moon pulls the sea.")
    expect(page.get_by_role("heading", name="Question 10 points")).to_be_visible()
    assert unlabelled_inputs(page) == []

    page.get_by_label("Score").fill("11")
    page.get_by_role("button", name="Save grade").click()
    expect(page.get_by_role("alert")).to_contain_text("between 0 and 10")
    expect(page.get_by_label("Score")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Score")).to_have_value("11")

    page.get_by_role("link", name="Add a rubric").click()
    page.get_by_label("Criteria, one per line").fill(
        "Accuracy: Wrong = 0 | Right = 6\nClarity: Muddled = 1 | Clear = 4"
    )
    page.get_by_role("button", name="Save rubric").click()
    expect(page.get_by_role("status")).to_have_text("Rubric saved.")
    page.get_by_role("link", name="Back to grading").click()

    accuracy = page.get_by_role("group", name="Accuracy")
    accuracy.get_by_label("Right (6 points)").check()
    page.get_by_role("group", name="Clarity").get_by_label("Muddled (1 point)").check()
    page.get_by_label("Score").fill("")
    page.get_by_label("Feedback to the student").fill("Good physics; say why there are two.")
    page.get_by_role("button", name="Save grade").click()
    expect(page).to_have_url(f"{server}/exams/{submitted.exam_id}/grading?saved=true")
    expect(page.get_by_role("status")).to_have_text("Grade saved.")
    expect(page.get_by_text("0 essays waiting for a grade.")).to_be_visible()

    page.get_by_role("link", name="All essays, graded ones too").click()
    expect(page.locator("[data-essay]")).to_contain_text("Graded 7 / 10")

    student_context = browser.new_context(base_url=server)
    try:
        mine = student_context.new_page()
        result_path = f"/sessions/{submitted.session_id}/result"
        sign_in(mine, server, submitted.student, then=result_path)
        expect(mine.locator(".score-line")).to_have_text("9 out of 12 points")
        expect(mine.get_by_text("Good physics; say why there are two.")).to_be_visible()
        for path in (
            "/grading",
            f"/exams/{submitted.exam_id}/grading",
            f"/exams/{submitted.exam_id}/grading/{submitted.session_id}/{uuid.uuid4()}",
        ):
            assert mine.goto(path).status == 404  # type: ignore[union-attr]
    finally:
        student_context.close()
    with _client(server, submitted.student) as http:
        result = http.get(f"/api/v1/sessions/{submitted.session_id}/result").json()
    assert (result["status"], result["score"], result["rank"]) == ("SCORED", 9, 1)


def test_the_grading_form_fits_a_phone_and_works_from_the_keyboard(
    phone: Page, server: str, teacher: Account, submitted: Submitted
) -> None:
    _open_essay(phone, server, teacher, submitted)
    assert scroll_width(phone) <= 375
    phone.get_by_label("Score").focus()
    phone.keyboard.type("6.5")
    phone.keyboard.press("Tab")
    phone.keyboard.type("Clear, but short.")
    phone.keyboard.press("Tab")
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("status")).to_have_text("Grade saved.")

    phone.get_by_role("link", name="All essays, graded ones too").click()
    phone.get_by_role("link", name=re.compile("regrade this essay")).click()
    expect(phone.get_by_label("Score")).to_have_value("6.5")
    expect(phone.locator("[data-history] li")).to_contain_text(f"{teacher.name} gave 6.5")
    assert scroll_width(phone) <= 375
