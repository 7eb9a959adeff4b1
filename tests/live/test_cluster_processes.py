"""Two real app processes on one PostgreSQL and Redis: a game's question timers keep
running after ``kill -9`` of the process that held them."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import TEST_SECRET
from tests.helpers import PASSWORD, Person
from tests.live.helpers import Game, Player, open_socket, player_url
from tests.processes import processes, studyhall
from tests.services import REDIS_URL, require_redis, scratch_postgres

pytestmark = pytest.mark.services


@pytest.mark.chaos
async def test_killing_the_timer_node_hands_the_game_to_the_other(tmp_path: Path) -> None:
    require_redis()
    prefix = f"test:{uuid.uuid4().hex}:"
    redis = Redis.from_url(REDIS_URL)
    async with scratch_postgres("live-cluster") as database_url:
        env = {
            "STUDYHALL_DATABASE_URL": database_url,
            "STUDYHALL_REDIS_URL": REDIS_URL,
            "STUDYHALL_REDIS_PREFIX": prefix,
            "STUDYHALL_SECRET_KEY": TEST_SECRET,
            "STUDYHALL_DATA_DIR": str(tmp_path),
            "STUDYHALL_PASSWORD_HASH_PROFILE": "fast",
            "STUDYHALL_ACCESS_LOG": "false",
            "STUDYHALL_LIVE_LEASE_SECONDS": "1",
            "STUDYHALL_LIVE_COUNTDOWN_SECONDS": "0",
        }
        try:
            with processes(env) as cluster:
                subprocess.run(studyhall("migrate"), env=cluster.env, check=True, timeout=60)
                email = "host@example.org"
                subprocess.run(
                    studyhall("user", "create", email, "--password", PASSWORD, "--role", "teacher"),
                    env=cluster.env,
                    check=True,
                    timeout=60,
                )
                urls = [cluster.serve(tmp_path / f"{name}.log") for name in ("a", "b")]
                nodes = dict(zip(urls, cluster.running[-2:], strict=True))
                async with httpx.AsyncClient(timeout=10) as http:
                    token = await http.post(
                        f"{urls[0]}/api/v1/auth/token", json={"email": email, "password": PASSWORD}
                    )
                    teacher = {"Authorization": f"Bearer {token.json()['accessToken']}"}
                    me = (await http.get(f"{urls[0]}/api/v1/me", headers=teacher)).json()
                    host = Person(uuid.UUID(me["id"]), email, token.json()["accessToken"])
                    question = {
                        "type": "single",
                        "text": "Red planet?",
                        "options": ["Venus", "Mars"],
                        "correctOptions": [1],
                        "timeLimitSeconds": 5,
                    }
                    quiz = await http.post(
                        f"{urls[0]}/api/v1/quizzes",
                        json={"title": "Cluster", "questions": [question, question]},
                        headers=teacher,
                    )
                    made = await http.post(
                        f"{urls[0]}/api/v1/quizzes/{quiz.json()['id']}/games", headers=teacher
                    )
                    game = Game(made.json()["gameId"], made.json()["joinCode"], host)
                    players = {}
                    for url, name in zip(urls, ("Ada", "Bea"), strict=True):
                        joined = await http.post(
                            f"{url}/api/v1/quizzes/{game.code}/join", json={"participantName": name}
                        )
                        body = joined.json()
                        players[url] = Player(body["participantId"], body["resumeToken"], name)
                    sockets = {
                        url: await open_socket(
                            player_url(url.removeprefix("http://"), game, player)
                        )
                        for url, player in players.items()
                    }
                    started = await http.post(
                        f"{urls[0]}/api/v1/games/{game.id}/start", headers=teacher
                    )
                    assert started.status_code == 200, started.text
                    for socket in sockets.values():
                        await socket.next("new_question")
                    lease_key = f"{prefix}live:{{{game.id}}}:lease"
                    holder = ""
                    for _ in range(50):  # a node's tick takes the lease within a moment
                        holder = (await redis.get(lease_key) or b"").decode()
                        if any(f":{node.pid}:" in holder for node in nodes.values()):
                            break
                        await asyncio.sleep(0.1)
                    doomed = next(url for url, node in nodes.items() if f":{node.pid}:" in holder)
                    survivor = next(url for url in urls if url != doomed)
                    cluster.kill_9(nodes[doomed])
                    # Nobody answers: the question closes on time, by the surviving node.
                    revealed = await sockets[survivor].next("question_revealed")
                    assert revealed["payload"]["answered"] == 0
                    assert (
                        f":{nodes[survivor].pid}:" in (await redis.get(lease_key) or b"").decode()
                    )
                    await sockets[survivor].connection.close()
        finally:
            keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=500)]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()
