"""Student pages for the catalog: the course list with search, a course, a lesson with its
video, and the lesson's practice questions.

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

from litestar import Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.content import practice, service
from studyhall.content.schemas import LessonSummaryOut, SearchHitOut, VideoUrlOut
from studyhall.exams.answers import InvalidAnswer
from studyhall.payments.access import PaymentRequired, products_to_buy
from studyhall.platform.auth import Actor
from studyhall.platform.errors import DomainError, NotFound
from studyhall.platform.http import DbSession, MaybeActor, Runtime
from studyhall.platform.runtime import Platform
from studyhall.questions.render import StudentQuestion
from studyhall.web.bank_pages import KIND_LABELS as QUESTION_KIND_LABELS
from studyhall.web.pages import not_found, render, request_target, sign_in_first
from studyhall.web.payment_pages import buy_prompt

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
    course_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, optional_actor: MaybeActor
) -> Template:
    try:
        course = await service.course_detail(db, optional_actor, course_id)
    except NotFound as error:
        return not_found(optional_actor, error.detail)
    to_buy = await products_to_buy(db, platform, optional_actor, course_id=course.id)
    return render("catalog/course.html", optional_actor, course=course, to_buy=to_buy)


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
    lesson = await service.lesson_detail(db, platform, actor, lesson_id)
    course = await service.course_detail(db, actor, lesson.course_id)
    video: VideoUrlOut | None = None
    if lesson.video_id is not None:
        video = await service.video_url(db, platform, actor, lesson_id)
    return {
        "lesson": lesson,
        "course": course,
        "video": video,
        "nav": _neighbours(course.lessons, lesson.id),
        # The Markdown comes only to the course's editors, who reach its bank; students
        # practise its questions instead.
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
    except PaymentRequired as needed:
        return buy_prompt(optional_actor, needed, request_target(request))
    return render("catalog/lesson.html", optional_actor, **context)


# --- practice ------------------------------------------------------------------------

# One mark per question: "." not answered yet, "r" right, "p" partly right, "w" not right,
# "e" an essay (which no rule marks).
_MARKS = frozenset(".rpwe")
VERDICTS = {"r": "Right", "p": "Partly right", "w": "Not right", "e": "Not marked"}
ProgressQuery = Annotated[str, QueryParameter(max_length=practice.PRACTICE_MAX_QUESTIONS)]


@dataclass(frozen=True)
class Progress:
    """How the reader has done so far. Practice stores nothing, so this travels in the
    page's links and form; marks that do not fit the questions start afresh."""

    marks: str

    @classmethod
    def read(cls, raw: str, total: int) -> Progress:
        if len(raw) == total and set(raw) <= _MARKS:
            return cls(raw)
        return cls("." * total)

    def marked(self, position: int, mark: str) -> Progress:
        index = position - 1
        return Progress(self.marks[:index] + mark + self.marks[index + 1 :])

    @property
    def answered(self) -> int:
        return len(self.marks) - self.marks.count(".")

    @property
    def right(self) -> int:
        return self.marks.count("r")


def _mark(result: practice.CheckOut) -> str:
    if result.fraction is None:
        return "e"
    if result.correct:
        return "r"
    return "p" if result.fraction > 0 else "w"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _option_id(value: str) -> int | str:
    """An option id as the form sends it; anything else goes on as text, for the answer
    check to refuse with its own message."""
    return int(value) if value.isascii() and value.isdigit() else value


def _ordering(question: StudentQuestion, form: FormMultiDict) -> list[int]:
    """Item ids in the places the form gives them (each item has a place select)."""
    count = len(question.items)
    refusal = InvalidAnswer(f"Give each item its own place, from 1 to {count}")
    try:
        places = {item.id: int(_text(form.get(f"place-{item.id}", ""))) for item in question.items}
    except ValueError:
        raise refusal from None
    if sorted(places.values()) != list(range(1, count + 1)):
        raise refusal
    return sorted(places, key=places.__getitem__)


def choice_from_form(question: StudentQuestion, form: FormMultiDict) -> object:
    """The posted answer in the shape the practice API takes (None: nothing answered)."""
    values = [_text(value) for value in form.getall("choice", [])]
    value = values[0] if values else ""
    kind = question.kind
    if kind == "multiple":
        return [_option_id(value) for value in values] or None
    if kind == "single":
        return _option_id(value) if value else None
    if kind == "truefalse":
        return {"true": True, "false": False}.get(value, value or None)
    if kind == "matching":
        chosen = [
            [prompt.id, _option_id(_text(form.get(f"match-{prompt.id}", "")))]
            for prompt in question.prompts
        ]
        return [pair for pair in chosen if pair[1] != ""] or None
    if kind == "ordering":
        return _ordering(question, form)
    return value if value.strip() else None


def _practice_href(lesson_id: uuid.UUID, position: int, progress: Progress) -> str:
    query: dict[str, Any] = {"q": position}
    if progress.answered:
        query["progress"] = progress.marks
    return f"/lessons/{lesson_id}/practice?{urlencode(query)}"


def _practice_page(
    actor: Actor,
    item: practice.PracticeItem,
    progress: Progress,
    *,
    status_code: int = 200,
    result: practice.CheckOut | None = None,
    error: str | None = None,
    filled: dict[str, list[str]] | None = None,
) -> Template:
    """The question with its inputs (refilled with what was posted), the check's result or
    refusal, the reader's progress, and links on that carry the progress."""
    position, lesson_id = item.position, item.lesson_id
    mark = _mark(result) if result else None
    return render(
        "catalog/practice.html",
        actor,
        status_code=status_code,
        item=item,
        q=item.question,
        kind_label=QUESTION_KIND_LABELS.get(item.question.kind, "") if item.question else "",
        progress=progress,
        result=result,
        mark=mark,
        verdict=VERDICTS[mark] if mark else None,
        error=error,
        filled=filled or {},
        previous_href=_practice_href(lesson_id, position - 1, progress) if position > 1 else None,
        next_href=(
            _practice_href(lesson_id, position + 1, progress) if position < item.total else None
        ),
        restart_href=f"/lessons/{lesson_id}/practice",
    )


@get("/lessons/{lesson_id:uuid}/practice", name="lesson_practice")
async def practice_page(
    request: Request[Any, Any, Any],
    lesson_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
    q: Page = 1,
    progress: ProgressQuery = "",
) -> Response[Any]:
    """Question ``q`` of the lesson's practice (1-based)."""
    if optional_actor is None:
        return sign_in_first(request_target(request))
    try:
        item = await practice.practice_item(db, platform, optional_actor, lesson_id, q)
    except NotFound as error:
        return not_found(optional_actor, error.detail)
    return _practice_page(optional_actor, item, Progress.read(progress, item.total))


@post("/lessons/{lesson_id:uuid}/practice")
async def practice_check(
    request: Request[Any, Any, Any],
    lesson_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    """Check the posted answer and show the same question with the result (the page's
    form; practice.js sends it without leaving the page)."""
    actor = optional_actor
    if actor is None:
        return sign_in_first(f"/lessons/{lesson_id}/practice")
    form = await request.form()
    try:
        question_id = uuid.UUID(_text(form.get("question", "")))
        item = await practice.practice_item(db, platform, actor, lesson_id, question_id)
    except ValueError:
        return not_found(actor, "No such question in this lesson's practice")
    except NotFound as error:
        return not_found(actor, error.detail)
    progress = Progress.read(_text(form.get("progress", "")), item.total)
    if item.question is None:
        return _practice_page(actor, item, progress)
    filled = {key: [_text(value) for value in form.getall(key)] for key in form}
    try:
        choice = choice_from_form(item.question, form)
        result = await practice.check(db, platform, actor, lesson_id, item.question.id, choice)
    except DomainError as error:
        return _practice_page(
            actor, item, progress, status_code=error.status, error=error.detail, filled=filled
        )
    progress = progress.marked(item.position, _mark(result))
    return _practice_page(actor, item, progress, result=result, filled=filled)


ROUTES = [catalog, course_page, lesson_page, practice_page, practice_check]
