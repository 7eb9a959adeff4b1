"""A live game in real Chromium: a host and three players in separate browser contexts
play a whole game; one player reloads mid-game and keeps name and score."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import Account, scroll_width, sign_in, unlabelled_inputs
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


def test_the_join_page_fits_a_phone(phone: Page) -> None:
    phone.goto("/play")
    expect(phone.get_by_label("Game code")).to_be_visible()
    assert unlabelled_inputs(phone) == []
    assert scroll_width(phone) <= 375
    phone.get_by_label("Game code").fill("000000")
    phone.get_by_label("Your name").fill("Ann")
    phone.get_by_role("button", name="Join").click()
    expect(phone.get_by_role("alert")).to_contain_text("No live game has this code")
