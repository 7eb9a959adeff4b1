"""Lesson practice in a real Chromium: a student answers, sees the verdict, the feedback,
the right answer and the explanation, and moves on with the progress kept; by keyboard,
without JavaScript (the form posts), and on a phone.

The bank and the lesson are made through the API as the teacher.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.web.conftest import Account, scroll_width, sign_in, unlabelled_inputs
from tests.web.test_catalog_pages import Api

pytestmark = pytest.mark.browser

GIFT = """
::Capital:: What is the capital of France? {
  =Paris#Yes: Paris it is.
  ~London#London is the capital of England.
  ####Paris has been the capital since the year 987.
}

::Metals:: Which of these are metals? {~%50%Iron ~%50%Nickel ~%-100%Wood}
"""
PLANETS = {
    "kind": "ordering",
    "text": "Order them from the Sun.",
    "items": ["Mercury", "Venus", "Earth"],
}


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str

    @property
    def practice(self) -> str:
        return f"/lessons/{self.id}/practice"


@pytest.fixture(scope="module")
def lesson(server: str, teacher: Account) -> Iterator[Lesson]:
    api = Api(server, teacher)
    try:
        bank = api.post("/api/v1/banks", json={"name": "Practice"})["id"]
        api.post(
            f"/api/v1/banks/{bank}/import?format=gift",
            content=GIFT,
            headers={"Content-Type": "text/plain"},
        )
        api.post(f"/api/v1/banks/{bank}/questions", json={"content": PLANETS, "title": "Planets"})
        course = api.course(f"Geography {uuid.uuid4().hex[:6]}")
        title = "Capitals and planets"
        yield Lesson(api.lesson(course, title, "Read, then practise.", bankId=bank), title)
    finally:
        api.http.close()


def _result(page: Page) -> None:
    """The result came, and the focus moved to it (a screen reader reads it next)."""
    expect(page.locator("#practice-result")).to_be_focused()


def _verdict(result: Locator, verdict: str) -> Locator:
    return result.get_by_role("heading", level=2, name=verdict, exact=True)


def test_a_student_answers_and_sees_feedback_and_the_explanation(
    page: Page, server: str, student: Account, lesson: Lesson
) -> None:
    sign_in(page, server, student, then=f"/lessons/{lesson.id}")
    page.get_by_role("link", name="Practise the questions").click()
    expect(page).to_have_url(f"{server}{lesson.practice}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Practice: {lesson.title}")
    expect(page.get_by_text("Question 1 of 3", exact=True)).to_be_visible()
    expect(page.get_by_text("0 of 3 answered, 0 right")).to_be_visible()

    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("alert")).to_have_text("Answer the question before checking it")

    page.get_by_label("London").check()
    page.get_by_role("button", name="Check").click()
    _result(page)
    result = page.locator("#practice-result")
    expect(_verdict(result, "Not right")).to_be_visible()
    expect(result).to_contain_text("You earned 0 % of the marks")
    expect(result).to_contain_text("London is the capital of England.")
    expect(result.locator(".practice-answer")).to_have_text("Paris")
    expect(result.locator(".practice-explanation")).to_have_text(
        "Paris has been the capital since the year 987."
    )
    expect(page.get_by_text("1 of 3 answered, 0 right")).to_be_visible()
    expect(page).to_have_url(f"{server}{lesson.practice}")  # checked without leaving the page
    expect(page.get_by_label("London")).to_be_checked()

    page.get_by_label("Paris").check()
    page.get_by_role("button", name="Check").click()
    expect(_verdict(result, "Right")).to_be_visible()
    expect(result).to_contain_text("Yes: Paris it is.")
    expect(page.get_by_text("1 of 3 answered, 1 right")).to_be_visible()

    page.get_by_role("link", name="Next question").click()
    expect(page.get_by_text("Question 2 of 3", exact=True)).to_be_visible()
    expect(page.get_by_text("1 of 3 answered, 1 right")).to_be_visible()
    page.get_by_label("Iron").check()
    page.get_by_role("button", name="Check").click()
    expect(_verdict(result, "Partly right")).to_be_visible()
    expect(result).to_contain_text("You earned 50 % of the marks")
    expect(page.get_by_text("2 of 3 answered, 1 right")).to_be_visible()


def test_ordering_by_keyboard_keeps_each_place_once(
    page: Page, server: str, student: Account, lesson: Lesson
) -> None:
    sign_in(page, server, student, then=f"{lesson.practice}?q=3")
    # Shown sorted by text: Earth 1, Mercury 2, Venus 3.
    mercury = page.get_by_label("Place of Mercury")
    mercury.select_option("1")
    expect(page.get_by_label("Place of Earth")).to_have_value("2")  # it gave up place 1
    page.get_by_label("Place of Earth").select_option("3")
    expect(page.get_by_label("Place of Venus")).to_have_value("2")
    page.get_by_label("Place of Venus").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Check")).to_be_focused()
    page.keyboard.press("Enter")
    _result(page)
    expect(_verdict(page.locator("#practice-result"), "Right")).to_be_visible()
    expect(page.get_by_text("This is the last question: 1 of 3 right so far.")).to_be_visible()


def test_without_javascript_the_form_posts_and_comes_back_with_the_result(
    browser: Browser, server: str, student: Account, lesson: Lesson
) -> None:
    context = browser.new_context(base_url=server, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, server, student, then=lesson.practice)
        page.get_by_label("Paris").check()
        page.get_by_role("button", name="Check").click()
        expect(_verdict(page.locator("#practice-result"), "Right")).to_be_visible()
        expect(page.locator(".practice-explanation")).to_contain_text("the year 987")
        expect(page.get_by_text("1 of 3 answered, 1 right")).to_be_visible()
        page.get_by_role("link", name="Next question").click()
        expect(page).to_have_url(re.compile(r"\?q=2&progress=r\.\.$"))
        expect(page.get_by_text("1 of 3 answered, 1 right")).to_be_visible()
    finally:
        context.close()


def test_practice_pages_are_labelled_and_fit_a_phone(
    phone: Page, server: str, student: Account, lesson: Lesson
) -> None:
    sign_in(phone, server, student, then=lesson.practice)
    for position in (1, 2, 3):
        phone.goto(f"{lesson.practice}?q={position}")
        expect(phone.get_by_text(f"Question {position} of 3", exact=True)).to_be_visible()
        assert unlabelled_inputs(phone) == [], position
        assert scroll_width(phone) <= 375, position
    phone.get_by_role("button", name="Check").click()
    _result(phone)
    assert scroll_width(phone) <= 375
