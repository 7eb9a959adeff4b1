"""Helpers for live quiz tests: quizzes, games, players, and WebSocket clients."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from studyhall.app import litestar_of
from studyhall.live.connections import LiveRuntime
from studyhall.live.engine import LiveEngine
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from tests.helpers import Person

WAIT_SECONDS = 15.0

SINGLE = {
    "type": "single",
    "text": "Which planet is red?",
    "options": ["Venus", "Mars", "Earth"],
    "correctOptions": [1],
    "timeLimitSeconds": 20,
}


TRUE_FALSE = {
    "type": "truefalse",
    "text": "Water boils at 100 C at sea level.",
    "correctOptions": [0],
    "timeLimitSeconds": 10,
    "points": "double",
}
TEXT = {
    "type": "text",
    "text": "Name the striped horse.",
    "acceptedAnswers": ["zebra"],
    "timeLimitSeconds": 30,
}


def quiz_body(*questions: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"title": "Planets", "scoring": "classic", "questions": list(questions), **options}


def runtime(app: ObservedApp) -> LiveRuntime:
    live: LiveRuntime = litestar_of(app).state.live
    return live


def engine(app: ObservedApp) -> LiveEngine:
    return runtime(app).engine


async def make_quiz(client: httpx.AsyncClient, teacher: Person, body: dict[str, Any]) -> str:
    response = await client.post("/api/v1/quizzes", json=body, headers=teacher.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@dataclass
class Game:
    id: str
    code: str
    host: Person


async def make_game(
    client: httpx.AsyncClient, teacher: Person, *questions: dict[str, Any], **options: Any
) -> Game:
    quiz_id = await make_quiz(client, teacher, quiz_body(*(questions or (SINGLE,)), **options))
    response = await client.post(f"/api/v1/quizzes/{quiz_id}/games", headers=teacher.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    return Game(body["gameId"], body["joinCode"], teacher)


@dataclass
class Player:
    id: str
    token: str
    name: str


async def join(client: httpx.AsyncClient, game: Game, name: str, ip: str = "") -> Player:
    headers = {"X-Forwarded-For": ip} if ip else {}
    response = await client.post(
        f"/api/v1/quizzes/{game.code}/join", json={"participantName": name}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["quizId"] == game.code
    return Player(body["participantId"], body["resumeToken"], name)


async def host(client: httpx.AsyncClient, game: Game, action: str) -> dict[str, Any]:
    response = await client.post(f"/api/v1/games/{game.id}/{action}", headers=game.host.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def run_timers(app: ObservedApp, clock: FakeClock, seconds: float) -> None:
    """Move the server's clock and fire what fell due (the tick loop would, within 0.1 s)."""
    clock.advance(seconds)
    await engine(app).tick()


class Socket:
    """A real WebSocket player (or host) that keeps every message it received."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.seen: list[dict[str, Any]] = []
        self._read = 0

    async def send(self, kind: str, payload: dict[str, Any] | None = None) -> None:
        await self.connection.send(json.dumps({"type": kind, "payload": payload or {}}))

    async def next(self, kind: str, where: Any = None) -> dict[str, Any]:
        """The next message of ``kind`` (skipping others) that satisfies ``where``."""
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                while self._read < len(self.seen):
                    message = self.seen[self._read]
                    self._read += 1
                    if message["type"] == kind and (where is None or where(message)):
                        return message
                self.seen.append(json.loads(await self.connection.recv()))

    def event_ids(self) -> list[int]:
        return [message["eventId"] for message in self.seen]

    @property
    def last_event_id(self) -> int:
        return max(self.event_ids())


def player_url(base: str, game: Game, player: Player, last_event_id: int | None = None) -> str:
    url = f"ws://{base}/ws?quizId={game.code}&participantId={player.id}&resumeToken={player.token}"
    return url if last_event_id is None else f"{url}&lastEventId={last_event_id}"


async def open_socket(url: str, headers: dict[str, str] | None = None) -> Socket:
    return Socket(await connect(url, additional_headers=headers, open_timeout=WAIT_SECONDS))
