"""Full-text search over the API, on both engines (SQLite FTS5 and PostgreSQL tsvector):
the query language, ranking, pages, who finds what, and safe snippets."""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from studyhall.content import repository
from studyhall.platform.auth import Role
from studyhall.platform.runtime import Platform
from studyhall.questions import service as questions
from tests.content.helpers import add_lesson, create_bank, create_course
from tests.helpers import Person, make_person


async def _search(
    client: httpx.AsyncClient, query: str, person: Person | None = None, **params: Any
) -> list[dict[str, Any]]:
    found = await client.get(
        "/api/v1/search",
        params={"q": query, **params},
        headers=person.headers if person else {},
    )
    assert found.status_code == 200, found.text
    hits: list[dict[str, Any]] = found.json()
    return hits


def _ids(hits: list[dict[str, Any]]) -> list[str]:
    return [hit["id"] for hit in hits]


async def _photosynthesis(client: httpx.AsyncClient, owner: Person) -> dict[str, Any]:
    """A published course with two lessons; returns their ids by name."""
    course = await create_course(
        client,
        owner,
        title="Photosynthesis basics",
        summary="How plants turn sunlight into sugar",
        published=True,
    )
    chlorophyll = await add_lesson(
        client,
        owner,
        course["id"],
        title="Chlorophyll pigments",
        body="Green pigments absorb red and blue light and reflect the rest.",
    )
    calvin = await add_lesson(
        client,
        owner,
        course["id"],
        title="The Calvin cycle",
        body="Carbon fixation builds glucose from carbon dioxide.",
    )
    return {"course": course["id"], "chlorophyll": chlorophyll["id"], "calvin": calvin["id"]}


async def test_courses_and_lessons_are_found_by_title_and_body_words(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    ids = await _photosynthesis(client, teacher)
    for query, kind, expected in (
        ("chlorophyll", "lesson", ids["chlorophyll"]),
        ("CALVIN", "lesson", ids["calvin"]),
        ("glucose", "lesson", ids["calvin"]),
        ("sunlight", "course", ids["course"]),
        ("photosynthesis", "course", ids["course"]),
        ("dioxide carbon", "lesson", ids["calvin"]),
    ):
        for reader in (student, None):
            hits = await _search(client, query, reader)
            assert [(hit["kind"], hit["id"]) for hit in hits] == [(kind, expected)], query
    hit = (await _search(client, "glucose"))[0]
    assert hit["title"] == "The Calvin cycle"
    assert set(hit) == {"kind", "id", "title", "snippet"}
    assert await _search(client, "mitochondria") == []
    assert await _search(client, "  ") == []


async def test_title_matches_rank_above_body_matches(
    client: httpx.AsyncClient, teacher: Person
) -> None:
    in_body = await create_course(
        client,
        teacher,
        title="Cell biology",
        summary="Mitochondria, ribosomes and many other organelles of the living cell",
        published=True,
    )
    in_title = await create_course(
        client, teacher, title="Mitochondria", summary="Energy for the cell", published=True
    )
    hits = await _search(client, "mitochondria")
    assert _ids(hits) == [in_title["id"], in_body["id"]]


async def test_phrases_alternatives_and_exclusions(
    client: httpx.AsyncClient, teacher: Person
) -> None:
    ids = await _photosynthesis(client, teacher)
    assert _ids(await _search(client, '"red and blue"')) == [ids["chlorophyll"]]
    assert await _search(client, '"blue and red"') == []
    assert await _search(client, '"red and blue') == [*(await _search(client, '"red and blue"'))], (
        "an unclosed quote runs to the end"
    )
    assert set(_ids(await _search(client, "glucose or pigments"))) == {
        ids["calvin"],
        ids["chlorophyll"],
    }
    assert set(_ids(await _search(client, "glucose OR nothingatall"))) == {ids["calvin"]}
    assert _ids(await _search(client, "carbon -glucose")) == []
    assert _ids(await _search(client, "light -glucose")) == [ids["chlorophyll"]]
    assert _ids(await _search(client, 'light -"red and blue"')) == []
    assert set(_ids(await _search(client, "glucose or light -green"))) == {ids["calvin"]}
    # Only exclusions would mean "everything else"; both engines find nothing.
    assert await _search(client, "-glucose") == []
    assert set(_ids(await _search(client, "glucose or -pigments"))) == {ids["calvin"]}


async def test_pages_are_disjoint_and_cover_every_hit(
    client: httpx.AsyncClient, teacher: Person
) -> None:
    course = await create_course(client, teacher, title="Seaweed", published=True)
    made = {
        (await add_lesson(client, teacher, course["id"], title=f"Part {n}", body="kelp " * n))["id"]
        for n in range(1, 8)
    }
    pages = [await _search(client, "kelp", limit=3, offset=offset) for offset in (0, 3, 6, 9)]
    assert [len(page) for page in pages] == [3, 3, 1, 0]
    seen = [hit_id for page in pages for hit_id in _ids(page)]
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == made
    assert _ids(await _search(client, "kelp", limit=7)) == seen, "pages follow one order"
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"offset": 10_001}):
        bad = await client.get("/api/v1/search", params={"q": "kelp", **params})
        assert bad.status_code in (400, 422), params
        assert bad.json()["code"] == "validation_failed"


async def test_unpublished_courses_and_lessons_are_found_only_by_their_editors(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, student: Person
) -> None:
    draft = await create_course(client, teacher, title="Zebra stripes draft")
    lesson = await add_lesson(client, teacher, draft["id"], title="Zebra herds", body="savanna")
    other_teacher = await make_person(platform, Role.TEACHER)
    admin = await make_person(platform, Role.ADMIN)
    for reader in (student, other_teacher, None):
        assert await _search(client, "zebra", reader) == []
        assert await _search(client, "savanna", reader) == []
    for editor in (teacher, admin):
        assert set(_ids(await _search(client, "zebra", editor))) == {draft["id"], lesson["id"]}

    await client.put(
        f"/api/v1/courses/{draft['id']}",
        json={"title": "Zebra stripes", "published": True},
        headers=teacher.headers,
    )
    assert set(_ids(await _search(client, "zebra", student))) == {draft["id"], lesson["id"]}
    await client.put(
        f"/api/v1/courses/{draft['id']}", json={"title": "Zebra stripes"}, headers=teacher.headers
    )
    assert await _search(client, "zebra", student) == [], "unpublishing hides it again"
    await client.put(
        f"/api/v1/lessons/{lesson['id']}",
        json={"title": "Giraffes", "body": "savanna"},
        headers=teacher.headers,
    )
    assert _ids(await _search(client, "zebra", teacher)) == [draft["id"]], "edits are indexed"
    assert _ids(await _search(client, "giraffes", teacher)) == [lesson["id"]]
    await client.delete(f"/api/v1/lessons/{lesson['id']}", headers=teacher.headers)
    assert await _search(client, "savanna", teacher) == [], "deleted lessons are gone"


def _question(text: str) -> dict[str, Any]:
    return {
        "kind": "single",
        "text": text,
        "choices": [{"text": "yes", "fraction": 1.0}, {"text": "no", "fraction": 0.0}],
    }


async def _add_question(
    client: httpx.AsyncClient, owner: Person, bank: str, text: str, **fields: Any
) -> dict[str, Any]:
    created = await client.post(
        f"/api/v1/banks/{bank}/questions",
        json={"content": _question(text), **fields},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    question: dict[str, Any] = created.json()
    return question


async def test_questions_are_found_only_by_staff_who_reach_their_bank(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, student: Person
) -> None:
    bank = await create_bank(client, teacher)
    question = await _add_question(
        client, teacher, bank, "Which <b>enzyme</b> fixes carbon in plants?"
    )
    titled = await _add_question(client, teacher, bank, "Name it", title="Enzyme kinetics")
    colleague = await make_person(platform, Role.TEACHER)
    admin = await make_person(platform, Role.ADMIN)
    for reader in (student, colleague, None):
        assert await _search(client, "enzyme", reader) == []
    for reader in (teacher, admin):
        hits = await _search(client, "enzyme", reader)
        assert {(hit["kind"], hit["id"]) for hit in hits} == {
            ("question", question["id"]),
            ("question", titled["id"]),
        }
        by_id = {hit["id"]: hit["title"] for hit in hits}
        assert by_id[titled["id"]] == "Enzyme kinetics"
        assert by_id[question["id"]] == "Which enzyme fixes carbon in plants?", (
            "a question without a title is named by its text, without markup"
        )
    shared = await client.post(
        f"/api/v1/banks/{bank}/shares", json={"userId": str(colleague.id)}, headers=teacher.headers
    )
    assert shared.status_code == 204
    assert len(await _search(client, "enzyme", colleague)) == 2
    assert await _search(client, "enzyme", student) == []


async def test_only_the_current_version_of_a_question_is_found(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    bank = await create_bank(client, teacher)
    question = await _add_question(client, teacher, bank, "Which enzyme fixes carbon?")
    path = f"/api/v1/questions/{question['id']}"
    in_place = await client.put(
        path, json={"content": _question("Which pigment absorbs light?")}, headers=teacher.headers
    )
    assert in_place.json()["version"] == 1
    assert await _search(client, "enzyme", teacher) == []
    assert _ids(await _search(client, "pigment", teacher)) == [question["id"]]

    async with platform.sessions() as session, session.begin():
        found = await questions.repository.question_with_version(session, uuid.UUID(question["id"]))
        assert found is not None
        await questions.mark_seen(session, [found[1].id])
    new_version = await client.put(
        path, json={"content": _question("Which molecule stores energy?")}, headers=teacher.headers
    )
    assert new_version.json()["version"] == 2
    assert await _search(client, "pigment", teacher) == [], "the old version is not found"
    hits = await _search(client, "molecule", teacher)
    assert [(hit["id"], hit["title"]) for hit in hits] == [
        (question["id"], "Which molecule stores energy?")
    ]


async def test_snippets_mark_matches_and_escape_the_text(
    client: httpx.AsyncClient, teacher: Person
) -> None:
    course = await create_course(client, teacher, title="Writing", published=True)
    await add_lesson(
        client,
        teacher,
        course["id"],
        title="Emphasis",
        body='Wrap words in <b>bold</b> tags & "quotes" to stress a kelp point.',
    )
    hit = (await _search(client, "kelp"))[0]
    snippet = hit["snippet"]
    assert "<mark>kelp</mark>" in snippet
    assert "&lt;b&gt;bold&lt;/b&gt;" in snippet
    assert "&amp;" in snippet
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0
    title_only = (await _search(client, "emphasis"))[0]
    assert "<mark>" not in title_only["snippet"]
    assert title_only["title"] == "Emphasis"


ODD_QUERIES = [
    '"',
    '""',
    '"unclosed kelp',
    "*",
    "kelp*",
    "NEAR(kelp",
    "NEAR(kelp seaweed, 2)",
    "kelp NOT seaweed",
    "AND",
    "-",
    "--",
    "- kelp",
    "-kelp",
    "or",
    "OR OR",
    "kelp or",
    "title:kelp",
    "^kelp",
    "(kelp",
    "kelp)",
    "{title body}: kelp",
    "'",
    "\\",
    ":",
    "&|!<->",
    "kelp:*",
    "_",
    "kelp _",
    "\U0001f600",
    "日本語",
    "crème brûlée",
    "e\u0301",
    "\u202ekelp",
    "\x00",
    "kelp\x00",
    "\x02kelp\x03",
    "k" * 500,
    "kelp " * 100,
    '"' * 500,
]


async def test_odd_queries_never_fail(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    course = await create_course(client, teacher, title="Kelp", published=True)
    await add_lesson(client, teacher, course["id"], title="Kelp forests", body="seaweed")
    for query in ODD_QUERIES:
        for reader in (teacher, student):
            response = await client.get(
                "/api/v1/search", params={"q": query}, headers=reader.headers
            )
            assert response.status_code == 200, (query, response.text)
            assert isinstance(response.json(), list)
    assert _ids(await _search(client, "kelp _")) != []
    assert _ids(await _search(client, "kelp\x00")) != []
    for too_long_or_empty in ("k" * 501, ""):
        refused = await client.get("/api/v1/search", params={"q": too_long_or_empty})
        assert refused.status_code in (400, 422)
        assert refused.json()["code"] == "validation_failed"
    assert (await client.get("/api/v1/search")).status_code in (400, 422)


async def test_rebuilding_the_search_documents_keeps_every_hit(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    ids = await _photosynthesis(client, teacher)
    bank = await create_bank(client, teacher)
    question = await _add_question(client, teacher, bank, "Is glucose a sugar?")
    before = await _search(client, "glucose", teacher)
    async with platform.sessions() as session, session.begin():
        await repository.rebuild_search_documents(session)
    after = await _search(client, "glucose", teacher)
    assert after == before
    assert set(_ids(after)) == {ids["calvin"], question["id"]}


def test_the_sqlite_question_triggers_exist(sqlite_template: Path) -> None:
    """A batch migration of question_versions would drop them silently (see migration 0003)."""
    with sqlite3.connect(sqlite_template) as connection:
        triggers = {
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                ("question_versions",),
            )
        }
    assert triggers == {
        "question_versions_search_insert",
        "question_versions_search_update",
        "question_versions_search_delete",
    }


@pytest.mark.parametrize("stray", ["\x02", "\x03", "\x03\x02"])
async def test_stray_marks_in_question_text_give_balanced_snippets(
    client: httpx.AsyncClient, teacher: Person, stray: str
) -> None:
    """Question text comes from imports too; a control character in it cannot break markup."""
    bank = await create_bank(client, teacher)
    await _add_question(client, teacher, bank, f"Odd {stray} text about kelp {stray} here")
    snippet = (await _search(client, "kelp", teacher))[0]["snippet"]
    marks = re.findall(r"</?mark>", snippet)
    assert marks == ["<mark>", "</mark>"] * (len(marks) // 2), snippet
    assert "kelp" in snippet
    assert "\x02" not in snippet
    assert "\x03" not in snippet
