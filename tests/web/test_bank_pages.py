"""Question-bank pages in a real Chromium: banks, GIFT import, student preview, editor."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect

from tests.web.conftest import Account, scroll_width, sign_in, unlabelled_inputs

pytestmark = pytest.mark.browser

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
GIFT = """\
// A small bank for the browser test
$CATEGORY: $course$/top/Geography

::Capital:: What is the capital of France? {=Paris ~London ~Berlin}

::Rivers:: Which of these are rivers? {~%50%Nile ~%50%Danube ~%-100%Sahara}

::Broken:: This question never closes its answers {=yes ~no

::Tomb:: Grant is buried in Grant's tomb. {T}
"""
BROKEN_LINE = 8


@pytest.fixture
def teacher_page(page: Page, server: str, teacher: Account) -> Page:
    """A page signed in as the teacher made with the CLI."""
    sign_in(page, server, teacher)
    return page


def _create_bank(page: Page, server: str, name: str | None = None) -> str:
    """Create a bank through the list page; return its page's path."""
    name = name or f"Bank {uuid.uuid4().hex[:8]}"
    page.goto("/banks")
    page.get_by_label("Bank name", exact=True).fill(name)
    page.get_by_role("button", name="Create bank").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(server)}/banks/{UUID}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    return page.url.removeprefix(server)


def _import(page: Page, server: str, file: Path, fmt: str = "GIFT") -> Response:
    page.get_by_label("File", exact=True).set_input_files(str(file))
    page.get_by_label("Format", exact=True).select_option(label=fmt)
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/import")
    ) as posted:
        page.get_by_role("button", name="Import", exact=True).click()
    return posted.value


def _new_question(page: Page, bank_path: str, kind_label: str) -> None:
    page.goto(bank_path)
    page.get_by_label("Question type", exact=True).select_option(label=kind_label)
    page.get_by_role("button", name="New question").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(kind_label.lower())


def _save(page: Page) -> Response:
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Save question").click()
    return posted.value


def test_teacher_creates_a_bank_imports_gift_and_previews_as_a_student(
    teacher_page: Page, server: str, tmp_path: Path
) -> None:
    page = teacher_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Question banks").click()
    expect(page).to_have_url(f"{server}/banks")
    expect(page.get_by_role("heading", level=1)).to_have_text("Question banks")
    bank_path = _create_bank(page, server)
    expect(page.get_by_text("This bank has no questions yet")).to_be_visible()

    gift = tmp_path / "geography.gift"
    gift.write_text(GIFT, encoding="utf-8")
    response = _import(page, server, gift)
    assert response.status == 200
    expect(page.get_by_role("status")).to_contain_text("Imported 3 questions from geography.gift")
    problems = page.get_by_role("alert")
    expect(problems).to_contain_text(f"Line {BROKEN_LINE}:")
    expect(problems.get_by_role("listitem")).to_have_count(1)
    expect(problems).to_contain_text("never closed")

    questions = page.locator(".question-list > li")
    expect(questions).to_have_count(3)
    expect(page.get_by_role("link", name="Capital", exact=True)).to_be_visible()
    expect(questions.filter(has_text="Rivers")).to_contain_text("Multiple response")
    expect(questions.filter(has_text="Rivers")).to_contain_text("Category: Geography")
    tree = page.get_by_role("navigation", name="Categories")
    expect(tree.get_by_role("link", name="Geography")).to_be_visible()
    export = page.get_by_role("link", name="GIFT", exact=True)
    expect(export).to_have_attribute("href", re.compile(r"/api/v1/banks/.+/export\?format=gift"))
    exported = page.request.get(str(export.get_attribute("href")))
    assert exported.status == 200
    assert "::Capital::" in exported.text()

    # Filters are a GET form: only true/false questions.
    page.get_by_label("Type", exact=True).select_option(label="True/false")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"kind=truefalse"))
    expect(questions).to_have_count(1)
    expect(questions).to_contain_text("Tomb")

    page.goto(bank_path)
    page.get_by_role("link", name="Capital", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/questions/{UUID}/preview$"))
    expect(page.get_by_text("This is a preview.")).to_be_visible()
    question = page.locator(".student-question")
    expect(question).to_contain_text("What is the capital of France?")
    for option in ("Paris", "London", "Berlin"):
        expect(page.get_by_role("radio", name=option)).to_be_visible()
    main = page.locator("main").inner_text()
    assert "=" not in main
    assert "%" not in main
    assert "~" not in main

    page.go_back()
    page.get_by_role("link", name="Rivers", exact=True).click()
    expect(page.get_by_role("checkbox")).to_have_count(3)
    main = page.locator("main").inner_text()
    assert "%" not in main
    assert "50" not in main
    assert "-100" not in main


def test_an_upload_that_is_not_utf8_is_reported(
    teacher_page: Page, server: str, tmp_path: Path
) -> None:
    page = teacher_page
    _create_bank(page, server)
    latin1 = tmp_path / "latin1.gift"
    latin1.write_bytes(
        "Quelle est la capitale de la Fran\xe7e ? {=Paris ~Lyon}\n".encode("latin-1")
    )
    response = _import(page, server, latin1)
    assert response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("is not UTF-8")
    expect(page.get_by_label("File", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".question-list > li")).to_have_count(0)


def test_teacher_writes_a_multiple_response_question_in_the_editor(
    teacher_page: Page, server: str
) -> None:
    page = teacher_page
    bank_path = _create_bank(page, server)
    _new_question(page, bank_path, "Multiple response")
    expect(page.locator("#version-note")).to_contain_text("version 1")

    page.get_by_label("Question text", exact=True).fill("Which of these are prime numbers?")
    choices = [("2", "50"), ("3", "50"), ("4", "-50"), ("9", "")]
    expect(page.locator("[data-rows=choice] > [data-row]")).to_have_count(4)
    for n, (text, grade) in enumerate(choices, start=1):
        page.get_by_label(f"Choice {n} Text", exact=True).fill(text)
        page.get_by_label(f"Choice {n} Grade (%)", exact=True).fill(grade)
    page.get_by_role("button", name="Add a choice").click()
    fifth = page.get_by_label("Choice 5 Text", exact=True)
    expect(fifth).to_be_focused()
    fifth.fill("15")
    page.get_by_label("Choice 5 Grade (%)", exact=True).fill("-50")
    page.get_by_label("Choice 5 Feedback", exact=True).fill("15 is 3 times 5.")
    page.get_by_label("Title", exact=True).fill("Primes")
    page.get_by_label("Category", exact=True).fill("Maths/Numbers")
    page.get_by_label("Tags", exact=True).fill("primes, warm-up")
    page.get_by_label("Difficulty", exact=True).select_option(label="Easy")

    response = _save(page)
    assert response.status == 303
    expect(page).to_have_url(re.compile(rf"/questions/{UUID}/preview$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview: Primes")
    expect(page.locator(".student-question")).to_contain_text("Which of these are prime numbers?")
    expect(page.get_by_role("checkbox")).to_have_count(5)
    for text in ("2", "3", "4", "9", "15"):
        expect(page.get_by_role("checkbox", name=text, exact=True)).to_be_visible()
    main = page.locator("main").inner_text()
    assert "%" not in main
    assert "3 times 5" not in main  # feedback is for after answering

    page.get_by_role("link", name="Edit question").click()
    expect(page.locator("#version-note")).to_contain_text("Version 1")
    expect(page.locator("#version-note")).to_contain_text("new version")
    expect(page.get_by_label("Choice 5 Text", exact=True)).to_have_value("15")
    expect(page.get_by_label("Choice 5 Grade (%)", exact=True)).to_have_value("-50")
    expect(page.get_by_label("Tags", exact=True)).to_have_value("primes, warm-up")
    expect(page.get_by_label("Category", exact=True)).to_have_value("Maths/Numbers")

    # Remove the fourth choice with the keyboard; the rows renumber.
    page.get_by_role("button", name="Remove choice 4").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Choice 4 Text", exact=True)).to_have_value("15")
    expect(page.get_by_label("Choice 4 Text", exact=True)).to_be_focused()
    _save(page)
    expect(page.get_by_role("checkbox")).to_have_count(4)
    expect(page.get_by_role("checkbox", name="9", exact=True)).to_have_count(0)

    page.goto(bank_path)
    item = page.locator(".question-list > li").filter(has_text="Primes")
    expect(item).to_contain_text("Multiple response")
    expect(item).to_contain_text("Maths/Numbers")
    expect(item).to_contain_text("primes, warm-up")


def test_an_invalid_question_shows_the_error_and_keeps_the_input(
    teacher_page: Page, server: str
) -> None:
    page = teacher_page
    bank_path = _create_bank(page, server)
    _new_question(page, bank_path, "Single choice")
    stem = "Which planet is the largest?"
    page.get_by_label("Question text", exact=True).fill(stem)
    page.get_by_label("Choice 1 Text", exact=True).fill("Jupiter")
    page.get_by_label("Choice 2 Text", exact=True).fill("Mars")
    page.get_by_label("Title", exact=True).fill("Planets")

    response = _save(page)
    assert response.status == 422
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("needs a choice worth 100%")
    expect(page.get_by_label("Question text", exact=True)).to_have_value(stem)
    expect(page.get_by_label("Choice 1 Text", exact=True)).to_have_value("Jupiter")
    expect(page.get_by_label("Choice 2 Text", exact=True)).to_have_value("Mars")
    expect(page.get_by_label("Title", exact=True)).to_have_value("Planets")
    answers = page.get_by_role("group", name="Choices")
    expect(answers).to_have_attribute("aria-describedby", re.compile(r"\bform-error\b"))

    # A grade that is not a number points at the same group; still nothing saved.
    page.get_by_label("Choice 1 Grade (%)", exact=True).fill("lots")
    response = _save(page)
    assert response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("must be a number")

    page.get_by_label("Choice 1 Grade (%)", exact=True).fill("100")
    page.get_by_label("Question text", exact=True).fill("")
    response = _save(page)
    assert response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("text must not be empty")
    expect(page.get_by_label("Question text", exact=True)).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Question text", exact=True).fill(stem)
    _save(page)
    expect(page).to_have_url(re.compile(r"/preview$"))
    page.goto(bank_path)
    expect(page.locator(".question-list > li")).to_have_count(1)


def test_the_editor_works_without_javascript(
    browser: Browser, server: str, teacher: Account
) -> None:
    context = browser.new_context(base_url=server, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, server, teacher)
        bank_path = _create_bank(page, server)
        _new_question(page, bank_path, "Matching")
        expect(page.get_by_role("button", name="Add a pair")).to_be_hidden()
        page.get_by_label("Question text", exact=True).fill("Match the countries and capitals.")
        pairs = [("Canada", "Ottawa"), ("Italy", "Rome"), ("", "Madrid")]
        for n, (prompt, answer) in enumerate(pairs, start=1):
            page.get_by_label(f"Pair {n} Prompt", exact=True).fill(prompt)
            page.get_by_label(f"Pair {n} Matching answer", exact=True).fill(answer)
        _save(page)
        expect(page).to_have_url(re.compile(r"/preview$"))
        expect(page.get_by_role("combobox")).to_have_count(2)
        canada = page.get_by_label("Canada", exact=True)
        expect(canada.locator("option")).to_have_count(4)  # "Choose…" and three answers
    finally:
        context.close()


def test_ordering_preview_moves_items_with_the_keyboard(teacher_page: Page, server: str) -> None:
    page = teacher_page
    bank_path = _create_bank(page, server)
    _new_question(page, bank_path, "Ordering")
    page.get_by_label("Question text", exact=True).fill("Put the planets in order from the Sun.")
    for n, planet in enumerate(["Mercury", "Venus", "Earth"], start=1):
        page.get_by_label(f"Item {n} Text", exact=True).fill(planet)
    page.get_by_role("button", name="Move item 3 up").click()  # the editor's rows move too
    expect(page.get_by_label("Item 2 Text", exact=True)).to_have_value("Earth")
    page.get_by_role("button", name="Move item 2 down").click()
    expect(page.get_by_label("Item 3 Text", exact=True)).to_have_value("Earth")
    _save(page)
    expect(page).to_have_url(re.compile(r"/preview$"))

    items = page.locator("ol.ordering > li .item-text")
    shown = items.all_inner_texts()
    assert sorted(shown) == ["Earth", "Mercury", "Venus"]
    first = shown[0]
    down = page.get_by_role("button", name=f"Move {first} down")
    down.focus()
    page.keyboard.press("Enter")
    expect(items.nth(1)).to_have_text(first)
    expect(down).to_be_focused()
    page.keyboard.press("Enter")
    expect(items.nth(2)).to_have_text(first)
    page.get_by_role("button", name=f"Move {first} up").press("Enter")
    expect(items.nth(1)).to_have_text(first)


@pytest.mark.parametrize(
    "kind",
    [
        "Single choice",
        "Multiple response",
        "True/false",
        "Numerical",
        "Short answer",
        "Matching",
        "Ordering",
        "Essay",
        "Description",
    ],
)
def test_every_editor_input_is_labelled(teacher_page: Page, server: str, kind: str) -> None:
    page = teacher_page
    bank_path = _create_bank(page, server)
    _new_question(page, bank_path, kind)
    assert unlabelled_inputs(page) == []
    expect(page.get_by_label("Question text", exact=True)).to_be_editable()
    ids = page.evaluate("[...document.querySelectorAll('[id]')].map((el) => el.id)")
    assert len(ids) == len(set(ids)), "duplicate ids"


def test_numerical_and_short_answer_questions_round_trip(teacher_page: Page, server: str) -> None:
    page = teacher_page
    bank_path = _create_bank(page, server)
    _new_question(page, bank_path, "Numerical")
    page.get_by_label("Question text", exact=True).fill("What is pi to two decimals?")
    page.get_by_label("Answer 1 Value", exact=True).fill("3.14")
    page.get_by_label("Answer 1 Tolerance (±)", exact=True).fill("0.005")
    page.get_by_label("Answer 2 or minimum", exact=True).fill("3")
    page.get_by_label("Answer 2 and maximum", exact=True).fill("3.2")
    page.get_by_label("Answer 2 Grade (%)", exact=True).fill("50")
    _save(page)
    expect(page).to_have_url(re.compile(r"/preview$"))
    expect(page.get_by_label("Your answer (a number)")).to_be_editable()
    main = page.locator("main").inner_text()
    assert "3.14" not in main
    assert "0.005" not in main
    page.get_by_role("link", name="Edit question").click()
    expect(page.get_by_label("Answer 2 or minimum", exact=True)).to_have_value("3")
    expect(page.get_by_label("Answer 2 Grade (%)", exact=True)).to_have_value("50")

    _new_question(page, bank_path, "Short answer")
    page.get_by_label("Question text", exact=True).fill("Name the largest ocean.")
    page.get_by_label("Answer 1 Accepted answer", exact=True).fill("Pacific")
    page.get_by_label("Case matters (“Paris” does not accept “paris”)").check()
    _save(page)
    expect(page.get_by_label("Your answer", exact=True)).to_be_editable()
    assert "Pacific" not in page.locator("main").inner_text()


@pytest.fixture
def student_context(browser: Browser, server: str) -> Iterator[BrowserContext]:
    """A student's browser, with an account registered through the register page."""
    context = browser.new_context(base_url=server)
    page = context.new_page()
    page.goto("/register")
    page.get_by_label("Name", exact=True).fill("Sam Student")
    page.get_by_label("Email", exact=True).fill(f"sam-{uuid.uuid4().hex[:10]}@example.org")
    page.get_by_label("Password", exact=True).fill("a-long-enough-password")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{server}/account")
    page.close()
    try:
        yield context
    finally:
        context.close()


def test_a_student_gets_no_bank_pages(
    teacher_page: Page, student_context: BrowserContext, server: str, tmp_path: Path
) -> None:
    bank_path = _create_bank(teacher_page, server)
    gift = tmp_path / "one.gift"
    gift.write_text("::One:: One plus one? {=two ~three}\n", encoding="utf-8")
    _import(teacher_page, server, gift)
    teacher_page.get_by_role("link", name="One", exact=True).click()
    preview_path = teacher_page.url.removeprefix(server)
    question_path = preview_path.removesuffix("/preview")

    page = student_context.new_page()
    response = page.goto("/banks")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.get_by_role("link", name="Question banks")).to_have_count(0)
    for path in (
        bank_path,
        preview_path,
        f"{question_path}/edit",
        f"{bank_path}/questions/new?kind=single",
    ):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404, path
        assert "One plus one" not in page.content()
    posted = page.request.post(f"{server}/banks", form={"name": "Mine"}, max_redirects=0)
    assert posted.status == 403  # no CSRF token; with one it would be the 404 page


def test_signed_out_visitors_are_sent_to_sign_in_and_back(
    page: Page, server: str, teacher: Account
) -> None:
    page.goto("/banks")
    expect(page).to_have_url(f"{server}/login?next=/banks")
    page.get_by_label("Email", exact=True).fill(teacher.email)
    page.get_by_label("Password", exact=True).fill(teacher.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{server}/banks")
    expect(page.get_by_role("heading", level=1)).to_have_text("Question banks")


def test_bank_pages_fit_a_phone(phone: Page, server: str, teacher: Account, tmp_path: Path) -> None:
    sign_in(phone, server, teacher)
    bank_path = _create_bank(phone, server, "A bank with a rather long name " + "x" * 60)
    assert scroll_width(phone) <= 375
    gift = tmp_path / "geography.gift"
    gift.write_text(GIFT, encoding="utf-8")
    _import(phone, server, gift)
    expect(phone.get_by_role("status")).to_contain_text("Imported 3")
    assert scroll_width(phone) <= 375
    phone.goto("/banks")
    assert scroll_width(phone) <= 375
    phone.goto(bank_path)
    phone.get_by_role("link", name="Rivers", exact=True).click()
    expect(phone.get_by_role("checkbox")).to_have_count(3)
    assert scroll_width(phone) <= 375
    for kind in ("Multiple response", "Numerical", "Matching", "Ordering"):
        _new_question(phone, bank_path, kind)
        assert scroll_width(phone) <= 375, kind
