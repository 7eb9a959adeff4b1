"""Catalog API calls the tests share: make a course, a lesson, a video."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import Person


async def create_course(client: httpx.AsyncClient, owner: Person, **fields: Any) -> dict[str, Any]:
    body = {"title": "Course", **fields}
    created = await client.post("/api/v1/courses", json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    course: dict[str, Any] = created.json()
    return course


async def add_lesson(
    client: httpx.AsyncClient, owner: Person, course_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"title": "Lesson", **fields}
    created = await client.post(
        f"/api/v1/courses/{course_id}/lessons", json=body, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    lesson: dict[str, Any] = created.json()
    return lesson


async def post_video(
    client: httpx.AsyncClient, person: Person, data: bytes, content_type: str = "video/mp4"
) -> httpx.Response:
    """Upload ``data`` as the raw request body, the way the editor's uploader sends it."""
    return await client.post(
        "/api/v1/videos", content=data, headers={**person.headers, "content-type": content_type}
    )


async def create_bank(client: httpx.AsyncClient, owner: Person, name: str = "Bank") -> str:
    created = await client.post("/api/v1/banks", json={"name": name}, headers=owner.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])
