"""Account pages in a real Chromium: sign in, register, password change, CSRF, a11y, mobile."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Response, expect

from tests.web.conftest import Account, scroll_width

pytestmark = pytest.mark.browser

SESSION_COOKIE = "studyhall_session"


def _unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"


def _session_cookie(context: BrowserContext) -> dict[str, object] | None:
    for cookie in context.cookies():
        if cookie.get("name") == SESSION_COOKIE:
            return dict(cookie)
    return None


def _submit_login(page: Page, server: str, email: str, password: str) -> Response:
    """Fill the sign-in form by its labels, press "Sign in", return the POST's response."""
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url == f"{server}/login"
    ) as posted:
        page.get_by_role("button", name="Sign in", exact=True).click()
    return posted.value


def _sign_in(page: Page, server: str, account: Account) -> None:
    page.goto("/login")
    _submit_login(page, server, account.email, account.password)
    expect(page).to_have_url(f"{server}/account")


def _main_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def test_sign_in_lands_on_the_account_page(
    page: Page, context: BrowserContext, server: str, teacher: Account
) -> None:
    page.goto("/")
    _main_nav(page).get_by_role("link", name="Sign in").click()
    expect(page).to_have_url(f"{server}/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    response = _submit_login(page, server, teacher.email, teacher.password)
    assert response.status in (302, 303)

    expect(page).to_have_url(f"{server}/account")
    expect(page).to_have_title("Your account · studyhall")
    expect(page.locator("#profile-name")).to_have_text(teacher.name)
    expect(page.locator("#profile-email")).to_have_text(teacher.email)
    expect(page.locator("#profile-role")).to_have_text(teacher.role)
    nav = _main_nav(page)
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    expect(nav.get_by_role("link", name=teacher.name)).to_be_visible()
    expect(nav.get_by_role("link", name="Sign in")).to_have_count(0)

    cookie = _session_cookie(context)
    assert cookie is not None, "no session cookie after signing in"
    assert cookie["httpOnly"] is True
    assert cookie["secure"] is True
    assert cookie["sameSite"] == "Lax"
    assert SESSION_COOKIE not in page.evaluate("document.cookie")


def test_wrong_password_shows_an_error_and_keeps_the_email(
    page: Page, context: BrowserContext, server: str, teacher: Account
) -> None:
    page.goto("/login")
    response = _submit_login(page, server, teacher.email, "not-the-password")

    assert response.status == 401
    expect(page).to_have_url(f"{server}/login")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Wrong email or password")
    email = page.get_by_label("Email", exact=True)
    expect(email).to_have_value(teacher.email)
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_attribute("aria-describedby", "form-error")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert _session_cookie(context) is None


def test_register_creates_an_account_and_refuses_the_same_email_again(
    page: Page, context: BrowserContext, server: str
) -> None:
    email = _unique_email("new")
    page.goto("/register")

    def fill_and_submit(name: str, address: str) -> Response:
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Email", exact=True).fill(address)
        page.get_by_label("Password", exact=True).fill("a-long-enough-password")
        with page.expect_response(
            lambda r: r.request.method == "POST" and r.url == f"{server}/register"
        ) as posted:
            page.get_by_role("button", name="Create account").click()
        return posted.value

    fill_and_submit("Katherine Johnson", email)
    expect(page).to_have_url(f"{server}/account")
    expect(page.locator("#profile-name")).to_have_text("Katherine Johnson")
    expect(page.locator("#profile-email")).to_have_text(email)
    expect(page.locator("#profile-role")).to_have_text("student")
    assert _session_cookie(context) is not None

    _main_nav(page).get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server}/")
    assert _session_cookie(context) is None

    page.goto("/register")
    again = fill_and_submit("Someone Else", email.upper())
    assert again.status == 409
    expect(page).to_have_url(f"{server}/register")
    expect(page.get_by_role("alert")).to_contain_text("already registered")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Someone Else")
    assert _session_cookie(context) is None


def test_change_password_then_only_the_new_one_signs_in(
    page: Page, context: BrowserContext, server: str, password_changer: Account
) -> None:
    new_password = "a-brand-new-password-2"
    _sign_in(page, server, password_changer)

    page.get_by_label("Current password", exact=True).fill(password_changer.password)
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Password changed")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator("#profile-email")).to_have_text(password_changer.email)

    _main_nav(page).get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server}/")
    expect(_main_nav(page).get_by_role("link", name="Sign in")).to_be_visible()
    assert _session_cookie(context) is None

    page.goto("/login")
    old = _submit_login(page, server, password_changer.email, password_changer.password)
    assert old.status == 401
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password")
    assert _session_cookie(context) is None

    _submit_login(page, server, password_changer.email, new_password)
    expect(page).to_have_url(f"{server}/account")
    expect(page.locator("#profile-name")).to_have_text(password_changer.name)


def test_login_post_without_the_csrf_token_is_refused(
    page: Page, context: BrowserContext, server: str, teacher: Account
) -> None:
    page.goto("/login")  # the page sets the CSRF cookie; the forged post leaves the field out
    response = page.request.post(
        f"{server}/login",
        form={"email": teacher.email, "password": teacher.password, "next": "/account"},
        max_redirects=0,
    )
    assert response.status == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "csrf_failed"
    assert body["status"] == 403
    assert _session_cookie(context) is None


def test_account_page_sends_signed_out_visitors_to_sign_in_and_back(
    page: Page, server: str, teacher: Account
) -> None:
    page.goto("/account")
    expect(page).to_have_url(f"{server}/login?next=/account")
    expect(page.locator("input[name=next]")).to_have_value("/account")

    _submit_login(page, server, teacher.email, teacher.password)
    expect(page).to_have_url(f"{server}/account")
    expect(page.locator("#profile-email")).to_have_text(teacher.email)


def test_skip_link_is_the_first_stop_and_moves_focus_to_main(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_text("Skip to content")
    expect(focused).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


def _assert_every_input_is_labelled(page: Page, labels: list[str]) -> None:
    for label in labels:
        expect(page.get_by_label(label, exact=True)).to_have_count(1)
        expect(page.get_by_label(label, exact=True)).to_be_editable()
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter((el) => el.type !== 'hidden')
            .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                            && !el.getAttribute('aria-labelledby'))
            .map((el) => el.outerHTML)"""
    )
    assert unlabelled == []
    visible_inputs = page.locator("input:not([type=hidden]), select, textarea")
    expect(visible_inputs).to_have_count(len(labels))


def test_every_form_input_has_a_label(page: Page, server: str, teacher: Account) -> None:
    page.goto("/login")
    _assert_every_input_is_labelled(page, ["Email", "Password"])
    page.goto("/register")
    _assert_every_input_is_labelled(page, ["Name", "Email", "Password"])
    _sign_in(page, server, teacher)
    _assert_every_input_is_labelled(page, ["Current password", "New password"])


@pytest.mark.parametrize("path", ["/login", "/register", "/"])
def test_pages_fit_a_phone_without_horizontal_scroll(phone: Page, path: str) -> None:
    phone.goto(path)
    expect(phone.locator("main")).to_be_visible()
    assert scroll_width(phone) <= 375
    for form in phone.locator("main form").all():
        box = form.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 375


def test_account_page_fits_a_phone(phone: Page, server: str, teacher: Account) -> None:
    _sign_in(phone, server, teacher)
    expect(phone.locator("#profile-email")).to_have_text(teacher.email)
    assert scroll_width(phone) <= 375


def test_a_long_unbroken_name_and_email_fit_a_phone(phone: Page, server: str) -> None:
    name = "B" * 80
    email = _unique_email("b" * 60)
    phone.goto("/register")
    phone.get_by_label("Name", exact=True).fill(name)
    phone.get_by_label("Email", exact=True).fill(email)
    phone.get_by_label("Password", exact=True).fill("a-long-enough-password")
    phone.get_by_role("button", name="Create account").click()
    expect(phone).to_have_url(f"{server}/account")
    expect(phone.locator("#profile-email")).to_have_text(email)
    assert scroll_width(phone) <= 375

    phone.goto("/")
    expect(phone.get_by_text("Welcome back")).to_be_visible()
    assert scroll_width(phone) <= 375

    # The name in the nav must not cover the button next to it.
    _main_nav(phone).get_by_role("button", name="Sign out").click()
    expect(_main_nav(phone).get_by_role("link", name="Sign in")).to_be_visible()

    phone.goto("/register")
    phone.get_by_label("Name", exact=True).fill("Again")
    phone.get_by_label("Email", exact=True).fill(email)
    phone.get_by_label("Password", exact=True).fill("a-long-enough-password")
    phone.get_by_role("button", name="Create account").click()
    expect(phone.get_by_role("alert")).to_contain_text("already registered")
    assert scroll_width(phone) <= 375
