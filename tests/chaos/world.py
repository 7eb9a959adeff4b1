"""What the chaos tests set up through the public API: a teacher's exam and its students."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from tests.exams.test_durability import GIFT, _token
from tests.helpers import PASSWORD

# Pi is a numerical question worth 2 points, Capital a choice worth 1.
PI_POINTS, CAPITAL_POINTS = 2.0, 1.0


@dataclass(frozen=True)
class Seat:
    """One student in one exam session."""

    headers: dict[str, str]
    session_id: str


@dataclass(frozen=True)
class Exam:
    id: str
    pi: str
    capital: str


async def teacher_headers(http: httpx.AsyncClient, base: str) -> dict[str, str]:
    return await _token(http, base, "teacher@example.org")


async def create_exam(
    http: httpx.AsyncClient, base: str, *, duration_seconds: int = 3600, title: str = "E"
) -> Exam:
    teacher = await teacher_headers(http, base)
    bank = (await http.post(f"{base}/api/v1/banks", json={"name": "B"}, headers=teacher)).json()
    imported = await http.post(
        f"{base}/api/v1/banks/{bank['id']}/import?format=gift",
        content=GIFT.encode(),
        headers={**teacher, "content-type": "text/plain"},
    )
    assert imported.status_code == 200, imported.text
    questions = (
        await http.get(f"{base}/api/v1/banks/{bank['id']}/questions", headers=teacher)
    ).json()
    by_title = {q["title"]: q["id"] for q in questions}
    exam = await http.post(
        f"{base}/api/v1/exams",
        json={
            "title": title,
            "durationSeconds": duration_seconds,
            "questions": [
                {"questionId": by_title["Pi"], "points": PI_POINTS},
                {"questionId": by_title["Capital"], "points": CAPITAL_POINTS},
            ],
        },
        headers=teacher,
    )
    assert exam.status_code == 201, exam.text
    return Exam(exam.json()["id"], by_title["Pi"], by_title["Capital"])


async def register(http: httpx.AsyncClient, base: str, email: str) -> dict[str, str]:
    registered = await http.post(
        f"{base}/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "name": email.split("@")[0]},
    )
    assert registered.status_code == 201, registered.text
    return await _token(http, base, email)


async def seat_students(
    http: httpx.AsyncClient, base: str, exams: list[Exam], count: int, tag: str = "s"
) -> list[Seat]:
    """``count`` new students, each starting a session in every exam of ``exams``."""
    gate = asyncio.Semaphore(16)

    async def one(index: int) -> list[Seat]:
        async with gate:
            headers = await register(http, base, f"{tag}{index}@example.org")
            seats = []
            for exam in exams:
                started = await http.post(
                    f"{base}/api/v1/exams/{exam.id}/sessions", headers=headers
                )
                assert started.status_code == 201, started.text
                seats.append(Seat(headers, started.json()["sessionId"]))
            return seats

    return [seat for seats in await asyncio.gather(*map(one, range(count))) for seat in seats]


@asynccontextmanager
async def database(env: dict[str, str]) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the deployment's database, for counting what it holds."""
    url = env["STUDYHALL_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
    connection = await asyncpg.connect(url)
    try:
        yield connection
    finally:
        await connection.close()


async def scalar(env: dict[str, str], sql: str, *args: Any) -> Any:
    async with database(env) as connection:
        return await connection.fetchval(sql, *args)
