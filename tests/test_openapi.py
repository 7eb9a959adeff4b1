"""What ``/schema`` declares is what the API sends.

Each test is a case the fuzzer (tests/test_fuzz.py) found, kept as a plain test: a known
request's response must pass the same schemathesis checks the fuzzer runs.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from studyhall.platform.errors import PROBLEM_MEDIA_TYPE, PROBLEM_STATUSES
from tests import test_answer_keys
from tests.helpers import Person
from tests.test_fuzz import BASE_URL, CHECKS, load_schema

# The answer-key test's seeded objects, used here as a fixture too.
world = test_answer_keys.world


async def assert_conforms(
    client: httpx.AsyncClient, method: str, path: str, response: httpx.Response
) -> None:
    """The response's status, media type and body are the ones ``path`` declares."""
    schema = await load_schema(client)
    case = schema[path][method].Case()
    case.validate_response(response, checks=CHECKS, transport_kwargs={"base_url": BASE_URL})


async def test_every_operation_declares_the_problem_responses_it_may_send(
    client: httpx.AsyncClient,
) -> None:
    """Litestar declared only a 400 of its own shape; errors are problem+json of any status."""
    document = (await client.get("/schema/openapi.json")).json()
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status in PROBLEM_STATUSES:
                declared = operation["responses"].get(str(status), {})
                assert declared.get("content") == problem, (method, path, status)
    invalid = await client.post("/api/v1/auth/register", json={"email": "x", "password": "p"})
    assert invalid.status_code == 422
    await assert_conforms(client, "POST", "/api/v1/auth/register", invalid)


async def test_starting_a_running_exam_again_answers_200_as_declared(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    student: Person = world["student"]
    exam_id = world["values"]["exam_id"][0]
    again = await client.post(f"/api/v1/exams/{exam_id}/sessions", headers=student.headers)
    assert again.status_code == 200, again.text
    assert again.json()["sessionId"] == world["values"]["session_id"][0]
    await assert_conforms(client, "POST", "/api/v1/exams/{exam_id}/sessions", again)


async def test_adding_a_cohort_member_answers_201_then_200_as_declared(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    teacher: Person = world["teacher"]
    student: Person = world["student"]
    cohort = await client.post("/api/v1/cohorts", json={"name": "Tides"}, headers=teacher.headers)
    assert cohort.status_code == 201, cohort.text
    path = f"/api/v1/cohorts/{cohort.json()['id']}/members/{student.id}"
    added = await client.put(path, headers=teacher.headers)
    again = await client.put(path, headers=teacher.headers)
    assert (added.status_code, again.status_code) == (201, 200)
    assert (added.json(), again.json()) == ({"added": True}, {"added": False})
    for response in (added, again):
        await assert_conforms(
            client, "PUT", "/api/v1/cohorts/{cohort_id}/members/{user_id}", response
        )


async def test_submitting_an_exam_with_an_essay_answers_202_as_declared(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    student: Person = world["student"]
    session_id = world["values"]["session_id"][0]
    essay = next(question for question in world["questions"] if question["kind"] == "essay")
    saved = await client.put(
        f"/api/v1/sessions/{session_id}/answers",
        json={"questionId": essay["id"], "choice": "The moon pulls the sea."},
        headers={**student.headers, "Idempotency-Key": "essay"},
    )
    assert saved.status_code == 200, saved.text
    submitted = await client.post(
        f"/api/v1/sessions/{session_id}/submit",
        headers={**student.headers, "Idempotency-Key": "openapi"},
    )
    assert submitted.status_code == 202, submitted.text
    await assert_conforms(client, "POST", "/api/v1/sessions/{session_id}/submit", submitted)


async def test_a_game_export_is_csv_with_one_charset(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    """It was ``text/csv; charset=utf-8; charset=utf-8``, declared as JSON."""
    teacher: Person = world["teacher"]
    game_id = world["values"]["game_id"][0]
    export = await client.get(f"/api/v1/games/{game_id}/export.csv", headers=teacher.headers)
    assert export.status_code == 200, export.text
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    await assert_conforms(client, "GET", "/api/v1/games/{game_id}/export.csv", export)


@pytest.mark.parametrize("kind", ["svg", "png"])
async def test_a_game_qr_code_is_an_image_as_declared(
    client: httpx.AsyncClient, world: dict[str, Any], kind: str
) -> None:
    teacher: Person = world["teacher"]
    game_id = world["values"]["game_id"][0]
    qr = await client.get(f"/api/v1/games/{game_id}/qr?format={kind}", headers=teacher.headers)
    assert qr.status_code == 200, qr.text
    assert qr.headers["content-type"].startswith("image/")
    await assert_conforms(client, "GET", "/api/v1/games/{game_id}/qr", qr)


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("gift", "text/plain; charset=utf-8"), ("moodlexml", "application/xml")],
)
async def test_a_bank_export_has_its_own_media_type_as_declared(
    client: httpx.AsyncClient, world: dict[str, Any], fmt: str, media_type: str
) -> None:
    teacher: Person = world["teacher"]
    bank_id = world["values"]["bank_id"][0]
    export = await client.get(
        f"/api/v1/banks/{bank_id}/export?format={fmt}", headers=teacher.headers
    )
    assert export.status_code == 200, export.text
    assert export.headers["content-type"] == media_type
    await assert_conforms(client, "GET", "/api/v1/banks/{bank_id}/export", export)


async def test_a_video_whole_and_in_part_is_sent_as_declared(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    student: Person = world["student"]
    lesson_id = world["lessons"][1]["id"]
    signed = await client.get(f"/api/v1/lessons/{lesson_id}/video-url", headers=student.headers)
    assert signed.status_code == 200, signed.text
    url = signed.json()["url"]
    whole = await client.get(url)
    part = await client.get(url, headers={"Range": "bytes=0-9"})
    beyond = await client.get(url, headers={"Range": "bytes=999999-"})
    assert (whole.status_code, part.status_code, beyond.status_code) == (200, 206, 416)
    for response in (whole, part, beyond):
        await assert_conforms(client, "GET", "/media/videos/{video_id}", response)
