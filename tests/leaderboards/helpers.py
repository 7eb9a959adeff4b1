"""Making exams and results for leaderboard tests, and reading an event stream from the app."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.helpers import Person

# Four one-point questions: a student's score is how many they answer "Right".
GIFT = """
::One:: First question {=Right ~Wrong}

::Two:: Second question {=Right ~Wrong}

::Three:: Third question {=Right ~Wrong}

::Four:: Fourth question {=Right ~Wrong}

::Essay:: Explain the tides. {}
"""
OBJECTIVE = ("One", "Two", "Three", "Four")
STREAM_WAIT_SECONDS = 10.0  # a safety net against a hung test, never a measure of speed


async def questions(client: httpx.AsyncClient, teacher: Person) -> dict[str, str]:
    """The test bank's question ids by title."""
    bank = await client.post("/api/v1/banks", json={"name": "Board bank"}, headers=teacher.headers)
    bank_id = bank.json()["id"]
    report = await client.post(
        f"/api/v1/banks/{bank_id}/import?format=gift",
        content=GIFT.encode(),
        headers={**teacher.headers, "content-type": "text/plain"},
    )
    assert report.json()["imported"] == 5, report.text
    listed = await client.get(f"/api/v1/banks/{bank_id}/questions", headers=teacher.headers)
    return {question["title"]: question["id"] for question in listed.json()}


async def make_exam(
    client: httpx.AsyncClient,
    teacher: Person,
    titles: tuple[str, ...] = OBJECTIVE,
    **rules: Any,
) -> str:
    ids = await questions(client, teacher)
    body = {
        "title": rules.pop("title", "Board exam"),
        "durationSeconds": 600,
        "questionIds": [ids[title] for title in titles],
        "attemptsAllowed": 5,
        **rules,
    }
    created = await client.post("/api/v1/exams", json=body, headers=teacher.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def take(
    client: httpx.AsyncClient, student: Person, exam_id: str, right: int, essay: str = ""
) -> dict[str, Any]:
    """Start an attempt, answer ``right`` questions correctly and the rest wrongly, submit."""
    started = await client.post(f"/api/v1/exams/{exam_id}/sessions", headers=student.headers)
    assert started.status_code == 201, started.text
    session = started.json()
    objective = [q for q in session["questions"] if q["kind"] != "essay"]
    for index, question in enumerate(objective):
        wanted = "Right" if index < right else "Wrong"
        choice = next(c["id"] for c in question["choices"] if wanted in c["html"])
        await _save(client, student, session["sessionId"], question["id"], choice)
    for question in session["questions"]:
        if question["kind"] == "essay" and essay:
            await _save(client, student, session["sessionId"], question["id"], essay)
    submitted = await client.post(
        f"/api/v1/sessions/{session['sessionId']}/submit",
        headers={**student.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert submitted.status_code in (200, 202), submitted.text
    body: dict[str, Any] = submitted.json()
    return body


async def _save(
    client: httpx.AsyncClient, student: Person, session_id: str, question_id: str, choice: Any
) -> None:
    saved = await client.put(
        f"/api/v1/sessions/{session_id}/answers",
        json={"questionId": question_id, "choice": choice},
        headers={**student.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert saved.status_code == 200, saved.text


async def board(
    client: httpx.AsyncClient, person: Person, exam_id: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        f"/api/v1/exams/{exam_id}/leaderboard", params=params, headers=person.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def names(entries: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(entry["rank"], entry["displayName"]) for entry in entries]


async def make_cohort(
    client: httpx.AsyncClient, teacher: Person, name: str, *members: Person
) -> str:
    created = await client.post("/api/v1/cohorts", json={"name": name}, headers=teacher.headers)
    assert created.status_code == 201, created.text
    cohort_id = str(created.json()["id"])
    for member in members:
        added = await client.put(
            f"/api/v1/cohorts/{cohort_id}/members/{member.id}", headers=teacher.headers
        )
        assert added.status_code in (200, 201), added.text
    return cohort_id


class EventStream:
    """A server-sent event stream read straight from the ASGI app, as a browser would
    (httpx's ASGI transport only returns a response once its body has ended)."""

    def __init__(self, app: Any, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self._scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"accept", b"text/event-stream"),
                *((key.lower().encode(), value.encode()) for key, value in headers.items()),
            ],
            "client": ("127.0.0.1", 50002),
            "server": ("127.0.0.1", 80),
        }
        self._app = app
        self._requested = False
        self._gone = asyncio.Event()
        self._started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._buffer = b""
        self.body = b""
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EventStream:
        self._task = asyncio.create_task(self._app(self._scope, self._receive, self._send))
        self.status = await asyncio.wait_for(self._started, STREAM_WAIT_SECONDS)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._gone.set()
        assert self._task is not None
        await asyncio.wait_for(self._task, STREAM_WAIT_SECONDS)

    async def _receive(self) -> dict[str, Any]:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self._started.set_result(message["status"])
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            self._buffer += message.get("body", b"")
            while b"\r\n\r\n" in self._buffer:
                block, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
                self._parse(block.decode())

    def _parse(self, block: str) -> None:
        kind, data = "message", []
        for line in block.split("\r\n"):
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data.append(line.removeprefix("data: "))
        if data:
            self._events.put_nowait((kind, "\n".join(data)))

    async def next(self) -> dict[str, Any]:
        """The next ``leaderboard`` event's board."""
        while True:
            kind, data = await asyncio.wait_for(self._events.get(), STREAM_WAIT_SECONDS)
            if kind == "leaderboard":
                parsed: dict[str, Any] = json.loads(data)
                return parsed

    async def next_where(self, check: Any) -> dict[str, Any]:
        """The first board to come that passes ``check`` (earlier ones are skipped)."""
        while not check(found := await self.next()):
            pass
        return found
