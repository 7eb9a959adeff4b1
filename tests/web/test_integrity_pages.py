"""The proctor's pages in a real Chromium: an exam's flagged sessions with their reasons,
one session's signals, on a desktop and a phone; a student finds neither.

The exam and the signals come through the API, as the exam page's script would send
them; the server writes signals in batches, so the test waits until they are stored.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.exams.test_integrity import GIFT
from tests.web.conftest import Account, scroll_width, sign_in

pytestmark = pytest.mark.browser

PASSWORD = "integrity-pages-password"
STORED_WITHIN_SECONDS = 15


def _client(server: str, account: Account) -> httpx.Client:
    """An API client with the account's bearer token (not yet opened)."""
    token = httpx.post(
        f"{server}/api/v1/auth/token",
        json={"email": account.email, "password": account.password},
        timeout=30,
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['accessToken']}"}
    return httpx.Client(base_url=server, headers=headers, timeout=30)


def _new_student(server: str, name: str) -> Account:
    account = Account(f"{uuid.uuid4().hex[:10]}@example.org", PASSWORD, name, "student")
    with httpx.Client(base_url=server, timeout=30) as http:
        created = http.post(
            "/api/v1/auth/register",
            json={"email": account.email, "password": PASSWORD, "name": name},
        )
    assert created.status_code == 201, created.text
    return account


@dataclass(frozen=True)
class Proctored:
    exam_id: str
    flagged: Account
    flagged_session: str
    honest: Account


@pytest.fixture
def proctored(server: str, teacher: Account) -> Proctored:
    """An exam where one student left the page five times and pasted three times, and
    another left it once."""
    with _client(server, teacher) as http:
        bank = http.post("/api/v1/banks", json={"name": "Proctored"}).json()
        imported = http.post(
            f"/api/v1/banks/{bank['id']}/import?format=gift",
            content=GIFT.encode(),
            headers={"content-type": "text/plain"},
        )
        assert imported.json()["imported"] == 6, imported.text
        questions = http.get(f"/api/v1/banks/{bank['id']}/questions").json()
        exam = http.post(
            "/api/v1/exams",
            json={
                "title": "Proctored mock",
                "durationSeconds": 1800,
                "questionIds": [question["id"] for question in questions],
            },
        ).json()
    suffix = uuid.uuid4().hex[:6]
    flagged = _new_student(server, f"Wanderer {suffix}")
    honest = _new_student(server, f"Steady {suffix}")
    sessions = {}
    for account, kinds in (
        (flagged, ["focus-lost", "page-hidden"] * 5 + ["paste"] * 3),
        (honest, ["focus-lost"]),
    ):
        with _client(server, account) as http:
            started = http.post(f"/api/v1/exams/{exam['id']}/sessions")
            assert started.status_code == 201, started.text
            session_id = started.json()["sessionId"]
            for kind in kinds:
                sent = http.post(
                    f"/api/v1/sessions/{session_id}/signals",
                    json={"kind": kind, "detail": f"{kind} while answering"},
                )
                assert sent.status_code == 202, sent.text
        sessions[account.email] = session_id
    _wait_until_stored(server, teacher, sessions[flagged.email], expected=13)
    return Proctored(exam["id"], flagged, sessions[flagged.email], honest)


def _wait_until_stored(server: str, teacher: Account, session_id: str, expected: int) -> None:
    """The buffer writes about once a second; poll the report until every signal is in."""
    deadline = time.monotonic() + STORED_WITHIN_SECONDS
    with _client(server, teacher) as http:
        while True:
            report = http.get(f"/api/v1/sessions/{session_id}/integrity").json()
            if len(report["signals"]) == expected:
                return
            assert time.monotonic() < deadline, f"signals not stored: {report['signals']}"
            time.sleep(0.2)


def test_a_teacher_sees_the_flagged_session_and_its_signals(
    page: Page, server: str, teacher: Account, proctored: Proctored
) -> None:
    sign_in(page, server, teacher, then=f"/exams/{proctored.exam_id}/integrity")
    expect(page.get_by_role("heading", level=1)).to_have_text("Flagged sessions")
    expect(page.get_by_text("Proctored mock")).to_be_visible()
    expect(page.locator("[data-summary]")).to_have_text("1 of 2 sessions flagged.")
    flagged = page.locator(f"[data-session='{proctored.flagged_session}']")
    expect(flagged.locator("[data-reason='left_page']")).to_contain_text(
        "Left the exam page 5 times"
    )
    expect(flagged.locator("[data-reason='clipboard']")).to_contain_text(
        "Used copy, cut or paste 3 times"
    )
    expect(flagged.locator("[data-kind='paste']")).to_have_text("Paste: 3")
    expect(page.get_by_text(proctored.honest.name)).to_have_count(0)

    flagged.get_by_role("link", name=proctored.flagged.name).click()
    expect(page).to_have_url(f"{server}/sessions/{proctored.flagged_session}/integrity")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"{proctored.flagged.name}, attempt 1"
    )
    expect(page.locator("[data-signal]")).to_have_count(13)
    expect(page.locator("[data-signal='paste']").first).to_contain_text("paste while answering")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name="Flagged sessions"
    ).click()
    expect(page).to_have_url(f"{server}/exams/{proctored.exam_id}/integrity")


def test_the_pages_fit_a_phone_and_are_hidden_from_students(
    page: Page, phone: Page, server: str, teacher: Account, proctored: Proctored
) -> None:
    sign_in(phone, server, teacher)
    for path in (
        f"/exams/{proctored.exam_id}/integrity",
        f"/sessions/{proctored.flagged_session}/integrity",
    ):
        phone.goto(path)
        expect(phone.get_by_role("heading", level=1)).to_be_visible()
        assert scroll_width(phone) <= 375, f"{path} scrolls sideways on a phone"

    sign_in(page, server, proctored.flagged)
    for path in (
        f"/exams/{proctored.exam_id}/integrity",
        f"/sessions/{proctored.flagged_session}/integrity",
    ):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
