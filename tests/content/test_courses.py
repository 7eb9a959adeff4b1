"""Courses and lessons over the API, on both deployments: who sees, who edits, what comes back."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser

import httpx
import pytest

from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.runtime import Platform
from tests.content.helpers import add_lesson, create_bank, create_course, post_video
from tests.helpers import Person, make_person


async def test_teacher_creates_edits_and_publishes_a_course(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    teacher: Person,
    student: Person,
) -> None:
    course = await create_course(
        client, teacher, title="  Algebra  ", summary="Groups and rings", coverUrl="/c.png"
    )
    assert course["title"] == "Algebra", "titles are trimmed"
    assert course["ownerId"] == str(teacher.id)
    assert (course["published"], course["lessons"], course["coverUrl"]) == (False, [], "/c.png")
    path = f"/api/v1/courses/{course['id']}"

    admin = await make_person(platform, Role.ADMIN)
    other_teacher = await make_person(platform, Role.TEACHER)
    assert (await client.get(path, headers=teacher.headers)).status_code == 200
    assert (await client.get(path, headers=admin.headers)).status_code == 200
    for reader in (student.headers, other_teacher.headers, {}):
        hidden = await client.get(path, headers=reader)
        assert hidden.status_code == 404
        assert hidden.json()["code"] == "not_found"

    clock.advance(60)
    edited = await client.put(
        path,
        json={"title": "Algebra I", "summary": "Groups", "published": True},
        headers=teacher.headers,
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["title"], body["summary"], body["coverUrl"], body["published"]) == (
        "Algebra I",
        "Groups",
        None,
        True,
    ), "PUT replaces every field"
    assert body["updatedAt"] > body["createdAt"]
    for reader in (student.headers, other_teacher.headers, {}):
        shown = await client.get(path, headers=reader)
        assert shown.status_code == 200
        assert shown.json()["title"] == "Algebra I"

    unpublished = await client.put(path, json={"title": "Algebra I"}, headers=admin.headers)
    assert unpublished.status_code == 200, "an admin edits any course"
    assert (await client.get(path, headers=student.headers)).status_code == 404


async def test_only_staff_create_and_only_editors_edit(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, student: Person
) -> None:
    refused = await client.post("/api/v1/courses", json={"title": "X"}, headers=student.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    anonymous = await client.post("/api/v1/courses", json={"title": "X"})
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"

    course = await create_course(client, teacher, published=True)
    path = f"/api/v1/courses/{course['id']}"
    other_teacher = await make_person(platform, Role.TEACHER)
    not_theirs = await client.put(path, json={"title": "Mine now"}, headers=other_teacher.headers)
    assert not_theirs.status_code == 404, "someone else's course is reported as missing"
    assert (await client.put(path, json={"title": "Y"}, headers=student.headers)).status_code == 403
    missing = await client.put(
        f"/api/v1/courses/{uuid.uuid4()}", json={"title": "Y"}, headers=teacher.headers
    )
    assert missing.status_code == 404
    assert (await client.get(path)).json()["title"] == "Course"


async def test_cover_url_must_be_a_web_address_or_a_site_path(
    client: httpx.AsyncClient, teacher: Person
) -> None:
    for url in (
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "//evil.example/cover.png",
        "/\\evil.example/cover.png",
        "/\t/evil.example/cover.png",
        "https://cdn.example/a b.png",
        "ftp://files.example/cover.png",
    ):
        refused = await client.post(
            "/api/v1/courses", json={"title": "T", "coverUrl": url}, headers=teacher.headers
        )
        assert refused.status_code == 422, url
        assert refused.json()["code"] == "invalid_cover_url", url
    for url, stored in (
        ("https://cdn.example/cover.png", "https://cdn.example/cover.png"),
        ("HTTP://cdn.example/cover.png", "HTTP://cdn.example/cover.png"),
        ("/static/cover.png", "/static/cover.png"),
        ("   ", None),
    ):
        course = await create_course(client, teacher, coverUrl=url)
        assert course["coverUrl"] == stored


async def test_bad_course_bodies_are_422(client: httpx.AsyncClient, teacher: Person) -> None:
    for body in (
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": "Null\u0000byte"},
        {"title": "T", "summary": "bell\u0007"},
        {"title": "T", "coverUrl": ""},
        {"title": "T", "unknown": 1},
        {"summary": "no title"},
    ):
        refused = await client.post("/api/v1/courses", json=body, headers=teacher.headers)
        assert refused.status_code == 422, body
        assert refused.json()["code"] == "validation_failed", body
    not_json = await client.post(
        "/api/v1/courses",
        content=b"{title",
        headers={**teacher.headers, "content-type": "application/json"},
    )
    assert not_json.status_code == 400
    assert not_json.json()["code"] == "malformed_body"


async def test_listing_mine_pages_and_lesson_counts(
    client: httpx.AsyncClient,
    platform: Platform,
    clock: FakeClock,
    teacher: Person,
    student: Person,
) -> None:
    other_teacher = await make_person(platform, Role.TEACHER)
    made = []
    for index, (owner, published) in enumerate(
        [(teacher, True), (teacher, False), (other_teacher, True), (teacher, True)]
    ):
        clock.advance(1)
        made.append(await create_course(client, owner, title=f"C{index}", published=published))
    for count in range(3):
        await add_lesson(client, teacher, made[0]["id"], title=f"L{count}")
    await add_lesson(client, teacher, made[1]["id"])

    def titles(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return [course["title"] for course in response.json()]

    everyone = await client.get("/api/v1/courses")
    assert titles(everyone) == ["C3", "C2", "C0"], "published only, newest first"
    counts = {course["title"]: course["lessonCount"] for course in everyone.json()}
    assert counts == {"C3": 0, "C2": 0, "C0": 3}
    assert titles(await client.get("/api/v1/courses", headers=student.headers)) == [
        "C3",
        "C2",
        "C0",
    ]
    own = await client.get("/api/v1/courses", headers=teacher.headers)
    assert titles(own) == ["C3", "C2", "C1", "C0"], "published ones plus your own drafts"
    mine = await client.get("/api/v1/courses?mine=true", headers=teacher.headers)
    assert titles(mine) == ["C3", "C1", "C0"]
    assert {c["title"]: c["lessonCount"] for c in mine.json()}["C1"] == 1
    assert titles(await client.get("/api/v1/courses?mine=true", headers=student.headers)) == []
    assert (await client.get("/api/v1/courses?mine=true")).status_code == 401

    pages = [
        titles(
            await client.get(f"/api/v1/courses?limit=2&offset={offset}", headers=teacher.headers)
        )
        for offset in (0, 2, 4)
    ]
    assert pages == [["C3", "C2"], ["C1", "C0"], []]
    for query in ("limit=0", "limit=201", "offset=-1", "limit=x", "mine=maybe"):
        bad = await client.get(f"/api/v1/courses?{query}")
        assert bad.status_code in (400, 422), query
        assert bad.json()["code"] == "validation_failed", query


async def test_lessons_are_added_in_order_reordered_edited_and_deleted(
    client: httpx.AsyncClient, clock: FakeClock, teacher: Person
) -> None:
    course = await create_course(client, teacher)
    lessons = [await add_lesson(client, teacher, course["id"], title=f"L{i}") for i in range(4)]
    assert [lesson["position"] for lesson in lessons] == [1, 2, 3, 4]
    order_path = f"/api/v1/courses/{course['id']}/lessons/order"
    wanted = [lessons[i]["id"] for i in (2, 0, 3, 1)]
    reordered = await client.post(order_path, json={"lessonIds": wanted}, headers=teacher.headers)
    assert reordered.status_code == 200, reordered.text
    assert [(s["id"], s["position"]) for s in reordered.json()] == list(
        zip(wanted, [1, 2, 3, 4], strict=True)
    )
    detail = (await client.get(f"/api/v1/courses/{course['id']}", headers=teacher.headers)).json()
    assert [summary["title"] for summary in detail["lessons"]] == ["L2", "L0", "L3", "L1"]
    shown = await client.get(f"/api/v1/lessons/{lessons[2]['id']}", headers=teacher.headers)
    assert shown.json()["position"] == 1

    other_course = await create_course(client, teacher)
    foreign = await add_lesson(client, teacher, other_course["id"])
    for bad_order in (
        wanted[:3],
        [*wanted, wanted[0]],
        [wanted[0], wanted[0], wanted[1], wanted[2]],
        [*wanted[:3], foreign["id"]],
        [*wanted, str(uuid.uuid4())],
        [],
    ):
        refused = await client.post(
            order_path, json={"lessonIds": bad_order}, headers=teacher.headers
        )
        assert refused.status_code == 422, bad_order
        assert refused.json()["code"] == "invalid_lesson_order", bad_order
    detail = (await client.get(f"/api/v1/courses/{course['id']}", headers=teacher.headers)).json()
    assert [summary["title"] for summary in detail["lessons"]] == ["L2", "L0", "L3", "L1"]

    clock.advance(5)
    lesson_path = f"/api/v1/lessons/{lessons[0]['id']}"
    updated = await client.put(
        lesson_path, json={"title": " Renamed ", "body": "New *text*"}, headers=teacher.headers
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert (body["title"], body["body"], body["position"]) == ("Renamed", "New *text*", 2)
    assert "<em>text</em>" in body["html"]
    assert body["updatedAt"] > body["createdAt"]
    blank = await client.put(lesson_path, json={"title": " "}, headers=teacher.headers)
    assert blank.status_code == 422

    assert (await client.delete(lesson_path, headers=teacher.headers)).status_code == 204
    assert (await client.get(lesson_path, headers=teacher.headers)).status_code == 404
    assert (await client.delete(lesson_path, headers=teacher.headers)).status_code == 404
    detail = (await client.get(f"/api/v1/courses/{course['id']}", headers=teacher.headers)).json()
    assert [summary["title"] for summary in detail["lessons"]] == ["L2", "L3", "L1"]
    mine = (await client.get("/api/v1/courses?mine=true", headers=teacher.headers)).json()
    assert {c["id"]: c["lessonCount"] for c in mine}[course["id"]] == 3
    again = await add_lesson(client, teacher, course["id"], title="L4")
    assert again["position"] == 5, "a new lesson goes after the last one"


def _tags(html: str) -> set[tuple[str, tuple[str, ...]]]:
    """Every element of ``html`` with its attribute names: what a browser would act on."""
    found: set[tuple[str, tuple[str, ...]]] = set()

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.add((tag, tuple(name for name, _ in attrs)))

    Collector().feed(html)
    return found


async def test_lesson_html_is_sanitised_and_the_markdown_is_for_editors_only(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, student: Person
) -> None:
    course = await create_course(client, teacher, published=True)
    markdown = (
        "# Heading\n\n**bold** <script>alert(1)</script>\n\n"
        '[link](javascript:alert(2)) <img src=x onerror="alert(3)">\n\n'
        "<iframe src='https://evil.example'></iframe>"
    )
    lesson = await add_lesson(client, teacher, course["id"], body=markdown)
    path = f"/api/v1/lessons/{lesson['id']}"
    admin = await make_person(platform, Role.ADMIN)
    other_teacher = await make_person(platform, Role.TEACHER)
    for reader, sees_markdown in (
        (teacher, True),
        (admin, True),
        (student, False),
        (other_teacher, False),
    ):
        shown = await client.get(path, headers=reader.headers)
        assert shown.status_code == 200
        body = shown.json()
        assert body["body"] == (markdown if sees_markdown else None)
        html = body["html"]
        assert "<h1>Heading</h1>" in html
        assert "<strong>bold</strong>" in html
        assert _tags(html) == {("h1", ()), ("strong", ()), ("p", ())}, html
    assert lesson["body"] == markdown, "the editor gets the Markdown back"


async def test_lessons_need_an_account_and_a_readable_course(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, student: Person
) -> None:
    draft = await create_course(client, teacher)
    hidden = await add_lesson(client, teacher, draft["id"])
    public = await create_course(client, teacher, published=True)
    shown = await add_lesson(client, teacher, public["id"])

    anonymous = await client.get(f"/api/v1/lessons/{shown['id']}")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert (
        await client.get(f"/api/v1/lessons/{shown['id']}", headers=student.headers)
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/lessons/{hidden['id']}", headers=student.headers)
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/lessons/{uuid.uuid4()}", headers=student.headers)
    ).status_code == 404

    other_teacher = await make_person(platform, Role.TEACHER)
    for lesson in (shown, hidden):
        path = f"/api/v1/lessons/{lesson['id']}"
        edit = await client.put(path, json={"title": "X"}, headers=other_teacher.headers)
        assert edit.status_code == 404
        assert (await client.delete(path, headers=other_teacher.headers)).status_code == 404
        assert (
            await client.put(path, json={"title": "X"}, headers=student.headers)
        ).status_code == (403)
        assert (await client.delete(path, headers=student.headers)).status_code == 403
    for course in (public, draft):
        lessons = f"/api/v1/courses/{course['id']}/lessons"
        added = await client.post(lessons, json={"title": "X"}, headers=other_teacher.headers)
        assert added.status_code == 404
        reorder = await client.post(
            f"{lessons}/order", json={"lessonIds": []}, headers=other_teacher.headers
        )
        assert reorder.status_code == 404
    assert (
        await client.post(
            f"/api/v1/courses/{uuid.uuid4()}/lessons", json={"title": "X"}, headers=teacher.headers
        )
    ).status_code == 404


async def test_a_lesson_only_shows_videos_and_banks_its_editor_may_use(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    other_teacher = await make_person(platform, Role.TEACHER)
    course = await create_course(client, teacher)
    lessons = f"/api/v1/courses/{course['id']}/lessons"
    theirs = (await post_video(client, other_teacher, b"their video")).json()["id"]
    their_bank = await create_bank(client, other_teacher)
    for field, value in (
        ("videoId", theirs),
        ("videoId", str(uuid.uuid4())),
        ("bankId", their_bank),
        ("bankId", str(uuid.uuid4())),
    ):
        refused = await client.post(
            lessons, json={"title": "L", field: value}, headers=teacher.headers
        )
        assert refused.status_code == 404, (field, value)

    mine = (await post_video(client, teacher, b"my video")).json()["id"]
    my_bank = await create_bank(client, teacher)
    lesson = await add_lesson(client, teacher, course["id"], videoId=mine, bankId=my_bank)
    assert (lesson["videoId"], lesson["bankId"]) == (mine, my_bank)
    stolen = await client.put(
        f"/api/v1/lessons/{lesson['id']}",
        json={"title": "L", "videoId": theirs, "bankId": my_bank},
        headers=teacher.headers,
    )
    assert stolen.status_code == 404

    shared = await client.post(
        f"/api/v1/banks/{their_bank}/shares",
        json={"userId": str(teacher.id)},
        headers=other_teacher.headers,
    )
    assert shared.status_code == 204
    uses_shared = await client.put(
        f"/api/v1/lessons/{lesson['id']}",
        json={"title": "L", "bankId": their_bank},
        headers=teacher.headers,
    )
    assert uses_shared.status_code == 200, uses_shared.text
    assert (uses_shared.json()["videoId"], uses_shared.json()["bankId"]) == (None, their_bank)

    detail = (await client.get(f"/api/v1/courses/{course['id']}", headers=teacher.headers)).json()
    assert detail["lessons"][0]["hasVideo"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"title": "L", "body": "x" * 200_001},
        {"title": "L", "body": "null \u0000 byte"},
        {"title": "L", "videoId": "not-a-uuid"},
        {"title": "L", "position": 3},
        {"title": 5},
    ],
)
async def test_bad_lesson_bodies_are_422(
    client: httpx.AsyncClient, teacher: Person, body: dict[str, object]
) -> None:
    course = await create_course(client, teacher)
    refused = await client.post(
        f"/api/v1/courses/{course['id']}/lessons", json=body, headers=teacher.headers
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_failed"
