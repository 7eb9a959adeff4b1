"""Catalog pages in a real Chromium: the course list and search, a course, a lesson whose
video plays and seeks through byte ranges, and the renewal of an expired video link.

The courses are made through the API as the teacher, with a video from the demo's
generator uploaded as the raw request body.
"""

from __future__ import annotations

import io
import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import av
import httpx
import pytest
from playwright.sync_api import Page, Request, Route, expect

from studyhall.content.demo_video import lecture_video
from tests.web.conftest import Account, scroll_width, sign_in, unlabelled_inputs

pytestmark = pytest.mark.browser

SEEK_TO = 15
VIDEO_SECONDS = 20
# Random grain makes the 20 s video about 5 MB: Chromium reads a small file whole, and
# only a file it has not read yet makes a seek fetch a later byte range.
VIDEO_BIT_RATE = 2_000_000
LONG_WORD = "Pneumonoultramicroscopicsilicovolcanoconiosis"


@dataclass(frozen=True)
class Catalog:
    word: str  # in the published course's texts and the question, nowhere else
    many: str  # in the titles of more courses than a page of results shows
    course_id: str
    course_title: str
    lessons: list[str]
    draft_course_id: str
    draft_title: str
    draft_lesson: str
    seek_byte: int  # where the key frame at SEEK_TO seconds starts in the video file


def _key_frame_position(video: bytes, seconds: int) -> int:
    with av.open(io.BytesIO(video)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            at = packet.pts * stream.time_base if packet.pts is not None else None
            if packet.is_keyframe and at is not None and at >= seconds and packet.pos >= 0:
                return packet.pos
    raise AssertionError(f"no key frame at {seconds} s")


class Api:
    """The REST API as the teacher (a bearer token)."""

    def __init__(self, server: str, account: Account) -> None:
        self.http = httpx.Client(base_url=server, timeout=30)
        token = self.http.post(
            "/api/v1/auth/token", json={"email": account.email, "password": account.password}
        )
        assert token.status_code == 200, token.text
        self.http.headers["Authorization"] = f"Bearer {token.json()['accessToken']}"

    def post(self, path: str, **kwargs: object) -> dict[str, str]:
        response = self.http.post(path, **kwargs)  # type: ignore[arg-type]
        assert response.status_code in (200, 201), response.text
        body: dict[str, str] = response.json()
        return body

    def course(self, title: str, summary: str = "", *, published: bool = True) -> str:
        data = {"title": title, "summary": summary, "published": published}
        return self.post("/api/v1/courses", json=data)["id"]

    def lesson(self, course_id: str, title: str, body: str = "", **links: str) -> str:
        data = {"title": title, "body": body, **links}
        return self.post(f"/api/v1/courses/{course_id}/lessons", json=data)["id"]


@pytest.fixture(scope="module")
def catalog(server: str, teacher: Account) -> Iterator[Catalog]:
    word = f"zq{uuid.uuid4().hex[:8]}"
    many = f"mq{uuid.uuid4().hex[:8]}"
    api = Api(server, teacher)
    video = lecture_video(grain=True, bit_rate=VIDEO_BIT_RATE)
    video_id = api.post("/api/v1/videos", content=video, headers={"Content-Type": "video/webm"})[
        "id"
    ]
    bank_id = api.post("/api/v1/banks", json={"name": f"Islands {word}"})["id"]
    gift = f"::Island {word}:: Which island is called {word} here? {{=Zanzibar ~Madagascar}}\n"
    api.post(
        f"/api/v1/banks/{bank_id}/import?format=gift",
        content=gift,
        headers={"Content-Type": "text/plain"},
    )
    title = f"Islands of the world {word}"
    course_id = api.course(title, f"Where the {word} islands are, and why.\nSecond line.")
    lessons = [
        api.lesson(
            course_id,
            "Finding islands on a map",
            f"Islands **{word}** are *small*.\n\n<script>window.injected = 1</script>",
            videoId=video_id,
        ),
        api.lesson(course_id, LONG_WORD, f"A {word} long word title."),
        api.lesson(course_id, "Test yourself", "Questions to practise.", bankId=bank_id),
    ]
    draft_title = f"Secret draft {word}"
    draft_id = api.course(draft_title, f"Not ready {word}", published=False)
    draft_lesson = api.lesson(draft_id, "Hidden lesson", "Nobody reads this yet.")
    for n in range(13):
        api.course(f"Course {n} {many}")
    try:
        yield Catalog(
            word=word,
            many=many,
            course_id=course_id,
            course_title=title,
            lessons=lessons,
            draft_course_id=draft_id,
            draft_title=draft_title,
            draft_lesson=draft_lesson,
            seek_byte=_key_frame_position(video, SEEK_TO),
        )
    finally:
        api.http.close()


def _video_ready(page: Page) -> None:
    page.wait_for_function("document.querySelector('video').readyState >= 1")


def test_a_student_finds_a_course_and_watches_a_lesson(
    page: Page, server: str, student: Account, catalog: Catalog
) -> None:
    sign_in(page, server, student)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Courses").click()
    expect(page).to_have_url(f"{server}/courses")
    expect(page.get_by_role("heading", level=1)).to_have_text("Courses")

    search = page.get_by_role("search")
    search.get_by_label("Search courses and lessons").fill(catalog.word)
    search.get_by_role("button", name="Search").click()
    expect(page).to_have_url(f"{server}/courses?q={catalog.word}")
    results = page.locator(".hit")
    expect(results).to_have_count(3)  # the course and two of its lessons
    expect(results.filter(has_text="Question")).to_have_count(0)
    expect(page.locator(".hit mark").first).to_have_text(re.compile(catalog.word, re.I))
    expect(page.get_by_text(catalog.draft_title)).to_have_count(0)
    page.get_by_role("link", name=catalog.course_title).click()

    expect(page).to_have_url(f"{server}/courses/{catalog.course_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(catalog.course_title)
    lessons = page.locator(".lesson-list > li")
    expect(lessons).to_have_count(3)
    expect(lessons.nth(0)).to_contain_text("Finding islands on a map")
    expect(lessons.nth(0).get_by_text("Video")).to_be_visible()
    expect(lessons.nth(1).get_by_text("Video")).to_have_count(0)
    page.get_by_role("link", name="Start the course").click()

    expect(page).to_have_url(f"{server}/lessons/{catalog.lessons[0]}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Finding islands on a map")
    text = page.locator(".lesson-text")
    expect(text.locator("strong")).to_have_text(catalog.word)
    expect(text.locator("em")).to_have_text("small")
    assert page.evaluate("window.injected") is None
    video = page.locator("video")
    expect(video).to_have_attribute("preload", "metadata")
    expect(video).to_have_attribute("controls", "")
    expect(video).to_have_attribute("src", re.compile(r"^/media/videos/.+\?expires=\d+&sig="))

    page.get_by_role("link", name=re.compile("Next lesson")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(LONG_WORD)
    expect(page.locator("video")).to_have_count(0)
    page.get_by_role("link", name=re.compile("Next lesson")).click()
    expect(page.get_by_role("heading", level=2, name="Practise")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("question bank"))).to_have_count(0)
    page.get_by_role("link", name=re.compile("Previous lesson")).click()
    expect(page).to_have_url(f"{server}/lessons/{catalog.lessons[1]}")

    # The course page now offers to carry on where the student left off.
    page.goto(f"/courses/{catalog.course_id}")
    expect(page.get_by_role("link", name=f"Continue: {LONG_WORD}")).to_have_attribute(
        "href", f"/lessons/{catalog.lessons[1]}"
    )


def _content_range(header: str | None) -> tuple[int, int]:
    match = re.fullmatch(r"bytes (\d+)-(\d+)/\d+", header or "")
    assert match, header
    return int(match.group(1)), int(match.group(2))


def test_the_video_seeks_through_byte_ranges(
    page: Page, server: str, student: Account, catalog: Catalog
) -> None:
    lesson = f"/lessons/{catalog.lessons[0]}"
    sign_in(page, server, student, then=lesson)
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    _video_ready(page)
    duration = page.evaluate("document.querySelector('video').duration")
    assert duration == pytest.approx(VIDEO_SECONDS, abs=0.5)

    # The marker request goes out after every request made before the seek.
    position = page.evaluate(
        """async (seconds) => {
            await fetch('/healthz?seek');
            const video = document.querySelector('video');
            video.muted = true;
            const seeked = new Promise((done) => {
                video.addEventListener('seeked', done, {once: true});
            });
            video.currentTime = seconds;
            await seeked;
            await video.play();
            return video.currentTime;
        }""",
        SEEK_TO,
    )
    assert position >= SEEK_TO
    page.wait_for_function(
        "(seconds) => document.querySelector('video').currentTime > seconds + 0.5", arg=SEEK_TO
    )

    marker = next(i for i, r in enumerate(requests) if r.url.endswith("/healthz?seek"))
    after_seek = []
    for request in requests[marker + 1 :]:
        response = request.response() if "/media/videos/" in request.url else None
        if response is not None:
            after_seek.append((response.status, response.headers.get("content-range")))
    ranges = [_content_range(header) for status, header in after_seek if status == 206]
    assert any(0 < start <= catalog.seek_byte <= end for start, end in ranges), after_seek


def test_an_expired_video_link_is_renewed_where_the_video_was(
    page: Page, server: str, student: Account, catalog: Catalog
) -> None:
    lesson = f"/lessons/{catalog.lessons[0]}"
    sign_in(page, server, student, then=lesson)
    _video_ready(page)
    renewals: list[Request] = []
    page.on("request", lambda r: renewals.append(r) if "/video-url" in r.url else None)
    refused: list[int] = []

    def expire(route: Route) -> None:
        """Until the page asks for a new link, the server refuses the old one (403), as it
        does once a link has expired."""
        if renewals:
            route.continue_()
            return
        forged = re.sub(r"sig=[0-9a-f]+", "sig=" + "0" * 64, route.request.url)
        refused.append(1)
        route.continue_(url=forged)

    page.route("**/media/videos/**", expire)
    # Seek well past what the first load read, so the player must fetch with the expired
    # link: a slow run may have let that load read up to SEEK_TO, and a seek just ahead
    # of it is served by the same response.
    buffered_to = page.evaluate(
        """() => {
            const ranges = document.querySelector('video').buffered;
            return ranges.length ? ranges.end(ranges.length - 1) : 0;
        }"""
    )
    target = SEEK_TO if buffered_to + 5 < SEEK_TO else VIDEO_SECONDS - 2
    if buffered_to + 1 > target:
        pytest.skip(f"the browser read the video to {buffered_to:.1f} s before the link expired")
    page.evaluate(
        """(seconds) => {
            const video = document.querySelector('video');
            video.muted = true;
            video.currentTime = seconds;
            video.play().catch(() => {});
        }""",
        target,
    )
    page.wait_for_function(
        """(seconds) => {
            const video = document.querySelector('video');
            return !video.paused && video.currentTime > seconds + 0.5;
        }""",
        arg=target,
    )
    assert refused
    assert len(renewals) == 1
    expect(page.get_by_role("status")).to_have_text("")


def test_a_draft_course_is_not_found_for_a_student(
    page: Page, server: str, student: Account, catalog: Catalog
) -> None:
    sign_in(page, server, student)
    for path in (
        f"/courses/{catalog.draft_course_id}",
        f"/lessons/{catalog.draft_lesson}",
        f"/courses/{uuid.uuid4()}",
        f"/lessons/{uuid.uuid4()}",
    ):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
        assert "Secret draft" not in page.content()
        assert "Hidden lesson" not in page.content()


def test_staff_also_find_questions_and_drafts_but_no_answers(
    page: Page, server: str, teacher: Account, catalog: Catalog
) -> None:
    sign_in(page, server, teacher)
    page.goto(f"/courses?q={catalog.word}")
    question = page.locator(".hit").filter(has_text="Question")
    expect(question).to_have_count(1)
    expect(question.get_by_role("link")).to_have_attribute(
        "href", re.compile(r"^/questions/[0-9a-f-]+/preview$")
    )
    expect(question).to_contain_text(f"Which island is called {catalog.word} here?")
    expect(page.get_by_role("link", name=catalog.draft_title)).to_be_visible()
    main = page.locator("main").inner_text()
    assert "Zanzibar" not in main
    assert "Madagascar" not in main

    page.goto(f"/lessons/{catalog.lessons[2]}")  # the owner reaches the lesson's bank
    expect(page.get_by_role("link", name=re.compile("question bank"))).to_be_visible()


def test_results_come_in_pages_and_an_empty_search_says_so(
    page: Page, server: str, catalog: Catalog
) -> None:
    page.goto(f"/courses?q={catalog.many}")
    results = page.locator(".hit")
    expect(results).to_have_count(12)
    expect(page.get_by_role("link", name="Previous page")).to_have_count(0)
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(f"{server}/courses?q={catalog.many}&page=2")
    expect(results).to_have_count(1)
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    page.get_by_role("link", name="Previous page").click()
    expect(results).to_have_count(12)

    page.goto("/courses")
    expect(page.locator(".course-card")).to_have_count(12)
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(f"{server}/courses?page=2")
    expect(page.locator(".course-card").first).to_be_visible()

    page.get_by_label("Search courses and lessons").fill(f"nothing{uuid.uuid4().hex}")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=2)).to_contain_text("No results for")
    expect(page.get_by_role("link", name="browse all courses")).to_be_visible()


def test_signed_out_visitors_browse_and_sign_in_for_a_lesson(
    page: Page, server: str, student: Account, catalog: Catalog
) -> None:
    page.goto(f"/courses/{catalog.course_id}")
    expect(page.get_by_text("Lessons need a free account")).to_be_visible()
    page.get_by_role("link", name="Start the course").click()
    lesson = f"/lessons/{catalog.lessons[0]}"
    expect(page).to_have_url(f"{server}/login?next={lesson}")
    page.get_by_label("Email", exact=True).fill(student.email)
    page.get_by_label("Password", exact=True).fill(student.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{server}{lesson}")
    _video_ready(page)


def test_every_control_is_labelled_and_the_search_works_by_keyboard(
    page: Page, server: str, student: Account, catalog: Catalog
) -> None:
    sign_in(page, server, student)
    for path in ("/courses", f"/courses/{catalog.course_id}", f"/lessons/{catalog.lessons[0]}"):
        page.goto(path)
        assert unlabelled_inputs(page) == [], path
        headings = page.evaluate(
            "[...document.querySelectorAll('main h1, main h2, main h3')]"
            ".map((h) => Number(h.tagName[1]))"
        )
        assert headings[0] == 1, path
        assert all(b - a <= 1 for a, b in itertools.pairwise(headings)), path

    page.goto("/courses")
    page.get_by_label("Search courses and lessons").focus()
    page.keyboard.type(catalog.word)
    page.keyboard.press("Enter")
    expect(page.locator(".hit")).to_have_count(3)
    link = page.get_by_role("link", name=catalog.course_title)
    link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{server}/courses/{catalog.course_id}")


def test_catalog_pages_fit_a_phone(
    phone: Page, server: str, student: Account, catalog: Catalog
) -> None:
    sign_in(phone, server, student)
    for path in (
        "/courses",
        f"/courses?q={catalog.word}",
        f"/courses/{catalog.course_id}",
        f"/lessons/{catalog.lessons[0]}",
        f"/lessons/{catalog.lessons[1]}",
        f"/lessons/{catalog.lessons[2]}",
    ):
        phone.goto(path)
        expect(phone.locator("main")).to_be_visible()
        assert scroll_width(phone) <= 375, path
    phone.goto(f"/lessons/{catalog.lessons[0]}")
    box = phone.locator("video").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 375
