"""Student pages for the catalog: the course list with search, a course, a lesson with its video.

Thin handlers like the bank pages: they read the query, call ``content.service`` and
render. The catalog and course pages are public; a lesson needs an account, so a
signed-out visitor is sent to sign in and back. Whatever the reader may not see
(an unpublished course, a lesson of one) is the same 404 page as what does not exist.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.content import service
from studyhall.content.schemas import LessonSummaryOut, SearchHitOut, VideoUrlOut
from studyhall.platform.auth import Actor
from studyhall.platform.errors import NotFound
from studyhall.platform.http import DbSession, MaybeActor, Runtime
from studyhall.platform.runtime import Platform
from studyhall.web.pages import not_found, render, request_target, sign_in_first

PAGE_SIZE = 12
SEARCH_MAX_CHARS = 500  # as the search API allows
Page = Annotated[int, QueryParameter(ge=1, le=1000)]
KIND_LABELS = {"course": "Course", "lesson": "Lesson", "question": "Question"}
# Lesson bodies are Markdown, and their snippets show it raw. Dropping these markers
# keeps a snippet safe: it is escaped text and <mark> tags, and none of them is in a tag.
_MARKDOWN_MARKERS = re.compile(r"(?:^|(?<=\s))#{1,6}\s+|\*\*|`")


@dataclass(frozen=True)
class Hit:
    kind: str
    href: str
    title: str
    snippet: str  # safe HTML: escaped text with the matches in <mark>


def _hit(found: SearchHitOut) -> Hit:
    """Where a search result opens: questions open in the (staff-only) preview."""
    href = {
        "course": f"/courses/{found.id}",
        "lesson": f"/lessons/{found.id}",
        "question": f"/questions/{found.id}/preview",
    }[found.kind]
    snippet = _MARKDOWN_MARKERS.sub("", found.snippet)
    return Hit(KIND_LABELS[found.kind], href, found.title or "(untitled)", snippet)


def _page_link(q: str, page: int) -> str:
    kept = {key: value for key, value in {"q": q, "page": page}.items() if value and value != 1}
    return "/courses" + (f"?{urlencode(kept)}" if kept else "")


@get("/courses", name="courses")
async def catalog(
    db: DbSession, optional_actor: MaybeActor, q: FromQuery[str] = "", page: Page = 1
) -> Template:
    query = q.strip()[:SEARCH_MAX_CHARS]
    offset = (page - 1) * PAGE_SIZE
    shown: dict[str, Any]
    if query:
        found = await service.search(db, optional_actor, query, limit=PAGE_SIZE + 1, offset=offset)
        shown = {"hits": [_hit(hit) for hit in found[:PAGE_SIZE]]}
        more = len(found) > PAGE_SIZE
    else:
        courses = await service.list_courses(
            db, optional_actor, mine=False, limit=PAGE_SIZE + 1, offset=offset
        )
        shown = {"courses": courses[:PAGE_SIZE]}
        more = len(courses) > PAGE_SIZE
    return render(
        "catalog/courses.html",
        optional_actor,
        q=query,
        page=page,
        page_size=PAGE_SIZE,
        previous_href=_page_link(query, page - 1) if page > 1 else None,
        next_href=_page_link(query, page + 1) if more else None,
        **shown,
    )


@get("/courses/{course_id:uuid}", name="course")
async def course_page(
    course_id: FromPath[uuid.UUID], db: DbSession, optional_actor: MaybeActor
) -> Template:
    try:
        course = await service.course_detail(db, optional_actor, course_id)
    except NotFound as error:
        return not_found(optional_actor, error.detail)
    return render("catalog/course.html", optional_actor, course=course)


@dataclass(frozen=True)
class LessonNav:
    number: int
    count: int
    previous: LessonSummaryOut | None
    next: LessonSummaryOut | None


def _neighbours(lessons: list[LessonSummaryOut], lesson_id: uuid.UUID) -> LessonNav:
    index = next(i for i, lesson in enumerate(lessons) if lesson.id == lesson_id)
    return LessonNav(
        number=index + 1,
        count=len(lessons),
        previous=lessons[index - 1] if index > 0 else None,
        next=lessons[index + 1] if index + 1 < len(lessons) else None,
    )


async def _lesson_context(
    db: AsyncSession, platform: Platform, actor: Actor, lesson_id: uuid.UUID
) -> dict[str, Any]:
    lesson = await service.lesson_detail(db, actor, lesson_id)
    course = await service.course_detail(db, actor, lesson.course_id)
    video: VideoUrlOut | None = None
    if lesson.video_id is not None:
        video = await service.video_url(db, platform, actor, lesson_id)
    return {
        "lesson": lesson,
        "course": course,
        "video": video,
        "nav": _neighbours(course.lessons, lesson.id),
        # The Markdown comes only to the course's editors, who reach its bank; a student
        # has no page for a bank yet.
        "bank_href": (
            f"/banks/{lesson.bank_id}" if lesson.bank_id and lesson.body is not None else None
        ),
    }


@get("/lessons/{lesson_id:uuid}", name="lesson")
async def lesson_page(
    request: Request[Any, Any, Any],
    lesson_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first(request_target(request))
    try:
        context = await _lesson_context(db, platform, optional_actor, lesson_id)
    except NotFound as error:
        return not_found(optional_actor, error.detail)
    return render("catalog/lesson.html", optional_actor, **context)


ROUTES = [catalog, course_page, lesson_page]
