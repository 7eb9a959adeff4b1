"""A student buys a course through the sandbox checkout page and opens its gated lesson;
another buys the bundle of a gated exam and starts it.

The server is a real ``studyhall serve`` (embedded, so its job worker runs inside it):
the sandbox emits the signed webhook through a job, the webhook stores it, another job
grants the course, and the return page notices by polling. Products are an admin's:
the shared server has one (``ADMIN``) and a buyer (``BUYER``) made by the CLI."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import ADMIN, BUYER, STUDENT, sign_in


@pytest.fixture(scope="module")
def premium(server: str) -> dict[str, str]:
    """A published course with one lesson, sold for 12.50 EUR."""
    word = f"tide{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=server, timeout=30) as http:
        token = http.post(
            "/api/v1/auth/token", json={"email": ADMIN.email, "password": ADMIN.password}
        )
        http.headers["Authorization"] = f"Bearer {token.json()['accessToken']}"
        course = http.post("/api/v1/courses", json={"title": "Tides", "published": True}).json()
        lesson = http.post(
            f"/api/v1/courses/{course['id']}/lessons",
            json={"title": "Spring tides", "body": f"The moon and the sun line up ({word})."},
        ).json()
        product = http.post(
            "/api/v1/products",
            json={
                "kind": "course",
                "title": "Tides, the full course",
                "priceMinor": 1250,
                "currency": "eur",
                "courseId": course["id"],
            },
        )
        assert product.status_code == 201, product.text
    return {"course": course["id"], "lesson": lesson["id"], "word": word}


def test_a_student_buys_a_course_and_opens_its_lesson(
    page: Page, server: str, premium: dict[str, str]
) -> None:
    lesson = f"/lessons/{premium['lesson']}"
    sign_in(page, server, BUYER, then=lesson)
    expect(page.get_by_role("heading", name="This is premium content")).to_be_visible()
    expect(page.get_by_text(premium["word"])).to_have_count(0)
    page.goto(f"/courses/{premium['course']}")
    page.locator("#buy-course").get_by_role("link", name="Tides, the full course").click()
    expect(page.locator("#product-price")).to_have_text("12.50 EUR")
    page.get_by_role("button", name="Buy for 12.50 EUR").click()

    expect(page.get_by_role("heading", name="Pay 12.50 EUR")).to_be_visible()
    page.get_by_label("Late (two minutes)").focus()  # the switches are keyboard-reachable
    page.get_by_role("button", name="Pay", exact=True).click()

    expect(page).to_have_url(f"{server}/payments/return?checkout=" + page.url.split("=")[-1])
    expect(page.get_by_role("status")).to_contain_text("it is yours")
    page.get_by_role("link", name="Open it now").click()
    expect(page).to_have_url(f"{server}/courses/{premium['course']}")
    expect(page.locator("#buy-course")).to_have_count(0)  # it offered the course before
    page.goto(lesson)
    expect(page.get_by_text(premium["word"])).to_be_visible()

    page.goto("/purchases")
    row = page.get_by_role("row", name="Tides, the full course")
    expect(row).to_contain_text("Paid")
    row.get_by_role("link", name="Receipt").click()
    expect(page.locator("#order-state")).to_have_text("Paid")
    expect(page.get_by_role("list", name="State history")).to_contain_text("Waiting for payment")

    # The admin finds the order among the paid ones, with its history and a Refund button.
    browser = page.context.browser
    assert browser is not None
    admin_context = browser.new_context(base_url=server)
    try:
        admin = admin_context.new_page()
        sign_in(admin, server, ADMIN, then="/admin/orders")
        admin.get_by_label("State").select_option("paid")
        admin.get_by_role("button", name="Filter").click()
        expect(admin.get_by_role("cell", name="Tides, the full course")).to_have_count(1)
        expect(admin.get_by_role("cell", name=BUYER.email)).to_have_count(1)
        admin.get_by_role("row").nth(1).get_by_role("link").click()
        expect(admin.get_by_role("list", name="State history")).to_contain_text("Paid")
        expect(admin.get_by_role("button", name="Refund 12.50 EUR")).to_be_visible()
    finally:
        admin_context.close()


@pytest.fixture(scope="module")
def bundled_exam(server: str) -> str:
    """A two-question exam sold only in a bundle of mock tests (9.00 EUR)."""
    gift = "::Sky:: The sky is blue. {T}\n\n::Sea:: The sea is dry. {F}"
    with httpx.Client(base_url=server, timeout=30) as http:
        token = http.post(
            "/api/v1/auth/token", json={"email": ADMIN.email, "password": ADMIN.password}
        )
        http.headers["Authorization"] = f"Bearer {token.json()['accessToken']}"
        bank = http.post("/api/v1/banks", json={"name": "Bundle bank"}).json()
        imported = http.post(
            f"/api/v1/banks/{bank['id']}/import?format=gift",
            content=gift.encode(),
            headers={"content-type": "text/plain"},
        )
        assert imported.json()["imported"] == 2, imported.text
        questions = http.get(f"/api/v1/banks/{bank['id']}/questions").json()
        exam = http.post(
            "/api/v1/exams",
            json={
                "title": "Bundled mock test",
                "durationSeconds": 600,
                "questionIds": [question["id"] for question in questions],
            },
        ).json()
        bundle = http.post(
            "/api/v1/products",
            json={
                "kind": "bundle",
                "title": "Mock test bundle",
                "priceMinor": 900,
                "currency": "eur",
                "examIds": [exam["id"]],
            },
        )
        assert bundle.status_code == 201, bundle.text
    return str(exam["id"])


def test_a_student_buys_the_bundle_of_a_gated_exam_and_starts_it(
    page: Page, server: str, bundled_exam: str
) -> None:
    sign_in(page, server, STUDENT, then=f"/exams/{bundled_exam}")
    offer = page.locator("#buy-to-start")
    expect(offer).to_contain_text("premium content")
    expect(page.get_by_role("button", name="Start the exam")).to_have_count(0)

    offer.get_by_role("link", name="Mock test bundle").click()
    page.get_by_role("button", name="Buy for 9.00 EUR").click()
    expect(page.get_by_role("heading", name="Pay 9.00 EUR")).to_be_visible()
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("it is yours")
    page.get_by_role("link", name="Open it now").click()

    expect(page).to_have_url(f"{server}/exams/{bundled_exam}")
    page.get_by_role("button", name="Start the exam").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(server)}/sessions/[0-9a-f-]+$"))
    expect(page.get_by_role("button", name="Submit the exam")).to_be_visible()
