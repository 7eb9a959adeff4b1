"""Joining a game and running it as its host: codes, names, limits and who may act."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from studyhall.config import Settings
from studyhall.live import protocol
from studyhall.live.models import LivePlayer
from studyhall.platform.auth import Role
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.helpers import make_person
from tests.live.helpers import engine, host, join, make_game, open_socket


async def _join(
    client: httpx.AsyncClient, code: str, name: str, ip: str = "10.0.0.1"
) -> httpx.Response:
    return await client.post(
        f"/api/v1/quizzes/{code}/join",
        json={"participantName": name},
        headers={"X-Forwarded-For": ip},
    )


async def test_a_game_has_a_join_code_and_a_qr_code(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher)
    assert len(game.code) == 6
    assert game.code.isdigit()
    svg = await client.get(f"/api/v1/games/{game.id}/qr", headers=teacher.headers)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    png = await client.get(f"/api/v1/games/{game.id}/qr?format=png", headers=teacher.headers)
    assert png.content.startswith(b"\x89PNG")
    view = (await client.get(f"/api/v1/games/{game.id}", headers=teacher.headers)).json()
    assert (view["status"], view["joinCode"], view["players"]) == ("lobby", game.code, 0)


async def test_names_are_unique_per_game_even_when_joining_at_once(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher)
    other = await make_game(client, teacher)
    answers = await asyncio.gather(
        *(_join(client, game.code, name) for name in ["Ada", "ada ", " ADA"] * 3)
    )
    assert sorted(r.status_code for r in answers) == [200] + [409] * 8
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"name_taken"}
    assert (await _join(client, other.code, "Ada")).status_code == 200, (
        "another game is another room"
    )
    view = (await client.get(f"/api/v1/games/{game.id}", headers=teacher.headers)).json()
    assert view["players"] == 1


@pytest.mark.parametrize("name", ["shit", "Sh1t head", "big_FUCK", "n a z i"])
async def test_blocked_names_are_refused(
    client: httpx.AsyncClient, platform: Platform, name: str
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher)
    refused = await _join(client, game.code, name)
    assert (refused.status_code, refused.json()["code"]) == (422, "name_not_allowed")


async def test_names_may_contain_blocked_letters_and_the_list_is_configurable(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform, settings: Settings
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher)
    assert (await _join(client, game.code, "Cassandra")).status_code == 200
    engine(app).settings = settings.with_overrides(live_blocked_names="broccoli")
    assert (await _join(client, game.code, "Broccoli")).json()["code"] == "name_not_allowed"
    assert (await _join(client, game.code, "Shit")).status_code == 200
    assert (await _join(client, game.code, "ß" * 30)).status_code == 200, "folds to 60 letters"
    assert (await _join(client, game.code, "ß" * 15)).status_code == 200
    assert (await _join(client, game.code, "SS" * 15)).json()["code"] == "name_taken"
    for empty in ["", "   ", "x" * 31]:
        refused = await _join(client, game.code, empty)
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_name")


async def test_joins_are_rate_limited_per_address(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform, settings: Settings
) -> None:
    engine(app).settings = settings.with_overrides(live_join_limit_per_ip=3)
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher)
    statuses = [
        (await _join(client, game.code, f"P{i}", ip="10.9.9.9")).status_code for i in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    limited = await _join(client, game.code, "P9", ip="10.9.9.9")
    assert limited.json()["code"] == "rate_limited"
    assert "retry-after" in limited.headers
    assert (await _join(client, game.code, "Q1", ip="10.9.9.10")).status_code == 200


async def test_unknown_full_and_ended_games_cannot_be_joined(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    assert (await _join(client, "abc", "Ada")).json()["code"] == "game_not_found"
    small = await make_game(client, teacher, maxPlayers=1)
    await join(client, small, "Ada")
    full = await _join(client, small.code, "Bea")
    assert (full.status_code, full.json()["code"]) == (409, "game_full")
    game = await make_game(client, teacher)
    await host(client, game, "end")
    ended = await _join(client, game.code, "Ada")
    assert (ended.status_code, ended.json()["code"]) == (404, "game_not_found")


async def test_only_the_host_or_an_admin_runs_a_game(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    colleague = await make_person(platform, Role.TEACHER)
    student = await make_person(platform, Role.STUDENT)
    admin = await make_person(platform, Role.ADMIN)
    game = await make_game(client, teacher)
    quiz_games = f"/api/v1/games/{game.id}"
    for person in (colleague, student):
        for action in ("start", "next", "end"):
            refused = await client.post(f"{quiz_games}/{action}", headers=person.headers)
            assert refused.status_code == 404, refused.text
        for path in ("", "/export.csv", "/qr"):
            assert (
                await client.get(f"{quiz_games}{path}", headers=person.headers)
            ).status_code == 404
    assert (await client.post(f"{quiz_games}/start")).status_code == 401
    started = await client.post(f"{quiz_games}/start", headers=admin.headers)
    assert started.status_code == 200
    assert started.json()["status"] == "countdown"
    again = await client.post(f"{quiz_games}/start", headers=teacher.headers)
    assert (again.status_code, again.json()["code"]) == (409, "game_not_running")
    quizzes = (await client.get("/api/v1/quizzes", headers=teacher.headers)).json()
    foreign = await client.post(
        f"/api/v1/quizzes/{quizzes[0]['id']}/games", headers=colleague.headers
    )
    assert foreign.status_code == 404
    assert (
        await client.post(f"/api/v1/quizzes/{quizzes[0]['id']}/games", headers=student.headers)
    ).status_code == 403


async def test_racing_host_actions_start_and_end_a_game_once(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher)
    path = f"/api/v1/games/{game.id}"
    starts = await asyncio.gather(
        *(client.post(f"{path}/start", headers=teacher.headers) for _ in range(5))
    )
    assert sorted(r.status_code for r in starts) == [200, 409, 409, 409, 409]
    ends = await asyncio.gather(
        *(client.post(f"{path}/end", headers=teacher.headers) for _ in range(5))
    )
    assert {r.json()["status"] for r in ends} == {"ended"}
    frames, _ = await engine(app).store.log_after(game.id, 0)
    kinds = [protocol.header(frame)[0] for frame in frames]
    assert kinds.count("countdown") == 1
    assert kinds.count("quiz_ended") == 1
    late = await client.post(f"{path}/next", headers=teacher.headers)
    assert (late.status_code, late.json()["code"]) == (409, "game_not_running")


async def test_a_socket_needs_a_game_and_a_player_or_its_host(
    client: httpx.AsyncClient, platform: Platform, live_server: str
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    colleague = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher)
    unknown = await open_socket(f"ws://{live_server}/ws?quizId=abcdef")
    assert (await unknown.next("error"))["payload"]["reason"] == "game_not_found"
    for headers in (None, colleague.headers):
        stranger = await open_socket(f"ws://{live_server}/ws?quizId={game.code}", headers)
        assert (await stranger.next("error"))["payload"]["reason"] == "not_found"
    host_socket = await open_socket(f"ws://{live_server}/ws?quizId={game.code}", teacher.headers)
    assert (await host_socket.next("snapshot"))["payload"]["status"] == "lobby"
    await host_socket.send("answer_submission", {"questionId": "x", "selectedOption": 0})
    assert (await host_socket.next("error"))["payload"]["reason"] == "not_a_player"
    await host_socket.connection.close()


RUSH = 300


async def test_a_rush_of_joins_lets_everyone_in_and_the_host_sees_each(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform, live_server: str
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher)
    host_socket = await open_socket(f"ws://{live_server}/ws?quizId={game.code}", teacher.headers)
    await host_socket.next("snapshot")
    store = engine(app).store
    steps = 0
    add_players = store.add_players

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal steps
        steps += 1
        return await add_players(*args, **kwargs)

    store.add_players = counted  # type: ignore[method-assign]
    answers = await asyncio.gather(
        *(
            _join(client, game.code, f"Player {i}", ip=f"10.2.{i // 250}.{i % 250}")
            for i in range(RUSH)
        )
    )
    assert [r.status_code for r in answers] == [200] * RUSH
    ids = {r.json()["participantId"] for r in answers}
    assert len(ids) == RUSH
    assert steps < RUSH / 2, "joins that arrive together share a hot-store step"
    announced: set[str] = set()
    while announced != ids:
        joined = await host_socket.next("player_joined")
        announced.add(joined["payload"]["participantId"])
    assert joined["payload"]["players"] <= RUSH
    view = (await client.get(f"/api/v1/games/{game.id}", headers=teacher.headers)).json()
    assert view["players"] == RUSH
    await host_socket.connection.close()


async def test_of_a_rush_picking_one_name_exactly_one_gets_it(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher)
    names = [f"Other {i}" for i in range(40)] + ["Sam", " sam", "SAM "] * 20
    answers = await asyncio.gather(*(_join(client, game.code, name) for name in names))
    taken = [r for r in answers if r.status_code == 409]
    assert [r.status_code for r in answers[:40]] == [200] * 40
    assert len(taken) == 59
    assert {r.json()["code"] for r in taken} == {"name_taken"}
    view = (await client.get(f"/api/v1/games/{game.id}", headers=teacher.headers)).json()
    assert view["players"] == 41


async def test_a_rush_never_overfills_a_game(client: httpx.AsyncClient, platform: Platform) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, maxPlayers=25)
    answers = await asyncio.gather(*(_join(client, game.code, f"P{i}") for i in range(80)))
    assert sorted(r.status_code for r in answers) == [200] * 25 + [409] * 55
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"game_full"}
    view = (await client.get(f"/api/v1/games/{game.id}", headers=teacher.headers)).json()
    assert view["players"] == 25
    async with platform.sessions() as session:
        rows = await session.scalar(
            select(func.count())
            .select_from(LivePlayer)
            .where(LivePlayer.game_id == uuid.UUID(game.id))
        )
    assert rows == 25, "a refused player leaves no row behind"
