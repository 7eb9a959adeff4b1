"""Exam pages in a real Chromium: take an exam, reload mid-way, run out of time; pause; save
offline; every item type; the teacher's setup form; keyboard, labels and a phone.

The server runs in this process (uvicorn in a thread) with a clock the test moves, and
Playwright moves the browser's clock by the same amount: nothing waits for a timer. The
server's job worker is off, so an exam that ends is submitted by the page's own clock.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from studyhall.app import create_app
from studyhall.config import load_settings
from tests.processes import free_port, studyhall
from tests.web.conftest import SECRET_KEY, Account, scroll_width, sign_in, unlabelled_inputs

pytestmark = pytest.mark.browser

TEACHER = Account("exam-teacher@example.org", "timed-mock-setter-2026", "Tara Teacher", "teacher")
STUDENT = Account("exam-student@example.org", "timed-mock-taker-2026", "Sol Student", "student")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
GIFT = """
::Capital:: What is the capital of France? {=Paris ~London ~Berlin}

::Metals:: Which are metals? {~%50%Iron ~%50%Nickel ~%-100%Wood}

::Sky:: The sky is green. {F}

::Animal:: Name the striped horse. {=zebra}

::Pi:: Pi to two decimals? {#3.14:0.005}

::Pairs:: Match the capitals. {=Canada -> Ottawa =Italy -> Rome =Japan -> Tokyo}

::Essay:: Explain the tides. {}

::Intro:: Read the questions carefully.
"""
ORDERING = {
    "title": "Planets",
    "content": {
        "kind": "ordering",
        "text": "Order by distance from the Sun.",
        "items": ["Mercury", "Venus", "Earth"],
    },
}
CLOCK_AFTER = {  # what the countdown may show a few seconds after the given minute
    10: r"^(10:00|9:[45]\d)$",
    8: r"^(8:00|7:[45]\d)$",
    7: r"^(7:00|6:[45]\d)$",
}


class ShiftedClock:
    """The real clock plus an offset the test moves: the server's time runs on its own,
    and jumps ahead when told."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def timestamp(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass(frozen=True)
class Served:
    url: str
    clock: ShiftedClock


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The embedded deployment on a fresh data directory, served in this process."""
    data_dir = tmp_path_factory.mktemp("exam-pages")
    env = {key: value for key, value in os.environ.items() if not key.startswith("STUDYHALL_")}
    settings_env = {
        "STUDYHALL_DATA_DIR": str(data_dir),
        "STUDYHALL_SECRET_KEY": SECRET_KEY,
        "STUDYHALL_PASSWORD_HASH_PROFILE": "fast",
        "STUDYHALL_ACCESS_LOG": "false",
        "STUDYHALL_RUN_WORKER_IN_APP": "false",
    }
    env |= settings_env
    subprocess.run(studyhall("migrate"), env=env, check=True, capture_output=True)
    for account in (TEACHER, STUDENT):
        subprocess.run(
            studyhall(
                "user",
                "create",
                account.email,
                "--password",
                account.password,
                "--role",
                account.role,
                "--name",
                account.name,
            ),
            env=env,
            check=True,
            capture_output=True,
        )
    clock = ShiftedClock()
    port = free_port()
    app = create_app(load_settings(settings_env), clock=clock)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, loop="asyncio", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", clock)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(autouse=True)
def _back_to_real_time(served: Served) -> Iterator[None]:
    """Each test starts on the real clock. (PyJWT refuses a token issued "in the future"
    by its own clock, so tokens are taken before a test moves the server's time.)"""
    yield
    served.clock.offset = 0.0


class Api:
    """The REST API as one account (a bearer token)."""

    def __init__(self, served: Served, account: Account) -> None:
        self.http = httpx.Client(base_url=served.url, timeout=30)
        token = self.http.post(
            "/api/v1/auth/token", json={"email": account.email, "password": account.password}
        )
        assert token.status_code == 200, token.text
        self.http.headers["Authorization"] = f"Bearer {token.json()['accessToken']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()


@dataclass(frozen=True)
class Exam:
    id: str
    questions: dict[str, str]  # title -> question id


def _exam(served: Served, titles: tuple[str, ...], *, bank: str = "", **rules: Any) -> Exam:
    """A bank with every item type and an exam over the ``titles``, in that order."""
    teacher = Api(served, TEACHER)
    bank_id = teacher.call("POST", "/api/v1/banks", json={"name": bank or "Exam bank"})["id"]
    teacher.call(
        "POST",
        f"/api/v1/banks/{bank_id}/import?format=gift",
        content=GIFT.encode(),
        headers={"content-type": "text/plain"},
    )
    teacher.call("POST", f"/api/v1/banks/{bank_id}/questions", json=ORDERING)
    listed = teacher.call("GET", f"/api/v1/banks/{bank_id}/questions")
    questions = {question["title"]: question["id"] for question in listed}
    body = {
        "title": "Mock exam",
        "durationSeconds": 600,
        "questionIds": [questions[title] for title in titles],
        "shuffleQuestions": False,
        "shuffleOptions": False,
        "reviewAfterSubmit": {
            "score": True,
            "correctness": True,
            "rightAnswers": True,
            "explanations": True,
        },
        **rules,
    }
    exam_id = teacher.call("POST", "/api/v1/exams", json=body)["id"]
    return Exam(exam_id, questions)


@pytest.fixture
def exam_context(browser: Browser, served: Served) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=served.url)
    in_flight: set[Request] = set()
    _IN_FLIGHT[context] = in_flight
    context.on("request", lambda request: in_flight.add(request))
    context.on("requestfinished", lambda request: in_flight.discard(request))
    context.on("requestfailed", lambda request: in_flight.discard(request))
    try:
        yield context
    finally:
        context.close()


_IN_FLIGHT: WeakKeyDictionary[BrowserContext, set[Request]] = WeakKeyDictionary()
"""Each exam context's requests still on their way (see ``_advance``)."""
SETTLE_SECONDS = 10.0  # a safety net against a hung request, never a measure of speed


@pytest.fixture
def student_page(exam_context: BrowserContext, served: Served) -> Page:
    page = exam_context.new_page()
    sign_in(page, served.url, STUDENT)
    return page


def _start(page: Page, served: Served, exam: Exam) -> str:
    """Start the exam from its lobby; returns the session id."""
    page.goto(f"/exams/{exam.id}")
    page.get_by_role("button", name="Start the exam").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(served.url)}/sessions/{UUID}$"))
    expect(page.locator("[data-save-state]")).to_have_text("All answers saved")
    return page.url.rsplit("/", 1)[1]


def _saving(page: Page) -> Any:
    """Wait for one answer save to be acknowledged."""
    return page.expect_response(
        lambda r: r.request.method == "PUT" and r.url.endswith("/answers") and r.status == 200
    )


def _clock(page: Page) -> Any:
    return page.locator("[data-clock]")


def _seconds_shown(page: Page) -> int:
    minutes, seconds = _clock(page).inner_text().split(":")
    return int(minutes) * 60 + int(seconds)


def _advance(page: Page, served: Served, seconds: float) -> None:
    """Time passes for the server and the browser alike, but never during a round trip:
    a clock sync in flight would be answered with the server's new time and anchored at
    the middle of a trip the jump made minutes long (a real clock cannot jump like that)."""
    in_flight = _IN_FLIGHT[page.context]
    gives_up = time.monotonic() + SETTLE_SECONDS
    while in_flight and time.monotonic() < gives_up:
        page.wait_for_timeout(20)  # Playwright's own time, not the page's installed clock
    served.clock.advance(seconds)
    page.clock.fast_forward(int(seconds * 1000))


def _answers(served: Served, session_id: str) -> dict[str, Any]:
    session = Api(served, STUDENT).call("GET", f"/api/v1/sessions/{session_id}")
    return {answer["questionId"]: answer["choice"] for answer in session["answers"]}


def test_a_student_reloads_mid_exam_and_the_clock_runs_out(
    exam_context: BrowserContext, served: Served
) -> None:
    exam = _exam(served, ("Capital", "Metals", "Animal", "Pi"))
    student = Api(served, STUDENT)
    exam_context.clock.install()
    page = exam_context.new_page()
    sign_in(page, served.url, STUDENT, then=f"/exams/{exam.id}")
    expect(page.get_by_text("10 min", exact=True)).to_be_visible()
    session_id = _start(page, served, exam)
    expect(_clock(page)).to_have_text(re.compile(CLOCK_AFTER[10]))

    with _saving(page):
        page.get_by_label("Paris").check()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name=re.compile("^Question 2"))).to_be_focused()
    with _saving(page):
        page.get_by_label("Iron").check()
    with _saving(page):
        page.get_by_label("Nickel").check()
    page.get_by_role("button", name="Next").click()
    with _saving(page):
        page.get_by_role("textbox", name="Your answer", exact=True).fill("zebra")
        page.keyboard.press("Tab")
    expect(page.locator("[data-save-state]")).to_have_text("All answers saved")
    expect(page.locator("[data-progress]")).to_have_text("3 of 4 answered")

    _advance(page, served, 120)
    expect(_clock(page)).to_have_text(re.compile(CLOCK_AFTER[8]))

    page.reload()
    expect(page.get_by_role("textbox", name="Your answer", exact=True)).to_have_value("zebra")
    expect(_clock(page)).to_have_text(re.compile(CLOCK_AFTER[8]))
    expect(page.locator("[data-progress]")).to_have_text("3 of 4 answered")
    page.get_by_role("button", name="Question 1, answered").click()
    expect(page.get_by_label("Paris")).to_be_checked()
    expect(page.get_by_label("London")).not_to_be_checked()
    page.get_by_role("button", name="Question 2, answered").click()
    expect(page.get_by_label("Iron")).to_be_checked()
    expect(page.get_by_label("Nickel")).to_be_checked()

    # The server's clock moved on while this tab was not looking: coming back corrects it.
    served.clock.advance(60)
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(_clock(page)).to_have_text(re.compile(CLOCK_AFTER[7]))

    _advance(page, served, _seconds_shown(page) - 290)
    expect(page.get_by_role("alert")).to_contain_text("5 minutes left.")
    _advance(page, served, _seconds_shown(page) - 50)
    expect(page.get_by_role("alert")).to_contain_text("1 minute left.")

    _advance(page, served, _seconds_shown(page) + 2)
    expect(page).to_have_url(f"{served.url}/sessions/{session_id}/result")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your result")
    expect(page.locator(".score-line")).to_have_text("3 out of 4 points")
    expect(page.locator(".breakdown-item").filter(has_text="Pi to two decimals?")).to_contain_text(
        "Not answered"
    )
    session = student.call("GET", f"/api/v1/sessions/{session_id}")
    assert session["status"] == "SCORED"
    stored = page.evaluate(
        "Object.keys(localStorage).filter((k) => k.startsWith('studyhall:exam:'))"
    )
    assert stored == [], "a finished exam leaves nothing behind on the device"


def test_answers_given_offline_wait_on_the_device_and_are_sent_on_reconnect(
    exam_context: BrowserContext, student_page: Page, served: Served
) -> None:
    exam = _exam(served, ("Capital", "Animal"))
    page = student_page
    session_id = _start(page, served, exam)

    exam_context.set_offline(True)
    page.get_by_label("London").check()
    state = page.locator("[data-save-state]")
    expect(state).to_have_text(
        "Offline: 1 answer kept on this device, sent when you are back online"
    )
    expect(state).to_have_attribute("data-state", "offline")
    queued = page.evaluate(f"JSON.parse(localStorage.getItem('studyhall:exam:{session_id}:queue'))")
    assert [json.loads(entry["body"])["choice"] for entry in queued] == [1]
    page.get_by_label("Paris").check()  # a newer answer to the same question replaces it
    page.get_by_role("button", name="Next").click()
    page.get_by_role("textbox", name="Your answer", exact=True).fill("zebra")
    page.keyboard.press("Tab")
    expect(state).to_contain_text("Offline: 2 answers kept on this device")
    assert _answers(served, session_id) == {}

    with _saving(page):
        exam_context.set_offline(False)
    expect(state).to_have_text("All answers saved")
    assert _answers(served, session_id) == {
        exam.questions["Capital"]: 0,
        exam.questions["Animal"]: "zebra",
    }
    assert page.evaluate(f"localStorage.getItem('studyhall:exam:{session_id}:queue')") is None


def test_every_item_type_takes_its_answer_and_submit_asks_first(
    student_page: Page, served: Served
) -> None:
    titles = ("Intro", "Capital", "Metals", "Sky", "Animal", "Pi", "Pairs", "Planets", "Essay")
    exam = _exam(served, titles)
    page = student_page
    session_id = _start(page, served, exam)
    expect(page.get_by_role("heading", name="Information")).to_be_visible()
    expect(page.get_by_text("Read the questions carefully.")).to_be_visible()
    next_button = page.get_by_role("button", name="Next")

    next_button.click()
    with _saving(page):
        page.get_by_label("Paris").check()
    next_button.click()
    for label in ("Iron", "Nickel"):
        with _saving(page):
            page.get_by_label(label).check()
    next_button.click()
    with _saving(page):
        page.get_by_label("False").check()
    next_button.click()
    with _saving(page):
        page.get_by_role("textbox", name="Your answer", exact=True).fill("zebra")
        page.keyboard.press("Tab")
    next_button.click()
    with _saving(page):
        page.get_by_role("textbox", name="Your answer (a number)").fill("3.14")
        page.keyboard.press("Tab")
    next_button.click()
    for country, city in (("Canada", "Ottawa"), ("Italy", "Rome"), ("Japan", "Tokyo")):
        with _saving(page):
            page.get_by_label(country).select_option(label=city)
    next_button.click()
    # Shown in alphabetical order (Earth, Mercury, Venus); Earth goes last.
    for _ in range(2):
        with _saving(page):
            page.get_by_role("button", name="Move Earth down").click()
    next_button.click()
    with _saving(page):
        page.get_by_role("textbox", name="Your answer", exact=True).fill("The Moon pulls the sea.")
        page.keyboard.press("Tab")

    q = exam.questions
    assert _answers(served, session_id) == {
        q["Capital"]: 0,
        q["Metals"]: [0, 1],
        q["Sky"]: False,
        q["Animal"]: "zebra",
        q["Pi"]: "3.14",
        q["Pairs"]: [[0, 0], [1, 1], [2, 2]],
        q["Planets"]: [0, 1, 2],
        q["Essay"]: "The Moon pulls the sea.",
    }

    page.get_by_role("button", name="Submit the exam").click()
    dialog = page.get_by_role("dialog", name="Submit the exam?")
    expect(dialog).to_contain_text("You answered 8 of 8 questions.")
    dialog.get_by_role("button", name="Keep working").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Submit the exam").click()
    dialog.get_by_role("button", name="Submit now").click()
    expect(page).to_have_url(f"{served.url}/sessions/{session_id}/result")
    expect(page.get_by_role("heading", name="Waiting for grading", exact=True)).to_be_visible()
    expect(page.get_by_text("Correct", exact=True)).to_have_count(7)
    expect(page.locator(".breakdown-item").filter(has_text="Match the capitals.")).to_contain_text(
        "Canada → Ottawa"
    )
    expect(page.locator(".breakdown-item").filter(has_text="Order by distance")).to_contain_text(
        "Mercury → Venus → Earth"
    )


def test_a_practice_exam_pauses_and_resumes(exam_context: BrowserContext, served: Served) -> None:
    exam = _exam(served, ("Capital", "Animal"), pauseBudgetSeconds=300)
    exam_context.clock.install()
    page = exam_context.new_page()
    sign_in(page, served.url, STUDENT, then=f"/exams/{exam.id}")
    expect(page.get_by_text("Up to 5 min in all")).to_be_visible()
    _start(page, served, exam)
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("heading", name="The exam is paused")).to_be_visible()
    expect(page.get_by_text("What is the capital of France?")).to_be_hidden()
    expect(page.locator("[data-save-state]")).to_have_text("Paused")
    shown = _clock(page).inner_text()
    _advance(page, served, 60)
    expect(_clock(page)).to_have_text(shown)
    page.get_by_role("button", name="Resume the exam").click()
    expect(page.get_by_role("heading", name=re.compile("^Question 1"))).to_be_focused()
    with _saving(page):
        page.get_by_label("Paris").check()
    expect(page.locator("[data-save-state]")).to_have_text("All answers saved")


def test_the_navigator_works_from_the_keyboard_and_flags_stay(
    student_page: Page, served: Served
) -> None:
    exam = _exam(served, ("Capital", "Metals", "Sky", "Animal"))
    page = student_page
    _start(page, served, exam)
    assert unlabelled_inputs(page) == []
    first = page.get_by_role("button", name="Question 1", exact=True)
    first.focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("button", name="Question 2", exact=True)).to_be_focused()
    page.keyboard.press("End")
    expect(page.get_by_role("button", name="Question 4", exact=True)).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(first).to_be_focused()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name=re.compile("^Question 4"))
    expect(heading).to_be_focused()
    expect(page.get_by_text("Name the striped horse.")).to_be_visible()
    expect(page.get_by_text("What is the capital of France?")).to_be_hidden()

    page.keyboard.press("Tab")
    flag = page.get_by_role("button", name="Flag for review")
    expect(flag).to_be_focused()
    page.keyboard.press("Space")
    expect(page.get_by_role("button", name="Flagged for review")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.get_by_role("button", name="Question 4, flagged")).to_have_attribute(
        "aria-current", "step"
    )
    page.reload()
    expect(page.get_by_role("button", name="Question 4, flagged")).to_be_visible()
    expect(page.get_by_text("Name the striped horse.")).to_be_visible()
    # Tab enters the navigator once, at the question shown.
    page.get_by_role("heading", name="Questions").click()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Question 4, flagged")).to_be_focused()


def test_a_teacher_creates_an_exam_through_the_form(browser: Browser, served: Served) -> None:
    bank = f"Setup bank {time.monotonic_ns()}"
    _exam(served, ("Capital",), bank=bank)
    # A browser in India (UTC+05:30, no daylight saving) sends its local times as UTC.
    context = browser.new_context(base_url=served.url, timezone_id="Asia/Kolkata")
    try:
        page = context.new_page()
        sign_in(page, served.url, TEACHER, then="/teach/exams")
        page.get_by_label("Title").fill("Unit test: tides")
        page.get_by_label("Duration (minutes)").fill("30")
        page.get_by_role("button", name="Create exam").click()
        expect(page.get_by_role("alert")).to_have_text("Pick at least one question")
        expect(page.get_by_label("Title")).to_have_value("Unit test: tides")
        expect(page.get_by_label("Title")).not_to_have_attribute("aria-invalid", "true")

        page.locator("summary", has_text=bank).click()
        section = page.locator("details", has_text=bank)
        section.get_by_role("checkbox", name=re.compile("^Capital")).check()
        section.get_by_role("checkbox", name=re.compile("^Essay")).check()
        section.get_by_label("Points for Essay").fill("5")
        page.get_by_label("Closes").fill("2030-01-15T10:00")
        page.get_by_label("Attempts allowed").fill("2")
        page.get_by_label("Allow a grace period to submit").check()
        page.get_by_label("Grace period (minutes)").fill("2")
        page.get_by_role("button", name="Create exam").click()

        expect(page).to_have_url(re.compile(rf"{re.escape(served.url)}/teach/exams/{UUID}$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Unit test: tides")
        exam_id = page.url.rsplit("/", 1)[1]
        created = Api(served, TEACHER).call("GET", f"/api/v1/exams/{exam_id}")
        assert created["closesAt"] == "2030-01-15T04:30:00Z"
        assert (created["questionCount"], created["durationSeconds"]) == (2, 1800)
        assert (created["attemptsAllowed"], created["onExpiry"], created["graceSeconds"]) == (
            2,
            "grace",
            120,
        )

        page.get_by_label("email", exact=False).fill(STUDENT.email)
        page.get_by_label("Extra time (minutes)").fill("10")
        page.get_by_role("button", name="Save accommodation").click()
        expect(page.get_by_role("status")).to_have_text(
            f"Saved the accommodation for {STUDENT.name}."
        )
        expect(page.locator(".override-list")).to_contain_text("10 min extra")
        assert unlabelled_inputs(page) == []
    finally:
        context.close()


def test_exam_pages_fit_a_phone(browser: Browser, served: Served) -> None:
    exam = _exam(served, ("Capital", "Pairs", "Planets"))
    context = browser.new_context(
        base_url=served.url,
        viewport={"width": 375, "height": 667},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        page = context.new_page()
        sign_in(page, served.url, STUDENT, then="/exams")
        expect(page.get_by_role("link", name="Mock exam").first).to_be_visible()
        assert scroll_width(page) <= 375
        session_id = _start(page, served, exam)
        for question in range(1, 4):
            expect(
                page.get_by_role("heading", name=re.compile(f"^Question {question}"))
            ).to_be_visible()
            assert scroll_width(page) <= 375, f"question {question}"
            expect(_clock(page)).to_be_in_viewport()
            if question < 3:
                page.get_by_role("button", name="Next").click()
        page.get_by_role("button", name="Submit the exam").click()
        page.get_by_role("button", name="Submit now").click()
        expect(page).to_have_url(f"{served.url}/sessions/{session_id}/result")
        assert scroll_width(page) <= 375
        page.goto(f"/exams/{exam.id}")
        expect(page.get_by_role("heading", name="Your attempts")).to_be_visible()
        assert scroll_width(page) <= 375

        teacher = context.new_page()
        context.clear_cookies()
        sign_in(teacher, served.url, TEACHER, then="/teach/exams")
        assert scroll_width(teacher) <= 375
        teacher.goto(f"/teach/exams/{exam.id}")
        assert scroll_width(teacher) <= 375
    finally:
        context.close()
