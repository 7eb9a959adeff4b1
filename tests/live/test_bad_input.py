"""Odd input to the live quiz's HTTP routes is the client's error, never a 500."""

from __future__ import annotations

import httpx

from studyhall.platform.auth import Role
from studyhall.platform.runtime import Platform
from tests.helpers import make_person
from tests.live.helpers import join, make_game


async def test_a_resume_token_with_non_ascii_characters_names_no_participant(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    """Found by tests/test_fuzz.py: ``hmac.compare_digest`` raised TypeError on it (a 500)."""
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher)
    player = await join(client, game, "Ada")
    answered = await client.post(
        f"/api/v1/quizzes/{game.code}/answers",
        json={
            "participantId": player.id,
            "resumeToken": "é" * len(player.token),
            "questionId": "q",
            "selectedOption": 0,
        },
    )
    assert answered.status_code == 404, answered.text
    assert answered.json()["code"] == "unknown_participant"
