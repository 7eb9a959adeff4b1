"""The save lane in front of the framework, on both deployments: it serves the common
bearer save itself and hands everything else, with the exact bytes it read, to the route,
so a client cannot tell which of the two answered."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from studyhall.exams.save_lane import AnswerSaveLane
from studyhall.platform.auth import Role
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.exams.test_sessions import _by_text, _exam, _save, _start
from tests.helpers import Person, make_person


@pytest.fixture
async def student(platform: Platform) -> Person:
    return await make_person(platform, Role.STUDENT)


class RouteSpy:
    """Stands between the lane and Litestar and records what reaches the route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording() -> Any:
            message = await receive()
            chunks.append(message.get("body", b""))
            return message

        async def finished(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.bodies.append(b"".join(chunks))

        await self.app(scope, recording, finished)


@pytest.fixture
def spy(app: ObservedApp) -> AsyncIterator[RouteSpy]:
    lane = app.app
    assert isinstance(lane, AnswerSaveLane)
    litestar = lane.app
    route_spy = RouteSpy(litestar)
    lane.app = route_spy  # type: ignore[assignment]
    # The lane reads the app's state through ``app``: keep it reachable.
    route_spy.state = litestar.state  # type: ignore[attr-defined]
    yield route_spy
    lane.app = litestar


async def _session(client: httpx.AsyncClient, teacher: Person, student: Person) -> tuple[str, str]:
    session = await _start(client, student, await _exam(client, teacher))
    return session["sessionId"], _by_text(session, "capital of France")["id"]


async def _answers(client: httpx.AsyncClient, student: Person, session_id: str) -> dict[str, Any]:
    view = await client.get(f"/api/v1/sessions/{session_id}", headers=student.headers)
    return {answer["questionId"]: answer["choice"] for answer in view.json()["answers"]}


async def test_a_bearer_save_is_served_by_the_lane_and_durable(
    client: httpx.AsyncClient, teacher: Person, student: Person, spy: RouteSpy
) -> None:
    session_id, question_id = await _session(client, teacher, student)
    spy.bodies.clear()
    saved = await _save(client, student, session_id, question_id, 2)
    assert (saved.status_code, saved.json()) == (200, {"saved": True})
    assert saved.headers["content-type"] == "application/json"
    assert spy.bodies == [], "the route was not needed"
    assert await _answers(client, student, session_id) == {question_id: 2}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"questionId": ', 400, "malformed_body"),
        (b'{"questionId": "not-a-uuid", "choice": 1}', 422, "validation_failed"),
        (b'{"questionId": "%s", "choice": 1, "extra": true}', 422, "validation_failed"),
        (b"", 422, "validation_failed"),
    ],
)
async def test_a_body_the_lane_cannot_read_reaches_the_route_intact(
    client: httpx.AsyncClient,
    teacher: Person,
    student: Person,
    spy: RouteSpy,
    body: bytes,
    status: int,
    code: str,
) -> None:
    session_id, question_id = await _session(client, teacher, student)
    if b"%s" in body:
        body = body.replace(b"%s", question_id.encode())
    spy.bodies.clear()
    refused = await client.put(
        f"/api/v1/sessions/{session_id}/answers",
        content=body,
        headers={**student.headers, "Idempotency-Key": "k1", "Content-Type": "application/json"},
    )
    assert spy.bodies == [body], "the route got exactly the bytes the client sent"
    assert refused.headers["content-type"] == "application/problem+json"
    assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text


async def test_refusals_from_the_lane_are_the_routes_problem_documents(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, student: Person, spy: RouteSpy
) -> None:
    session_id, question_id = await _session(client, teacher, student)
    other = await make_person(platform, Role.STUDENT)
    await client.get("/api/v1/me", headers=other.headers)  # into the auth cache
    spy.bodies.clear()
    foreign = await _save(client, other, session_id, question_id, 1)
    assert (foreign.status_code, foreign.json()["code"]) == (404, "not_found")
    unkeyed = await client.put(
        f"/api/v1/sessions/{session_id}/answers",
        json={"questionId": question_id, "choice": 1},
        headers=student.headers,
    )
    assert (unkeyed.status_code, unkeyed.json()["code"]) == (400, "idempotency_key_required")
    stranger = await _save(client, student, session_id, str(uuid.uuid4()), 1)
    assert (stranger.status_code, stranger.json()["code"]) == (422, "question_not_in_session")
    shape = await _save(client, student, session_id, question_id, {"no": "such shape"})
    assert (shape.status_code, shape.json()["code"]) == (422, "invalid_answer")
    for response in (foreign, unkeyed, stranger, shape):
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == response.status_code
    assert spy.bodies == [], "the lane answered every one of them itself"


async def test_saves_the_lane_does_not_take_still_work_through_the_route(
    client: httpx.AsyncClient, teacher: Person, student: Person, spy: RouteSpy
) -> None:
    session_id, question_id = await _session(client, teacher, student)
    body = b'{"questionId": "%s", "choice": 3}' % question_id.encode()

    async def chunked() -> AsyncIterator[bytes]:
        yield body[:10]
        yield body[10:]

    spy.bodies.clear()
    streamed = await client.put(
        f"/api/v1/sessions/{session_id}/answers",
        content=chunked(),
        headers={**student.headers, "Idempotency-Key": "streamed"},
    )
    assert (streamed.status_code, streamed.json()) == (200, {"saved": True})
    assert spy.bodies == [body], "a body of unknown length goes to the route"
    too_big = await client.put(
        f"/api/v1/sessions/{session_id}/answers",
        content=b'{"questionId": "%s", "choice": "%s"}'
        % (question_id.encode(), b"x" * (300 * 1024)),
        headers={**student.headers, "Idempotency-Key": "big", "Content-Type": "application/json"},
    )
    assert (too_big.status_code, too_big.json()["code"]) == (413, "body_too_large")
    assert await _answers(client, student, session_id) == {question_id: 3}


async def _saves_counted(client: httpx.AsyncClient) -> float:
    """Acknowledged saves in the HTTP metrics (a process-wide counter: compare deltas)."""
    labels = 'method="PUT",route="/api/v1/sessions/{session_id}/answers",status="200"'
    wanted = f"studyhall_http_requests_total{{{labels}}} "
    metrics = (await client.get("/metrics")).text
    return sum(
        float(line[len(wanted) :]) for line in metrics.splitlines() if line.startswith(wanted)
    )


async def test_lane_saves_are_counted_under_the_routes_name(
    client: httpx.AsyncClient, teacher: Person, student: Person, spy: RouteSpy
) -> None:
    session_id, question_id = await _session(client, teacher, student)
    before = await _saves_counted(client)
    spy.bodies.clear()
    for choice in (1, 2):
        assert (await _save(client, student, session_id, question_id, choice)).status_code == 200
    assert spy.bodies == []
    assert await _saves_counted(client) == before + 2
