"""An acknowledged save survives ``kill -9`` of the app (and, scaled, the loss of Redis).

Fifty students stream saves into a real server process; the process is killed with
SIGKILL mid-stream; on the scaled deployment every key of ours in Redis is dropped
too (what a Redis restart without persistence does); a new process starts on the
same database. Every save that got ``200 {saved:true}`` must be in the journal, and
each session's current answer must be its last acknowledged save (or the one that
was in flight when the process died, if that one reached the disk).
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import TEST_SECRET, delete_prefix
from tests.helpers import PASSWORD
from tests.processes import Processes, processes, studyhall
from tests.services import REDIS_URL, require_redis, scratch_postgres

pytestmark = pytest.mark.services
STUDENTS = 50
GIFT = "::Pi:: Pi to two decimals? {#3.14:0.005}\n\n::Capital:: Capital of France? {=Paris ~Rome}\n"


@asynccontextmanager
async def _deployment(kind: str, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    env = {
        "STUDYHALL_SECRET_KEY": TEST_SECRET,
        "STUDYHALL_DATA_DIR": str(tmp_path),
        "STUDYHALL_PASSWORD_HASH_PROFILE": "fast",
        "STUDYHALL_ACCESS_LOG": "false",
        # Every student registers from this one address.
        "STUDYHALL_REGISTER_LIMIT_PER_IP": str(STUDENTS),
    }
    if kind == "embedded":
        yield env
        return
    require_redis()
    prefix = f"test:{uuid.uuid4().hex}:"
    async with scratch_postgres("durability") as database_url:
        try:
            yield {
                **env,
                "STUDYHALL_DATABASE_URL": database_url,
                "STUDYHALL_REDIS_URL": REDIS_URL,
                "STUDYHALL_REDIS_PREFIX": prefix,
            }
        finally:
            await delete_prefix(prefix)


async def _journal(env: dict[str, str]) -> list[tuple[str, Any]]:
    """(session id, response) of every journalled save, read straight from the database."""
    query = "SELECT session_id, response FROM session_answers ORDER BY id"
    if "STUDYHALL_DATABASE_URL" not in env:
        with sqlite3.connect(Path(env["STUDYHALL_DATA_DIR"]) / "studyhall.db") as db:
            return [(uuid.UUID(row[0]).hex, row[1]) for row in db.execute(query)]
    url = env["STUDYHALL_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
    connection = await asyncpg.connect(url)
    try:
        return [(row[0].hex, row[1]) for row in await connection.fetch(query)]
    finally:
        await connection.close()


async def _token(http: httpx.AsyncClient, base: str, email: str) -> dict[str, str]:
    token = await http.post(
        f"{base}/api/v1/auth/token", json={"email": email, "password": PASSWORD}
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['accessToken']}"}


async def _prepare(http: httpx.AsyncClient, base: str) -> list[tuple[dict[str, str], str, str]]:
    """A teacher's exam and 50 students in it: (headers, session id, numeric question id)."""
    teacher = await _token(http, base, "teacher@example.org")
    bank = (await http.post(f"{base}/api/v1/banks", json={"name": "B"}, headers=teacher)).json()
    await http.post(
        f"{base}/api/v1/banks/{bank['id']}/import?format=gift",
        content=GIFT.encode(),
        headers={**teacher, "content-type": "text/plain"},
    )
    questions = (
        await http.get(f"{base}/api/v1/banks/{bank['id']}/questions", headers=teacher)
    ).json()
    exam = await http.post(
        f"{base}/api/v1/exams",
        json={"title": "E", "durationSeconds": 3600, "questionIds": [q["id"] for q in questions]},
        headers=teacher,
    )
    assert exam.status_code == 201, exam.text
    pi = next(q["id"] for q in questions if q["title"] == "Pi")
    seats = []
    for index in range(STUDENTS):
        email = f"s{index}@example.org"
        registered = await http.post(
            f"{base}/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "name": f"S{index}"},
        )
        assert registered.status_code == 201, registered.text
        headers = await _token(http, base, email)
        started = await http.post(
            f"{base}/api/v1/exams/{exam.json()['id']}/sessions", headers=headers
        )
        assert started.status_code == 201, started.text
        seats.append((headers, started.json()["sessionId"], pi))
    return seats


async def _stream(
    http: httpx.AsyncClient,
    base: str,
    seat: tuple[dict[str, str], str, str],
    acknowledged: list[float],
    in_flight: list[float],
    stop: asyncio.Event,
) -> None:
    """One student saving a new value again and again until the server goes away."""
    headers, session_id, question_id = seat
    attempt = 0
    while not stop.is_set():
        attempt += 1
        value = float(attempt)
        in_flight[:] = [value]
        try:
            response = await http.put(
                f"{base}/api/v1/sessions/{session_id}/answers",
                json={"questionId": question_id, "choice": value},
                headers={**headers, "Idempotency-Key": f"save-{attempt}"},
            )
        except httpx.HTTPError:
            return
        if response.status_code != 200:
            return
        acknowledged.append(value)


def migrate_with_a_teacher(group: Processes) -> None:
    """A fresh database with the teacher account the scenarios sign in as."""
    subprocess.run(studyhall("migrate"), env=group.env, check=True, timeout=120)
    subprocess.run(
        studyhall(
            "user", "create", "teacher@example.org", "--password", PASSWORD, "--role", "teacher"
        ),
        env=group.env,
        check=True,
        timeout=60,
    )


@pytest.mark.parametrize("kind", ["embedded", "scaled"])
async def test_acknowledged_saves_survive_kill_9(kind: str, tmp_path: Path) -> None:
    async with _deployment(kind, tmp_path) as env:
        with processes(env) as group:
            migrate_with_a_teacher(group)
            base = group.serve(tmp_path / "first.log")
            server = group.running[-1]
            limits = httpx.Limits(max_connections=STUDENTS + 5)
            async with httpx.AsyncClient(timeout=10, limits=limits) as http:
                seats = await _prepare(http, base)
                acknowledged: list[list[float]] = [[] for _ in seats]
                in_flight: list[list[float]] = [[] for _ in seats]
                stop = asyncio.Event()
                streams = [
                    asyncio.create_task(_stream(http, base, seat, acked, flying, stop))
                    for seat, acked, flying in zip(seats, acknowledged, in_flight, strict=True)
                ]
                while sum(map(len, acknowledged)) < 20 * STUDENTS:
                    await asyncio.sleep(0.05)
                await asyncio.to_thread(group.kill_9, server)
                await asyncio.gather(*streams)
            if kind == "scaled":
                await delete_prefix(env["STUDYHALL_REDIS_PREFIX"])
            journal = await _journal(env)
            base = group.serve(tmp_path / "second.log")
            async with httpx.AsyncClient(timeout=10) as http:
                current = [
                    (
                        await http.get(f"{base}/api/v1/sessions/{session_id}", headers=headers)
                    ).json()["answers"]
                    for headers, session_id, _ in seats
                ]
    total = sum(map(len, acknowledged))
    stored: dict[str, set[float]] = {}
    for session_id, response in journal:
        stored.setdefault(session_id, set()).add(float(response))
    missing = [
        (session_id, value)
        for (_, session_id, _), acked in zip(seats, acknowledged, strict=True)
        for value in acked
        if value not in stored.get(uuid.UUID(session_id).hex, set())
    ]
    print(f"{kind}: {total} saves acknowledged, {len(journal)} journalled, {len(missing)} missing")
    assert not missing, f"acknowledged saves lost: {missing[:10]}"
    for acked, flying, answers in zip(acknowledged, in_flight, current, strict=True):
        assert len(answers) == 1
        assert answers[0]["choice"] in {acked[-1], *flying}, "resume shows the latest save"
