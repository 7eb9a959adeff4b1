"""Host actions that must act once: ``next`` guarded by the step the host saw, and kicks."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from studyhall.live import protocol
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.helpers import Person, make_person
from tests.live.helpers import (
    SINGLE,
    TRUE_FALSE,
    Game,
    Player,
    engine,
    host,
    join,
    make_game,
    open_socket,
    player_url,
    run_timers,
)


async def _next(client: httpx.AsyncClient, game: Game, status: str, index: int) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/games/{game.id}/next?fromStatus={status}&fromQuestion={index}",
        headers=game.host.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _kinds(app: ObservedApp, game: Game) -> list[str]:
    frames, _ = await engine(app).store.log_after(game.id, 0)
    return [protocol.header(frame)[0] for frame in frames]


async def test_concurrent_identical_next_clicks_advance_exactly_once(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform, clock: FakeClock
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE, TRUE_FALSE)
    await join(client, game, "Ada")
    await host(client, game, "start")
    await run_timers(app, clock, 3)

    clicks = await asyncio.gather(*(_next(client, game, "question", 0) for _ in range(8)))
    assert sorted(click["advanced"] for click in clicks) == [False] * 7 + [True]
    assert {(c["status"], c["questionIndex"]) for c in clicks} == {("reveal", 0)}, (
        "the reveal is never skipped"
    )
    clicks = await asyncio.gather(*(_next(client, game, "reveal", 0) for _ in range(8)))
    assert sum(click["advanced"] for click in clicks) == 1
    assert {(c["status"], c["questionIndex"]) for c in clicks} == {("question", 1)}

    # A double click arriving one after the other: the second is a no-op.
    first = await _next(client, game, "question", 1)
    again = await _next(client, game, "question", 1)
    assert (first["advanced"], again["advanced"]) == (True, False)
    assert (again["status"], again["questionIndex"]) == ("reveal", 1)
    # A stale screen (the timer moved the game) does not move it either.
    assert (await _next(client, game, "lobby", -1))["advanced"] is False
    last = await asyncio.gather(*(_next(client, game, "reveal", 1) for _ in range(4)))
    assert sum(click["advanced"] for click in last) == 1
    assert {c["status"] for c in last} == {"ended"}

    kinds = await _kinds(app, game)
    assert kinds.count(protocol.QUESTION_REVEALED) == 2
    assert kinds.count(protocol.NEW_QUESTION) == 2
    assert kinds.count(protocol.QUIZ_ENDED) == 1


async def test_next_from_the_lobby_opens_the_first_question_once(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE)
    await join(client, game, "Ada")
    clicks = await asyncio.gather(*(_next(client, game, "lobby", -1) for _ in range(5)))
    assert sum(click["advanced"] for click in clicks) == 1
    assert {(c["status"], c["questionIndex"]) for c in clicks} == {("question", 0)}
    assert (await _kinds(app, game)).count(protocol.NEW_QUESTION) == 1


async def test_a_step_outside_the_game_is_refused(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE)
    for query in ("fromStatus=reveal&fromQuestion=-1", "fromStatus=question&fromQuestion=1"):
        response = await client.post(
            f"/api/v1/games/{game.id}/next?{query}", headers=teacher.headers
        )
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_step"
    bad = await client.post(f"/api/v1/games/{game.id}/next?fromStatus=x", headers=teacher.headers)
    assert bad.status_code == 422
    student = await make_person(platform, Role.STUDENT)
    other = await client.post(
        f"/api/v1/games/{game.id}/next?fromStatus=lobby", headers=student.headers
    )
    assert other.status_code == 404


async def _kick(
    client: httpx.AsyncClient, game: Game, player: Player, who: Person
) -> httpx.Response:
    return await client.post(
        f"/api/v1/games/{game.id}/players/{player.id}/kick", headers=who.headers
    )


async def test_a_kicked_player_is_disconnected_forgotten_and_frees_the_name(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    live_server: str,
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE)
    ada, bea, cy = [await join(client, game, name) for name in ("Ada", "Bea", "Cy")]
    ada_ws = await open_socket(player_url(live_server, game, ada))
    host_ws = await open_socket(f"ws://{live_server}/ws?quizId={game.code}", teacher.headers)
    roster = (await host_ws.next("snapshot"))["payload"]["participants"]
    assert sorted(entry["name"] for entry in roster) == ["Ada", "Bea", "Cy"]
    await host(client, game, "start")
    await run_timers(app, clock, 3)
    question = (await ada_ws.next("new_question"))["payload"]["questionId"]
    await ada_ws.send("answer_submission", {"questionId": question, "selectedOption": 1})
    await ada_ws.next("answer_received")

    stranger = await make_person(platform, Role.TEACHER)
    assert (await _kick(client, game, ada, stranger)).status_code == 404
    other_game = await make_game(client, teacher, SINGLE)
    outsider = await join(client, other_game, "Zed")
    assert (await _kick(client, game, outsider, teacher)).status_code == 404

    kicks = await asyncio.gather(*(_kick(client, game, ada, teacher) for _ in range(5)))
    assert [kick.status_code for kick in kicks] == [200] * 5
    assert {kick.json()["players"] for kick in kicks} == {2}
    assert (await _kinds(app, game)).count(protocol.PLAYER_KICKED) == 1
    refused = await ada_ws.next("error")
    assert refused["payload"]["reason"] == "kicked"
    with pytest.raises(ConnectionClosed):
        await ada_ws.connection.recv()
    assert ada_ws.connection.close_code == 4403
    gone = (await host_ws.next("player_kicked"))["payload"]
    assert gone == {"participantId": ada.id, "players": 2}

    # The resume token no longer works, over any transport.
    again = await open_socket(player_url(live_server, game, ada))
    assert (await again.next("error"))["payload"]["reason"] == "kicked"
    polled = await client.get(
        f"/api/v1/quizzes/{game.code}/events?participantId={ada.id}&resumeToken={ada.token}&wait=0"
    )
    assert (polled.status_code, polled.json()["code"]) == (404, "kicked")
    answered = await client.post(
        f"/api/v1/quizzes/{game.code}/answers",
        json={
            "participantId": ada.id,
            "resumeToken": ada.token,
            "questionId": question,
            "selectedOption": 1,
        },
    )
    assert answered.status_code == 404

    live = engine(app)
    state = await live.store.state(game.id)
    assert state is not None
    assert (state.players, state.answered) == (2, 0), "her answer no longer counts"
    definition = await live.definition(game.id)
    await live.submit(definition, bea.id, question, 1, None)
    state = await live.store.state(game.id)
    assert state is not None
    assert state.status == "question", "Cy has not answered yet"
    await live.submit(definition, cy.id, question, 0, None)
    state = await live.store.state(game.id)
    assert state is not None
    assert state.status == "reveal"
    _, everyone = await live.leaderboard(game.id)
    assert set(everyone) == {bea.id, cy.id}, "her held points were never applied"
    assert everyone[bea.id][1] > 0

    newcomer = await join(client, game, "ada")
    assert newcomer.id != ada.id, "the name is free again"
    await host(client, game, "end")
    after_end = await _kick(client, game, bea, teacher)
    assert (after_end.status_code, after_end.json()["code"]) == (409, "game_not_running")
    assert (await _kick(client, game, ada, teacher)).status_code == 200, "still a no-op"
    for socket in (host_ws, again):
        await socket.connection.close()


async def test_players_get_a_coalesced_player_count_and_hosts_every_join(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    live_server: str,
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE)
    ada = await join(client, game, "Ada")
    ada_ws = await open_socket(player_url(live_server, game, ada))
    host_ws = await open_socket(f"ws://{live_server}/ws?quizId={game.code}", teacher.headers)
    await ada_ws.next("snapshot")
    await host_ws.next("snapshot")
    for name in ("Bea", "Cy", "Dee"):
        await join(client, game, name)
    await run_timers(app, clock, 1)  # a count goes out at most once a second
    await ada_ws.next("player_count", lambda m: m["payload"]["players"] == 4)
    joined = [(await host_ws.next("player_joined"))["payload"]["name"] for _ in range(3)]
    assert joined == ["Bea", "Cy", "Dee"]
    await host_ws.next("player_count", lambda m: m["payload"]["players"] == 4)
    await ada_ws.send("heartbeat")
    await ada_ws.next("heartbeat_ack")
    kinds = {message["type"] for message in ada_ws.seen}
    assert "player_joined" not in kinds, "a player never gets one frame per join"
    for socket in (ada_ws, host_ws):
        await socket.connection.close()
