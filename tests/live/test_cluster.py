"""Two app nodes on one PostgreSQL and Redis: one game across both, and timers that
survive the node running them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from studyhall.app import create_app
from studyhall.config import Settings
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.conftest import serving
from tests.helpers import make_person, on_port
from tests.live.helpers import (
    SINGLE,
    TRUE_FALSE,
    engine,
    host,
    join,
    make_game,
    open_socket,
    player_url,
)

LEASE_SECONDS = 0.5


@contextlib.asynccontextmanager
async def second_node(
    settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[ObservedApp, str]]:
    node = create_app(settings, clock=clock)
    async with serving(node), on_port(node) as address:
        yield node, address


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(15):
        while not await check():
            await asyncio.sleep(0.05)


async def test_players_on_two_nodes_play_one_game_and_timers_move_on_when_a_node_dies(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    settings: Settings,
    live_server: str,
    deployment: str,
) -> None:
    if deployment == "embedded":
        pytest.skip("the embedded deployment is one process")
    fast_lease = settings.with_overrides(live_lease_seconds=LEASE_SECONDS)
    engine(app).settings = fast_lease
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE, TRUE_FALSE)
    ada = await join(client, game, "Ada")
    bea = await join(client, game, "Bea")
    ada_ws = await open_socket(player_url(live_server, game, ada))
    async with second_node(fast_lease, clock) as (node, node_url):
        bea_ws = await open_socket(player_url(node_url, game, bea))
        await host(client, game, "start")
        clock.advance(3)
        first = (await bea_ws.next("new_question"))["payload"]
        await ada_ws.send(
            "answer_submission", {"questionId": first["questionId"], "selectedOption": 1}
        )
        await bea_ws.send(
            "answer_submission", {"questionId": first["questionId"], "selectedOption": 1}
        )
        scored = lambda m: all(e["score"] > 0 for e in m["payload"]["leaderboard"])  # noqa: E731
        boards = [
            (await ws.next("leaderboard_changed", scored))["payload"] for ws in (ada_ws, bea_ws)
        ]
        assert boards[0]["leaderboard"] == boards[1]["leaderboard"]
        assert {(e["name"], e["score"], e["rank"]) for e in boards[0]["leaderboard"]} == {
            ("Ada", 150, 1),
            ("Bea", 150, 1),
        }
        assert boards[1]["you"] == {"rank": 1, "score": 150}

        # Hand the timers to the second node, then let it die.
        assert platform.redis is not None
        lease_key = f"{settings.redis_prefix}live:{{{game.id}}}:lease"
        await platform.redis.delete(lease_key)
        await engine(node).tick()
        assert await platform.redis.get(lease_key) == engine(node).node.encode()
        await host(client, game, "next")
        second = (await ada_ws.next("new_question"))["payload"]
        assert second["index"] == 1
    # The node is gone; its lease runs out and this node's timers take the game over.
    clock.advance(10.001)

    async def closed() -> bool:
        state = await engine(app).store.state(game.id)
        return state is not None and state.status == "reveal"

    await _until(closed)
    assert await platform.redis.get(lease_key) == engine(app).node.encode()
    revealed = await ada_ws.next("question_revealed")
    assert revealed["payload"]["index"] == 1
    await ada_ws.connection.close()


async def test_a_kick_on_one_node_closes_the_players_socket_on_another(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    settings: Settings,
    deployment: str,
) -> None:
    if deployment == "embedded":
        pytest.skip("the embedded deployment is one process")
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE)
    ada = await join(client, game, "Ada")
    async with second_node(settings, clock) as (_, other):
        socket = await open_socket(player_url(other, game, ada))
        await socket.next("snapshot")
        kicked = await client.post(
            f"/api/v1/games/{game.id}/players/{ada.id}/kick", headers=teacher.headers
        )
        assert kicked.status_code == 200
        assert (await socket.next("error"))["payload"]["reason"] == "kicked"
        await socket.connection.wait_closed()
        again = await open_socket(player_url(other, game, ada))
        assert (await again.next("error"))["payload"]["reason"] == "kicked"
        await again.connection.close()
