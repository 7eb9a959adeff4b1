"""Bad input of every kind, sent to every route group, gets a clear 4xx problem document."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

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
