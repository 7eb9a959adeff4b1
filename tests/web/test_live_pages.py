"""A live game in real Chromium: a host and three players in separate browser contexts
play a whole game; one player reloads mid-game and keeps name and score."""

from __future__ import annotations

import base64
import re
import uuid

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import ADMIN, Account, scroll_width, sign_in, unlabelled_inputs
from tests.web.test_integrity_pages import _client

pytestmark = pytest.mark.browser

QUESTIONS = [
    {
        "type": "single",
        "text": "Which planet is red?",
        "options": ["Venus", "Mars", "Earth"],
        "correctOptions": [1],
        "timeLimitSeconds": 60,
    },
    {
        "type": "truefalse",
        "text": "The Moon is a planet.",
        "correctOptions": [1],
        "timeLimitSeconds": 60,
    },
]


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def _join(page: Page, code: str, name: str) -> None:
    page.goto(f"/play/{code}")
    assert unlabelled_inputs(page) == []
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_text("You are in")).to_be_visible()


def test_a_host_and_three_players_play_a_whole_game(
    browser: Browser, server: str, teacher: Account
) -> None:
    title = f"Planets {uuid.uuid4().hex[:6]}"
    with _client(server, teacher) as http:
        created = http.post("/api/v1/quizzes", json={"title": title, "questions": QUESTIONS})
        assert created.status_code == 201, created.text
    contexts = [browser.new_context(base_url=server) for _ in range(4)]
    try:
        host = contexts[0].new_page()
        sign_in(host, server, teacher, then="/host/quizzes")
        host.get_by_role("listitem").filter(has_text=title).get_by_role(
            "button", name="Host a game"
        ).click()
        expect(host).to_have_url(re.compile(r"/host/games/"))
        code = host.get_by_label("Game code").inner_text().strip()
        assert re.fullmatch(r"[0-9]{6}", code)

        players = [context.new_page() for context in contexts[1:]]
        for player, name in zip(players, ["Ann", "Ben", "Cat"], strict=True):
            _join(player, code, name)
        expect(host.locator("[data-player-count]")).to_have_text("3")

        host.get_by_role("button", name="Start").click()
        for player in players:
            expect(player.get_by_text("Which planet is red?")).to_be_visible()
        ann, ben, cat = players
        ann.get_by_role("button", name="Mars").click()
        ben.get_by_role("button", name="Venus").click()
        cat.get_by_role("button", name="Mars").click()
        expect(ann.get_by_text(re.compile(r"Correct! \+1[0-5][0-9]"))).to_be_visible()
        expect(ben.get_by_text("Not this time")).to_be_visible()
        ann_score = ann.locator("[data-my-score]").inner_text()
        assert int(ann_score) >= 100

        ann.reload()  # a refresh mid-game: same player, same score
        expect(ann.locator("[data-my-name]")).to_have_text("Ann")
        expect(ann.locator("[data-my-score]")).to_have_text(ann_score)

        host.get_by_role("button", name="Next").click()
        for player in players:
            expect(player.get_by_text("The Moon is a planet.")).to_be_visible()
        for player in players:
            player.get_by_role("button", name="False").click()
        expect(host.locator("[data-status]")).to_have_text("reveal")
        host.get_by_role("button", name="Next").click()
        expect(host.locator("[data-status]")).to_have_text("ended")
        for player in players:
            expect(player.get_by_text("Final leaderboard")).to_be_visible()
        expect(ann.get_by_text(re.compile(r"You finished #1"))).to_be_visible()
        expect(ben.get_by_text(re.compile(r"You finished #3"))).to_be_visible()
        expect(host.get_by_role("heading", name="Podium")).to_be_visible()
    finally:
        for context in contexts:
            context.close()


def test_on_the_host_screen_only_players_get_marked_buttons(
    browser: Browser, server: str, teacher: Account
) -> None:
    title = f"Host screen {uuid.uuid4().hex[:6]}"
    with _client(server, teacher) as http:
        image = http.post("/api/v1/quiz-images", content=PNG).json()["id"]
        question = {**QUESTIONS[0], "image": image, "imageAlt": "A red planet"}
        body = {"title": title, "questionsOn": "host", "questions": [question]}
        created = http.post("/api/v1/quizzes", json=body)
        assert created.status_code == 201, created.text
    contexts = [browser.new_context(base_url=server) for _ in range(2)]
    try:
        host, ann = (context.new_page() for context in contexts)
        sign_in(host, server, teacher, then="/host/quizzes")
        host.get_by_role("listitem").filter(has_text=title).get_by_role(
            "button", name="Host a game"
        ).click()
        expect(host).to_have_url(re.compile(r"/host/games/"))
        _join(ann, host.get_by_label("Game code").inner_text().strip(), "Ann")
        host.get_by_role("button", name="Start").click()

        expect(host.get_by_role("heading", name="Which planet is red?")).to_be_visible()
        expect(host.get_by_role("img", name="A red planet")).to_be_visible()
        host.wait_for_function("document.querySelector('[data-question-image]').naturalWidth > 0")
        expect(host.locator("[data-distribution] li")).to_have_text(["Venus", "Mars", "Earth"])
        expect(ann.get_by_text("Look at the host's screen")).to_be_visible()
        for name in ("red triangle", "blue diamond", "gold circle"):
            expect(ann.get_by_role("button", name=name)).to_be_visible()
        for text in ("Which planet is red?", "Venus", "Mars", "Earth"):
            expect(ann.get_by_text(text)).to_have_count(0)
        expect(ann.locator("[data-question-image]")).to_be_hidden()

        ann.get_by_role("button", name="blue diamond").click()  # Mars, the only player
        expect(ann.get_by_text(re.compile(r"Correct! \+1[0-5][0-9]"))).to_be_visible()
        expect(host.locator("[data-distribution] li").nth(1)).to_have_text("Mars: 1 ✓")
    finally:
        for context in contexts:
            context.close()


def test_the_join_page_fits_a_phone(phone: Page) -> None:
    phone.goto("/play")
    expect(phone.get_by_label("Game code")).to_be_visible()
    assert unlabelled_inputs(phone) == []
    assert scroll_width(phone) <= 375
    phone.get_by_label("Game code").fill("000000")
    phone.get_by_label("Your name").fill("Ann")
    phone.get_by_role("button", name="Join").click()
    expect(phone.get_by_role("alert")).to_contain_text("No live game has this code")


def test_the_host_kicks_a_player_and_a_double_click_never_skips_a_reveal(
    browser: Browser, server: str, teacher: Account
) -> None:
    title = f"Kicks {uuid.uuid4().hex[:6]}"
    with _client(server, teacher) as http:
        created = http.post("/api/v1/quizzes", json={"title": title, "questions": QUESTIONS})
        assert created.status_code == 201, created.text
    contexts = [browser.new_context(base_url=server) for _ in range(3)]
    try:
        host = contexts[0].new_page()
        sign_in(host, server, teacher, then="/host/quizzes")
        host.get_by_role("listitem").filter(has_text=title).get_by_role(
            "button", name="Host a game"
        ).click()
        expect(host).to_have_url(re.compile(r"/host/games/"))
        game_id = host.url.rstrip("/").rsplit("/", 1)[1]
        code = host.get_by_label("Game code").inner_text().strip()
        ann, ben = contexts[1].new_page(), contexts[2].new_page()
        _join(ann, code, "Ann")
        _join(ben, code, "Ben")
        expect(host.locator("[data-player-count]")).to_have_text("2")

        host.get_by_role("button", name="Kick Ben").click()
        expect(ben.get_by_text("The host removed you from this game.")).to_be_visible()
        expect(host.locator("[data-player-count]")).to_have_text("1")
        expect(host.get_by_role("button", name="Kick Ben")).to_have_count(0)
        ben.reload()  # the kicked player's seat is gone: back to the join form
        expect(ben.get_by_label("Your name")).to_be_visible()

        host.get_by_role("button", name="Start").click()
        expect(ann.get_by_text("Which planet is red?")).to_be_visible()
        host.get_by_role("button", name="Next").dblclick()
        expect(host.locator("[data-status]")).to_have_text("reveal")
        host.wait_for_timeout(500)  # room for a second request, had one been sent
        with _client(server, teacher) as http:
            view = http.get(f"/api/v1/games/{game_id}").json()
        assert (view["status"], view["questionIndex"]) == ("reveal", 0)
        expect(ann.get_by_text("The Moon is a planet.")).to_have_count(0)
        host.get_by_role("button", name="Next").click()
        expect(ann.get_by_text("The Moon is a planet.")).to_be_visible()
    finally:
        for context in contexts:
            context.close()


def test_the_admin_dashboard_shows_running_games_live(
    browser: Browser, server: str, teacher: Account, student: Account
) -> None:
    title = f"Ops {uuid.uuid4().hex[:6]}"
    contexts = [browser.new_context(base_url=server) for _ in range(2)]
    try:
        dashboard, outsider = (context.new_page() for context in contexts)
        sign_in(dashboard, server, ADMIN, then="/admin/live")
        expect(dashboard.get_by_role("heading", name="Live games")).to_be_visible()
        expect(dashboard.get_by_role("link", name="Live games")).to_be_visible()
        with _client(server, teacher) as http:
            quiz = http.post("/api/v1/quizzes", json={"title": title, "questions": QUESTIONS})
            game = http.post(f"/api/v1/quizzes/{quiz.json()['id']}/games").json()
        row = dashboard.get_by_role("row").filter(has_text=title)
        expect(row).to_be_visible()  # appears without a reload
        expect(row).to_contain_text(game["joinCode"])
        with httpx.Client(base_url=server, timeout=30) as anonymous:
            joined = anonymous.post(
                f"/api/v1/quizzes/{game['joinCode']}/join", json={"participantName": "Ann"}
            )
            assert joined.status_code == 200, joined.text
        expect(row.get_by_role("cell").nth(3)).to_have_text("1")  # players
        with _client(server, teacher) as http:
            assert http.post(f"/api/v1/games/{game['gameId']}/end").status_code == 200
        expect(row).to_have_count(0)

        sign_in(outsider, server, student, then="/admin/live")
        response = outsider.goto("/admin/live")
        assert response is not None
        assert response.status == 404
        expect(outsider.get_by_role("link", name="Live games")).to_have_count(0)
    finally:
        for context in contexts:
            context.close()
