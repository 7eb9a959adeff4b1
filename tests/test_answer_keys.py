"""Answer keys never leave the server in what a student can fetch.

The test builds a world a student can see into (a published course whose lessons carry
a question bank and a video, and an exam of every item type the student has started),
then walks every GET route the app has, as that student, with a session cookie and with
a bearer token, plus every same-origin link the pages show. No response may carry a
marker planted in the answer key (per-option feedback, general feedback, accepted
answers, numeric values and tolerances) or a field that holds one. A new route with a
path parameter this test cannot fill fails it, so every student-facing endpoint added
later is walked too.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from litestar import Litestar

from studyhall.app import litestar_of
from studyhall.platform.auth import Role
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.helpers import Person, browser_tab, make_person, sign_in

# Every answer-key part of these questions carries a word no student payload may hold.
SENTINEL_GIFT = """
::Planet:: Which planet is red? {=Mars#keyfeedbackone ~Venus#keyfeedbacktwo ####keygeneralone}

::Metals:: Which are metals? {~%50%Iron#keyfeedbackthree ~%50%Nickel ~%-100%Wood####keygeneraltwo}

::Sky:: The sky is green. {FALSE#keyfeedbackfour#keyfeedbackfive}

::Animal:: Name the striped horse. {=keyacceptedzebra =keyacceptedokapi}

::Constant:: Give the constant. {#4242.4242:0.0707}

::Band:: Pick a number in the band. {#8675.309..8676.309}

::Graded:: Give the graded value. {#=%100%1357.2468:0.5 =%50%1357:2}

::Pairs:: Match them. {=Canada -> Ottawa =Italy -> Rome =Japan -> Tokyo ####keygeneralthree}

::Essay:: Explain the tides. {####keygeneralfour}

::Intro:: A description with nothing to answer.
"""
SENTINELS = (
    "keyfeedback",
    "keygeneral",
    "keyaccepted",
    "4242.4242",
    "0.0707",
    "8675.309",
    "8676.309",
    "1357.2468",
)
# Fields that hold an answer key wherever they appear in JSON.
ANSWER_KEY_FIELDS = frozenset(
    {
        "correct",
        "isCorrect",
        "fraction",
        "weight",
        "tolerance",
        "feedback",
        "generalFeedback",
        "feedbackTrue",
        "feedbackFalse",
        "shortAnswers",
        "numericAnswers",
        "acceptedAnswers",
        "pairs",
        "caseSensitive",
        "scoreFloor",
    }
)
ANSWER_KEY_ATTRIBUTES = re.compile(r"data-(correct|fraction|weight|tolerance|answer)\b", re.I)
# Routes with nothing of a student's: the API's own description (which names teacher
# fields on purpose), operators' metrics and the stylesheets and scripts.
NOT_STUDENT_DATA = ("/schema", "/metrics", "/static/")
# Event streams never end, so the walk cannot read them; each sends what the GET route it
# follows answers (``.../leaderboard/events`` sends ``.../leaderboard``), which is walked.
EVENT_STREAM = "/events"
MAX_PAGES = 300


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (tag, name) in {("a", "href"), ("video", "src"), ("source", "src")}:
                self.hrefs.append(value)


def leaks(body: str, content_type: str) -> list[str]:
    """What in a response gives an answer key away (empty when nothing does)."""
    found = [marker for marker in SENTINELS if marker in body.lower()]
    if "json" in content_type:
        found += sorted(_json_keys(json.loads(body)) & ANSWER_KEY_FIELDS)
    elif "html" in content_type:
        found += ANSWER_KEY_ATTRIBUTES.findall(body)
    return found


def _json_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in _json_keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in _json_keys(item)}
    return set()


def get_routes(app: ObservedApp) -> Iterator[tuple[str, dict[str, str]]]:
    """Each GET route's path template and its path parameters (name → type name)."""
    litestar = litestar_of(app)
    assert isinstance(litestar, Litestar)
    for route in litestar.routes:
        if (
            "GET" in getattr(route, "methods", ())
            and not route.path.startswith(NOT_STUDENT_DATA)
            and not route.path.endswith(EVENT_STREAM)
        ):
            yield (
                route.path,
                {
                    name: definition.type.__name__
                    for name, definition in route.path_parameters.items()
                },
            )


def fill(path: str, parameters: dict[str, str], values: dict[str, list[str]]) -> list[str]:
    """The path with every combination of the known values of its parameters."""
    paths = [path]
    for name in parameters:
        assert name in values, (
            f"{path}: teach this test a value for {{{name}}} so the route is walked"
        )
        pattern = re.compile(r"\{" + name + r"(:[^}]*)?\}")
        paths = [pattern.sub(value, filled) for filled in paths for value in values[name]]
    return paths


@pytest.fixture
async def world(client: httpx.AsyncClient, platform: Platform) -> dict[str, Any]:
    """A teacher's bank with every item type, in a published course a student may read."""
    teacher = await make_person(platform, Role.TEACHER)
    student = await make_person(platform, Role.STUDENT)

    async def call(method: str, path: str, content_type: str = "", **kwargs: Any) -> Any:
        headers = {**teacher.headers, **({"content-type": content_type} if content_type else {})}
        response = await client.request(method, path, headers=headers, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()

    bank = await call("POST", "/api/v1/banks", json={"name": "Sentinels"})
    report = await call(
        "POST",
        f"/api/v1/banks/{bank['id']}/import?format=gift",
        content=SENTINEL_GIFT.encode(),
        content_type="text/plain",
    )
    assert report["imported"] == 10, report
    questions = await call("GET", f"/api/v1/banks/{bank['id']}/questions")
    video = await call(
        "POST",
        "/api/v1/videos",
        content=b"\x1a\x45\xdf\xa3" + bytes(4000),
        content_type="video/webm",
    )
    course = await call(
        "POST", "/api/v1/courses", json={"title": "Tides and planets", "published": True}
    )
    lessons = [
        await call(
            "POST",
            f"/api/v1/courses/{course['id']}/lessons",
            json={"title": "Practice", "body": "Try the questions.", "bankId": bank["id"]},
        ),
        await call(
            "POST",
            f"/api/v1/courses/{course['id']}/lessons",
            json={"title": "Watch", "body": "A lecture.", "videoId": video["id"]},
        ),
    ]
    exam = await call(
        "POST",
        "/api/v1/exams",
        json={
            "title": "Sentinel mock",
            "durationSeconds": 600,
            "questionIds": [question["id"] for question in questions],
        },
    )
    started = await client.post(f"/api/v1/exams/{exam['id']}/sessions", headers=student.headers)
    assert started.status_code == 201, started.text
    quiz = await call(
        "POST",
        "/api/v1/quizzes",
        json={
            "title": "Sentinel live quiz",
            "questions": [
                {"type": "text", "text": "Striped horse?", "acceptedAnswers": ["keyacceptedzebra"]},
                {
                    "type": "numeric",
                    "text": "Constant?",
                    "correctValue": 4242.4242,
                    "tolerance": 0.0707,
                },
            ],
        },
    )
    live_game = await call("POST", f"/api/v1/quizzes/{quiz['id']}/games")
    joined = await client.post(
        f"/api/v1/quizzes/{live_game['joinCode']}/join",
        json={"participantName": "Student"},
        headers=student.headers,
    )
    assert joined.status_code == 200, joined.text
    # Payments: a pass (it gates nothing on its own), the student's open order, a grant.
    admin = await make_person(platform, Role.ADMIN)
    pass_product = await client.post(
        "/api/v1/products",
        json={
            "kind": "pass",
            "title": "All",
            "priceMinor": 900,
            "currency": "usd",
            "durationDays": 7,
        },
        headers=admin.headers,
    )
    bought = await client.post(
        "/api/v1/payments/checkout",
        json={"productId": pass_product.json()["id"]},
        headers={**student.headers, "Idempotency-Key": "world"},
    )
    order_id = (
        await client.get(
            f"/api/v1/payments/checkouts/{bought.json()['checkoutId']}", headers=student.headers
        )
    ).json()["orderId"]
    granted = await client.post(
        "/api/v1/entitlements",
        json={"userId": str(student.id), "productId": pass_product.json()["id"], "note": "world"},
        headers=admin.headers,
    )
    return {
        "teacher": teacher,
        "student": student,
        "values": {
            "bank_id": [bank["id"]],
            "question_id": [question["id"] for question in questions],
            "course_id": [course["id"]],
            "lesson_id": [lesson["id"] for lesson in lessons],
            "video_id": [video["id"]],
            "exam_id": [exam["id"]],
            "session_id": [started.json()["sessionId"]],
            "file_id": [str(uuid.uuid4())],  # a question image needs a signed link
            "image_id": [str(uuid.uuid4())],  # and so does a quiz image
            "cohort_id": [str(uuid.uuid4())],
            "user_id": [str(student.id)],
            "file_path": ["app.css"],
            "quiz_id": [quiz["id"]],
            "game_id": [live_game["gameId"]],
            "join_code": [live_game["joinCode"]],
            "product_id": [pass_product.json()["id"]],
            "checkout_id": [bought.json()["checkoutId"]],
            "order_id": [order_id],
            "entitlement_id": [granted.json()["id"]],
        },
        "questions": questions,
        "lessons": lessons,
    }


def test_the_detector_sees_a_teachers_answer_key() -> None:
    """The check below is only worth something if it flags what a teacher gets."""
    teacher_view = {"choices": [{"text": "Mars", "fraction": 1.0, "feedback": "keyfeedbackone"}]}
    assert leaks(json.dumps(teacher_view), "application/json") == [
        "keyfeedback",
        "feedback",
        "fraction",
    ]
    assert leaks('<li data-correct="true">Mars</li>', "text/html") == ["correct"]
    assert leaks("<p>Mars is <em>correct</em>.</p>", "text/html") == []


async def test_no_student_facing_response_carries_an_answer_key(
    client: httpx.AsyncClient, app: ObservedApp, world: dict[str, Any]
) -> None:
    student: Person = world["student"]
    teacher: Person = world["teacher"]
    question = world["questions"][0]["id"]
    teacher_copy = await client.get(f"/api/v1/questions/{question}", headers=teacher.headers)
    assert leaks(teacher_copy.text, teacher_copy.headers["content-type"]), (
        "the sentinels must be in the key the teacher sees, or this test proves nothing"
    )

    seen: dict[str, int] = {}
    offending: dict[str, list[str]] = {}
    queue = [url for path, params in get_routes(app) for url in fill(path, params, world["values"])]
    queue += [f"/api/v1/search?q={word}" for word in ("planet", "keyfeedbackone", "keygeneral")]
    queue += [f"/courses?q={word}" for word in ("tides", "keyacceptedzebra")]
    async with browser_tab(app) as tab:
        await sign_in(tab, student)
        while queue and len(seen) < MAX_PAGES:
            url = queue.pop(0)
            if url in seen:
                continue
            as_cookie = await tab.get(url)
            responses = [as_cookie]
            if url.startswith("/api/"):
                responses.append(await client.get(url, headers=student.headers))
            seen[url] = as_cookie.status_code
            for response in responses:
                assert response.status_code < 500, f"{url}: {response.text[:300]}"
                content_type = response.headers.get("content-type", "")
                if "json" in content_type or "text" in content_type:
                    found = leaks(_without_echoed_query(url, response.text), content_type)
                    if found:
                        offending[url] = found
                if "html" in content_type:
                    queue += _same_origin_links(url, response.text)
                if url.endswith("/video-url") and response.status_code == 200:
                    queue.append(response.json()["url"])
    assert not offending, f"answer keys reached a student: {offending}"
    readable = [url for url, status in seen.items() if status == 200]
    for lesson in world["values"]["lesson_id"]:
        assert f"/api/v1/lessons/{lesson}" in readable, "the walk must read the student's lessons"
    assert any(url.startswith("/media/videos/") for url in readable), "and play the video"
    practice = f"/lessons/{world['lessons'][0]['id']}/practice"
    assert f"/api/v1{practice}" in readable, "and the lesson's practice questions"
    assert sum(url.startswith(f"{practice}?q=") for url in readable) >= 9, "one page each"
    assert f"/api/v1/sessions/{world['values']['session_id'][0]}" in readable, "and the exam"
    assert len(readable) >= 10, f"the walk read too little to mean anything: {readable}"


def _without_echoed_query(url: str, body: str) -> str:
    """A search page repeats what was typed; only its results count."""
    for query in parse_qs(urlsplit(url).query).get("q", []):
        body = body.replace(query, "")
    return body


def _same_origin_links(base: str, html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    links = []
    for href in parser.hrefs:
        target = urlsplit(urljoin(f"https://127.0.0.1{base}", href))
        if target.netloc == "127.0.0.1" and not target.path.startswith(NOT_STUDENT_DATA):
            links.append(target.path + (f"?{target.query}" if target.query else ""))
    return links
