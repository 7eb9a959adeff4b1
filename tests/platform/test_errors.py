"""Bad input of every kind, sent to every route group, gets a clear 4xx problem document."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi as PgDbapi
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.identity import repository as identity_repository
from studyhall.platform.auth import Role
from studyhall.platform.runtime import Platform
from tests.helpers import Person, make_person

JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class JsonRoute:
    method: str
    path: str
    wrong_types: dict[str, Any]
    needs_auth: bool = True

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


JSON_ROUTES = [
    JsonRoute("POST", "/api/v1/auth/register", {"email": 5, "password": [], "name": {}}, False),
    JsonRoute("POST", "/api/v1/auth/token", {"email": None, "password": 12}, False),
    JsonRoute("POST", "/api/v1/me/password", {"currentPassword": 1, "newPassword": True}),
    JsonRoute("POST", "/api/v1/cohorts", {"name": ["not", "a", "name"]}),
    JsonRoute("POST", "/api/v1/banks", {"name": 42}),
]


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"]
    assert body["detail"]


@pytest.fixture
async def teacher(platform: Platform) -> Person:
    return await make_person(platform, Role.TEACHER)


@pytest.mark.parametrize("route", JSON_ROUTES, ids=str)
async def test_malformed_json_is_a_400(
    client: httpx.AsyncClient, teacher: Person, route: JsonRoute
) -> None:
    for body in (b'{"email": ', b"\xff\xfe", b"{'single': 'quotes'}"):
        response = await client.request(
            route.method, route.path, content=body, headers={**JSON, **teacher.headers}
        )
        assert_problem(response, 400, "malformed_body")


@pytest.mark.parametrize("route", JSON_ROUTES, ids=str)
async def test_wrong_types_missing_fields_and_extra_fields_are_a_422(
    client: httpx.AsyncClient, teacher: Person, route: JsonRoute
) -> None:
    for body in (route.wrong_types, {}, [], "text", {**route.wrong_types, "unknown": 1}):
        response = await client.request(
            route.method, route.path, json=body, headers=teacher.headers
        )
        assert_problem(response, 422, "validation_failed")
        assert response.json()["errors"], "each problem names what was wrong"
    empty = await client.request(
        route.method, route.path, content=b"", headers={**JSON, **teacher.headers}
    )
    assert_problem(empty, 422, "validation_failed")
    assert "body is required" in empty.text


@pytest.mark.parametrize("route", JSON_ROUTES, ids=str)
async def test_oversized_bodies_are_a_413(
    client: httpx.AsyncClient, teacher: Person, route: JsonRoute, platform: Platform
) -> None:
    huge = b'{"name": "' + b"x" * (platform.settings.max_body_bytes + 1) + b'"}'
    response = await client.request(
        route.method, route.path, content=huge, headers={**JSON, **teacher.headers}
    )
    assert_problem(response, 413, "body_too_large")


@pytest.mark.parametrize("path", ["/login", "/register", "/account/password"])
async def test_oversized_form_posts_are_refused(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(
        path,
        content=b"email=" + b"x" * 2_000_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 413, "body_too_large")


async def test_unknown_ids_are_a_404(client: httpx.AsyncClient, teacher: Person) -> None:
    missing = uuid.uuid4()
    assert_problem(
        await client.get(f"/api/v1/cohorts/{missing}", headers=teacher.headers), 404, "not_found"
    )
    cohort = await client.post("/api/v1/cohorts", json={"name": "Real"}, headers=teacher.headers)
    cohort_id = cohort.json()["id"]
    assert_problem(
        await client.put(f"/api/v1/cohorts/{cohort_id}/members/{missing}", headers=teacher.headers),
        404,
        "not_found",
    )
    assert_problem(
        await client.delete(
            f"/api/v1/cohorts/{cohort_id}/members/{missing}", headers=teacher.headers
        ),
        404,
        "not_found",
    )
    for path in (f"/api/v1/banks/{missing}", f"/api/v1/questions/{missing}"):
        assert_problem(await client.get(path, headers=teacher.headers), 404, "not_found")
    # An id that is not even a UUID matches no route.
    assert_problem(
        await client.get("/api/v1/cohorts/not-a-uuid", headers=teacher.headers),
        404,
        "route_not_found",
    )


async def test_bad_query_parameters_are_a_422(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    admin = await make_person(platform, Role.ADMIN)
    for query in ("role=wizard", "limit=abc", "limit=0", "offset=-1"):
        response = await client.get(f"/api/v1/users?{query}", headers=admin.headers)
        assert_problem(response, 422, "validation_failed")


async def test_unknown_routes_and_methods(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404, "route_not_found")
    assert_problem(await client.delete("/api/v1/auth/token"), 405, "method_not_allowed")


async def test_every_error_carries_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/me", headers={"X-Request-ID": "trace-123"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "trace-123"
    generated = await client.get("/api/v1/me", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"


ADMIN_SHUTDOWN = "terminating connection due to administrator command"
OUTAGES = {
    "pool_timeout": (
        sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached, timeout 5.00"),
        "service_unavailable",
        1,
    ),
    "sqlite_locked": (
        sa_exc.OperationalError(
            "UPDATE answers", {}, sqlite3.OperationalError("database is locked")
        ),
        "service_unavailable",
        1,
    ),
    "connection_refused": (
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        "service_unavailable",
        5,
    ),
    "postgres_connection_closed": (
        sa_exc.InterfaceError(
            "SELECT users",
            {},
            PgDbapi.InterfaceError(
                "connection is closed", asyncpg.InterfaceError("connection is closed")
            ),
        ),
        "database_unavailable",
        5,
    ),
    "postgres_admin_shutdown": (
        sa_exc.DBAPIError(
            "SELECT users",
            {},
            PgDbapi.Error(ADMIN_SHUTDOWN, asyncpg.AdminShutdownError(ADMIN_SHUTDOWN)),
        ),
        "database_unavailable",
        5,
    ),
    "connection_invalidated": (
        sa_exc.OperationalError(
            "SELECT users",
            {},
            Exception("server closed the connection"),
            connection_invalidated=True,
        ),
        "database_unavailable",
        5,
    ),
}


def fail_reading_users(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """Make GET /api/v1/me meet ``error`` where it reads the database."""

    async def failing_read(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(identity_repository, "user_by_id", failing_read)


@pytest.mark.parametrize("name", OUTAGES)
async def test_an_overloaded_or_lost_database_is_a_503_to_retry(
    client: httpx.AsyncClient,
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    error, code, retry_after = OUTAGES[name]
    student = await make_person(platform)
    fail_reading_users(monkeypatch, error)
    with caplog.at_level(logging.WARNING, logger="studyhall.errors"):
        response = await client.get("/api/v1/me", headers=student.headers)
    assert_problem(response, 503, code)
    assert response.headers["retry-after"] == str(retry_after)
    assert response.json()["retryAfter"] == retry_after
    [record] = [r for r in caplog.records if r.name == "studyhall.errors"]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None, "an outage is one log line, not a traceback per request"


async def test_other_database_errors_stay_a_500(
    client: httpx.AsyncClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    student = await make_person(platform)

    async def query_a_missing_table(session: AsyncSession, *args: Any) -> None:
        await session.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(identity_repository, "user_by_id", query_a_missing_table)
    response = await client.get("/api/v1/me", headers=student.headers)
    assert_problem(response, 500, "internal_error")
    fail_reading_users(
        monkeypatch,
        sa_exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: users")),
    )
    response = await client.get("/api/v1/me", headers=student.headers)
    assert_problem(response, 500, "internal_error")


@pytest.mark.chaos
async def test_a_terminated_postgres_connection_is_a_503(
    client: httpx.AsyncClient, platform: Platform, monkeypatch: pytest.MonkeyPatch, deployment: str
) -> None:
    if deployment != "scaled":
        pytest.skip("only PostgreSQL connections can be terminated from the server side")
    student = await make_person(platform)

    async def lose_the_connection(session: AsyncSession, *args: Any) -> None:
        await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    monkeypatch.setattr(identity_repository, "user_by_id", lose_the_connection)
    response = await client.get("/api/v1/me", headers=student.headers)
    assert_problem(response, 503, "database_unavailable")
    assert response.headers["retry-after"] == "5"
    monkeypatch.undo()
    healed = await client.get("/api/v1/me", headers=student.headers)
    assert healed.status_code == 200, "the pool replaces the lost connection"


@pytest.mark.parametrize(
    "path", ["/api/v1/users", "/api/v1/payments/orders", "/api/v1/courses", "bank questions"]
)
async def test_an_offset_past_what_the_database_holds_is_a_422(
    client: httpx.AsyncClient, platform: Platform, path: str
) -> None:
    """Found by tests/test_fuzz.py: an offset past a 64-bit integer was a 500 (both engines)."""
    admin = await make_person(platform, Role.ADMIN)
    if path == "bank questions":
        bank = await client.post("/api/v1/banks", json={"name": "Deep"}, headers=admin.headers)
        path = f"/api/v1/banks/{bank.json()['id']}/questions"
    too_far = await client.get(f"{path}?offset={2**63}", headers=admin.headers)
    assert_problem(too_far, 422, "validation_failed")
    last = await client.get(f"{path}?offset={2**63 - 1}", headers=admin.headers)
    assert last.status_code == 200, last.text
    assert last.json() == [] or last.json().get("items") == []


async def test_a_nul_character_in_text_is_the_clients_error(
    client: httpx.AsyncClient, platform: Platform, deployment: str
) -> None:
    """Found by tests/test_fuzz.py: PostgreSQL cannot store a NUL and said so with a 500."""
    student = await make_person(platform)
    token = await client.post(
        "/api/v1/auth/token", json={"email": "a\u0000@example.org", "password": "x" * 12}
    )
    back = await client.get("/payments/return?checkout=cs_%00", headers=student.headers)
    if deployment == "scaled":
        assert_problem(token, 422, "validation_failed")
        assert_problem(back, 422, "validation_failed")
    else:  # SQLite stores a NUL: there is simply no such account or checkout
        assert (token.status_code, back.status_code) == (401, 404)
