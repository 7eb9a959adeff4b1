"""Redis (no persistence) is killed in the middle of a live quiz game and started again, empty.

While it is down, the live endpoints answer 503 ``hot_store_unavailable`` (its client's
breaker fails them at once) and a connected player's socket is told the stream was lost
and closed, so it reconnects. Once Redis is back, the first request for the game rebuilds
its hot state from PostgreSQL: scores are intact, the open question takes its remaining
answers, the next question is played, and the final leaderboard equals a recomputation
from the persisted answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.chaos.conftest import PrivateRedis
from tests.chaos.world import database, teacher_headers
from tests.exams.test_durability import migrate_with_a_teacher
from tests.processes import processes

pytestmark = [pytest.mark.chaos, pytest.mark.services]
PLAYERS = 6
QUESTIONS = [
    {"type": "single", "text": "Red planet?", "options": ["Venus", "Mars"], "correctOptions": [1]},
    {"type": "truefalse", "text": "Water is wet.", "correctOptions": [0]},
    {"type": "single", "text": "Largest?", "options": ["Jupiter", "Mars"], "correctOptions": [0]},
]


class Play:
    """The game as its players and host drive it over HTTP."""

    def __init__(self, http: httpx.AsyncClient, base: str, host: dict[str, str]) -> None:
        self.http, self.base, self.host = http, base, host
        self.game_id = self.code = ""
        self.question_ids: list[str] = []
        self.players: list[dict[str, Any]] = []

    async def create(self) -> None:
        quiz = await self.http.post(
            f"{self.base}/api/v1/quizzes",
            json={
                "title": "Chaos",
                "scoring": "classic",
                "questions": [{**q, "timeLimitSeconds": 240} for q in QUESTIONS],
            },
            headers=self.host,
        )
        assert quiz.status_code == 201, quiz.text
        detail = await self.http.get(
            f"{self.base}/api/v1/quizzes/{quiz.json()['id']}", headers=self.host
        )
        self.question_ids = [question["id"] for question in detail.json()["questions"]]
        game = await self.http.post(
            f"{self.base}/api/v1/quizzes/{quiz.json()['id']}/games", headers=self.host
        )
        self.game_id, self.code = game.json()["gameId"], game.json()["joinCode"]

    async def join(self, name: str) -> httpx.Response:
        return await self.http.post(
            f"{self.base}/api/v1/quizzes/{self.code}/join", json={"participantName": name}
        )

    async def answer(self, player: dict[str, Any], qi: int, choice: int) -> httpx.Response:
        return await self.http.post(
            f"{self.base}/api/v1/quizzes/{self.code}/answers",
            json={
                "participantId": player["participantId"],
                "resumeToken": player["resumeToken"],
                "questionId": self.question_ids[qi],
                "selectedOption": choice,
            },
        )

    async def view(self) -> httpx.Response:
        return await self.http.get(f"{self.base}/api/v1/games/{self.game_id}", headers=self.host)

    async def act(self, action: str) -> dict[str, Any]:
        response = await _retried(
            functools.partial(
                self.http.post,
                f"{self.base}/api/v1/games/{self.game_id}/{action}",
                headers=self.host,
            )
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def until(self, status: str, qi: int) -> None:
        for _ in range(200):
            body = (await self.view()).json()
            if (body.get("status"), body.get("questionIndex")) == (status, qi):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the game never reached {status} {qi}: {body}")

    async def snapshot(self, player: dict[str, Any]) -> dict[str, Any]:
        response = await _retried(
            functools.partial(
                self.http.get,
                f"{self.base}/api/v1/quizzes/{self.code}/events",
                params={
                    "participantId": player["participantId"],
                    "resumeToken": player["resumeToken"],
                },
            )
        )
        assert response.status_code == 200, response.text
        frames = [frame for frame in response.json()["events"] if frame["type"] == "snapshot"]
        payload: dict[str, Any] = frames[-1]["payload"]
        return payload

    def socket_url(self, player: dict[str, Any]) -> str:
        ws = self.base.replace("http://", "ws://")
        return (
            f"{ws}/ws?quizId={self.code}&participantId={player['participantId']}"
            f"&resumeToken={player['resumeToken']}"
        )


async def _scores(play: Play) -> dict[str, int]:
    return {
        player["participantId"]: (await play.snapshot(player))["you"]["score"]
        for player in play.players
    }


async def _retried(call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """Retry a 503 as a client does while Redis comes back: each Redis client of the server
    fails calls at once for a second after its last failed connect."""
    for _ in range(100):
        response = await call()
        if response.status_code != 503:
            return response
        await asyncio.sleep(0.1)
    raise AssertionError(f"still unavailable: {response.text}")


async def _welcome(play: Play, player: dict[str, Any]) -> str:
    """The first frame of a new connection, reconnecting while Redis comes back."""
    for _ in range(100):
        async with connect(play.socket_url(player), open_timeout=15) as socket:
            first = str(await asyncio.wait_for(socket.recv(), 15))
        if "hot_store_unavailable" not in first:
            return first
        await asyncio.sleep(0.1)
    raise AssertionError(f"still unavailable: {first}")


async def _until_closed(socket: ClientConnection) -> list[str]:
    """What the server sends a connected player until it closes the connection."""
    received = []
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(30):
            while True:
                received.append(str(await socket.recv()))
    assert socket.close_code is not None, "the server closed it"
    return received


async def test_a_live_game_goes_on_after_redis_restarts_empty(
    private_redis_env: dict[str, str], private_redis: PrivateRedis, tmp_path: Path
) -> None:
    env = {
        **private_redis_env,
        "STUDYHALL_LIVE_COUNTDOWN_SECONDS": "0",
        "STUDYHALL_LIVE_JOIN_LIMIT_PER_IP": "1000",
    }
    with processes(env) as group:
        migrate_with_a_teacher(group)
        base = group.serve(tmp_path / "app.log")
        async with httpx.AsyncClient(timeout=30) as http:
            play = Play(http, base, await teacher_headers(http, base))
            await play.create()
            joined = await asyncio.gather(*(play.join(f"P{i}") for i in range(PLAYERS)))
            assert [r.status_code for r in joined] == [200] * PLAYERS
            play.players = [r.json() for r in joined]
            await play.act("start")
            await play.until("question", 0)
            for i, player in enumerate(play.players):  # every other one right
                assert (await play.answer(player, 0, i % 2)).status_code == 200
            await play.until("reveal", 0)
            await play.act("next")
            await play.until("question", 1)
            for player in play.players[:3]:
                assert (await play.answer(player, 1, 0)).status_code == 200
            before = await _scores(play)
            socket = await connect(play.socket_url(play.players[0]), open_timeout=15)
            assert '"snapshot"' in str(await asyncio.wait_for(socket.recv(), 15))

            private_redis.kill()
            lost = await _until_closed(socket)
            started = time.monotonic()
            down_join = await play.join("Late")
            down_answer = await play.answer(play.players[3], 1, 0)
            down_view = await play.view()
            down_seconds = time.monotonic() - started

            private_redis.start()
            back = await _retried(play.view)
            after = await _scores(play)
            welcome = await _welcome(play, play.players[0])
            for player in play.players[3:]:
                answered = await _retried(functools.partial(play.answer, player, 1, 1))
                assert answered.status_code == 200, answered.text
            await play.until("reveal", 1)
            await play.act("next")
            await play.until("question", 2)
            for i, player in enumerate(play.players):
                choice = 0 if i % 3 else 1
                answered = await _retried(functools.partial(play.answer, player, 2, choice))
                assert answered.status_code == 200, answered.text
            await play.until("reveal", 2)
            assert (await play.act("next"))["status"] == "ended"
            final = (await play.snapshot(play.players[0]))["leaderboard"]
        async with database(env) as connection:
            recomputed = {
                str(row["player_id"]): row["score"]
                for row in await connection.fetch(
                    "SELECT player_id, sum(points) AS score FROM live_answers"
                    " WHERE game_id = $1 GROUP BY player_id",
                    play.game_id,
                )
            }
            saved = {
                str(row["id"]): row["final_score"]
                for row in await connection.fetch(
                    "SELECT id, final_score FROM live_players WHERE game_id = $1", play.game_id
                )
            }
    print(
        f"\nwhile Redis was down: join {down_join.status_code}, answer "
        f"{down_answer.status_code}, game view {down_view.status_code} in "
        f"{down_seconds * 1000:.0f} ms together; the socket got {lost}; after the restart "
        f"the game was back at {back.json()['status']} {back.json()['questionIndex']}"
    )
    for refused in (down_join, down_answer, down_view):
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "hot_store_unavailable"
    assert any("stream_lost" in message for message in lost)
    assert (back.json()["status"], back.json()["questionIndex"]) == ("question", 1)
    assert after == before, "scores intact"
    assert '"snapshot"' in welcome
    assert len(recomputed) == PLAYERS
    assert saved == recomputed
    assert {entry["participantId"]: entry["score"] for entry in final} == recomputed
