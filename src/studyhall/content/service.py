"""Catalog rules: who sees and edits courses and lessons, video upload and playback, search.

A course is the owning teacher's (or any admin's) to edit; anyone else who asks to
edit it is told it does not exist (404). Published courses and their lessons are
for everyone to read (lessons need an account); unpublished ones only for their
editors. Videos are played through short-lived signed URLs that only someone who
may read the lesson gets; the media endpoint checks the signature and the expiry
against the server's clock and serves byte ranges.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.content import repository
from studyhall.content.models import Course, Lesson, Video
from studyhall.content.schemas import (
    CourseDetailOut,
    CourseIn,
    CourseOut,
    LessonIn,
    LessonOut,
    LessonSummaryOut,
    SearchHitOut,
    VideoOut,
    VideoUrlOut,
)
from studyhall.content.search import fts5_query, snippet_html, title_from_text, websearch_query
from studyhall.content.storage import (
    ByteRange,
    MediaMissing,
    MediaTooLarge,
    RangeUnsatisfiable,
    media_storage,
    parse_range,
)
from studyhall.payments.access import require_access
from studyhall.platform.auth import Actor, ensure_owner_or_admin, require_staff
from studyhall.platform.errors import (
    DomainError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
)
from studyhall.platform.ids import new_id
from studyhall.platform.runtime import Platform
from studyhall.platform.signing import check_link, link_signature
from studyhall.questions.render import to_html
from studyhall.questions.service import bank_for

VIDEO_TYPES = frozenset({"video/mp4", "video/webm", "video/ogg"})
VIDEO_MAX_BYTES = 500 * 1024 * 1024
VIDEO_URL_TTL_SECONDS = 300
MEDIA_VIDEO_PATH = "/media/videos"
# A UNIX time as we write it in links (and short enough for int() to read).
# An http(s) URL with a host, or a path on this site: not "//host" or "/\host" (another
# site), and no spaces or controls (browsers drop tabs and newlines: "/\t/host" is "//host").
_COVER_URL = re.compile(r"(?:https?://(?=[^/\\])|/(?![/\\]))[^\s\\\x00-\x1f\x7f]*", re.IGNORECASE)


class InvalidCoverUrl(InvalidInput):
    code = "invalid_cover_url"
    title = "The cover must be an http(s) URL or a path on this site"


class InvalidLessonOrder(InvalidInput):
    code = "invalid_lesson_order"
    title = "The order must list every lesson of the course exactly once"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class VideoTooLarge(DomainError):
    status = 413
    code = "body_too_large"
    title = "The request body is too large"


class EmptyUpload(InvalidInput):
    code = "empty_upload"
    title = "The upload is empty"


class RangeNotSatisfiable(DomainError):
    status = 416
    code = "range_not_satisfiable"
    title = "The requested range cannot be served"


# --- courses -------------------------------------------------------------------------


def _can_edit(actor: Actor | None, course: Course) -> bool:
    return actor is not None and (actor.is_admin or actor.user_id == course.owner_id)


def _can_read(actor: Actor | None, course: Course) -> bool:
    return course.published or _can_edit(actor, course)


def _clean_title(title: str) -> str:
    cleaned = title.strip()
    if not cleaned:
        raise InvalidInput("The title must not be blank")
    return cleaned


def _clean_cover_url(url: str | None) -> str | None:
    """Only http(s) URLs and site paths: a ``javascript:`` cover would run in every page."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    if not _COVER_URL.fullmatch(url):
        raise InvalidCoverUrl(f"{url[:100]!r} is not an http(s) URL or a path")
    return url


def _course_out(course: Course, lesson_count: int) -> CourseOut:
    return CourseOut(
        id=course.id,
        owner_id=course.owner_id,
        title=course.title,
        summary=course.summary,
        cover_url=course.cover_url,
        published=course.published,
        product_id=course.product_id,
        lesson_count=lesson_count,
        created_at=course.created_at,
        updated_at=course.updated_at,
    )


def _summaries(lessons: Sequence[Lesson]) -> list[LessonSummaryOut]:
    return [
        LessonSummaryOut(
            id=lesson.id,
            position=lesson.position,
            title=lesson.title,
            has_video=lesson.video_id is not None,
        )
        for lesson in lessons
    ]


def _course_detail_out(course: Course, lessons: Sequence[Lesson]) -> CourseDetailOut:
    return CourseDetailOut(
        id=course.id,
        owner_id=course.owner_id,
        title=course.title,
        summary=course.summary,
        cover_url=course.cover_url,
        published=course.published,
        product_id=course.product_id,
        created_at=course.created_at,
        updated_at=course.updated_at,
        lessons=_summaries(lessons),
    )


async def _course_to_edit(session: AsyncSession, actor: Actor, course_id: uuid.UUID) -> Course:
    require_staff(actor)
    course = await repository.course_by_id(session, course_id)
    if course is None:
        raise NotFound("No such course")
    ensure_owner_or_admin(actor, course.owner_id, what="course")
    return course


async def create_course(
    session: AsyncSession, platform: Platform, actor: Actor, data: CourseIn
) -> CourseDetailOut:
    require_staff(actor)
    now = platform.clock.now()
    course = Course(
        id=new_id(),
        owner_id=actor.user_id,
        title=_clean_title(data.title),
        summary=data.summary,
        cover_url=_clean_cover_url(data.cover_url),
        published=data.published,
        product_id=None,
        created_at=now,
        updated_at=now,
    )
    await repository.add_course(session, course)
    return _course_detail_out(course, [])


async def list_courses(
    session: AsyncSession, actor: Actor | None, *, mine: bool, limit: int, offset: int
) -> list[CourseOut]:
    """The catalog: published courses (plus the reader's own); ``mine``: only the reader's."""
    if mine and actor is None:
        raise NotAuthenticated()
    rows = await repository.courses_with_counts(
        session,
        published_or_owned_by=actor.user_id if actor else None,
        only_owner=actor.user_id if mine and actor else None,
        every_course=actor is not None and actor.is_admin,
        limit=limit,
        offset=offset,
    )
    return [_course_out(course, count) for course, count in rows]


async def course_detail(
    session: AsyncSession, actor: Actor | None, course_id: uuid.UUID
) -> CourseDetailOut:
    course = await repository.course_by_id(session, course_id)
    if course is None or not _can_read(actor, course):
        raise NotFound("No such course")
    return _course_detail_out(course, await repository.lessons_of(session, course.id))


async def update_course(
    session: AsyncSession, platform: Platform, actor: Actor, course_id: uuid.UUID, data: CourseIn
) -> CourseDetailOut:
    course = await _course_to_edit(session, actor, course_id)
    course.title = _clean_title(data.title)
    course.summary = data.summary
    course.cover_url = _clean_cover_url(data.cover_url)
    course.published = data.published
    course.updated_at = platform.clock.now()
    await repository.save_course(session, course)
    return _course_detail_out(course, await repository.lessons_of(session, course.id))


# --- lessons -------------------------------------------------------------------------


def _lesson_out(lesson: Lesson, *, editor: bool) -> LessonOut:
    return LessonOut(
        id=lesson.id,
        course_id=lesson.course_id,
        position=lesson.position,
        title=lesson.title,
        html=to_html(lesson.body, "markdown"),
        body=lesson.body if editor else None,
        video_id=lesson.video_id,
        bank_id=lesson.bank_id,
        exam_id=lesson.exam_id,
        created_at=lesson.created_at,
        updated_at=lesson.updated_at,
    )


async def _check_attachments(
    session: AsyncSession, actor: Actor, data: LessonIn, current: Lesson | None
) -> None:
    """A lesson may show only videos and banks its editor may use (unchanged ones stay)."""
    if data.video_id is not None and (current is None or current.video_id != data.video_id):
        video = await repository.video_by_id(session, data.video_id)
        if video is None:
            raise NotFound("No such video")
        ensure_owner_or_admin(actor, video.owner_id, what="video")
    if data.bank_id is not None and (current is None or current.bank_id != data.bank_id):
        await bank_for(session, actor, data.bank_id)


async def _readable_lesson(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID
) -> tuple[Lesson, Course]:
    found = await repository.lesson_with_course(session, lesson_id)
    if found is None or not _can_read(actor, found[1]):
        raise NotFound("No such lesson")
    return found


async def _lesson_to_edit(session: AsyncSession, actor: Actor, lesson_id: uuid.UUID) -> Lesson:
    require_staff(actor)
    found = await repository.lesson_with_course(session, lesson_id)
    if found is None or not _can_edit(actor, found[1]):
        raise NotFound("No such lesson")
    return found[0]


async def add_lesson(
    session: AsyncSession, platform: Platform, actor: Actor, course_id: uuid.UUID, data: LessonIn
) -> LessonOut:
    course = await _course_to_edit(session, actor, course_id)
    await _check_attachments(session, actor, data, None)
    now = platform.clock.now()
    lesson = Lesson(
        id=new_id(),
        course_id=course.id,
        position=await repository.next_position(session, course.id),
        title=_clean_title(data.title),
        body=data.body,
        video_id=data.video_id,
        bank_id=data.bank_id,
        exam_id=data.exam_id,
        created_at=now,
        updated_at=now,
    )
    await repository.add_lesson(session, lesson)
    return _lesson_out(lesson, editor=True)


async def lesson_detail(
    session: AsyncSession, platform: Platform, actor: Actor, lesson_id: uuid.UUID
) -> LessonOut:
    lesson, course = await open_lesson(session, platform, actor, lesson_id)
    return _lesson_out(lesson, editor=_can_edit(actor, course))


async def open_lesson(
    session: AsyncSession, platform: Platform, actor: Actor, lesson_id: uuid.UUID
) -> tuple[Lesson, Course]:
    """A lesson its reader may open: its text, video and practice. A course that a
    product sells needs the reader's entitlement (402); its editors always pass."""
    lesson, course = await _readable_lesson(session, actor, lesson_id)
    if not _can_edit(actor, course):
        await require_access(session, platform, actor, course_id=course.id)
    return lesson, course


async def update_lesson(
    session: AsyncSession, platform: Platform, actor: Actor, lesson_id: uuid.UUID, data: LessonIn
) -> LessonOut:
    lesson = await _lesson_to_edit(session, actor, lesson_id)
    await _check_attachments(session, actor, data, lesson)
    lesson.title = _clean_title(data.title)
    lesson.body = data.body
    lesson.video_id = data.video_id
    lesson.bank_id = data.bank_id
    lesson.exam_id = data.exam_id
    lesson.updated_at = platform.clock.now()
    await repository.save_lesson(session, lesson)
    return _lesson_out(lesson, editor=True)


async def delete_lesson(session: AsyncSession, actor: Actor, lesson_id: uuid.UUID) -> None:
    lesson = await _lesson_to_edit(session, actor, lesson_id)
    await repository.delete_lesson(session, lesson)


async def reorder_lessons(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    course_id: uuid.UUID,
    lesson_ids: list[uuid.UUID],
) -> list[LessonSummaryOut]:
    """Put the course's lessons in the given order (it must name each exactly once)."""
    course = await _course_to_edit(session, actor, course_id)
    lessons = {lesson.id: lesson for lesson in await repository.lessons_of(session, course.id)}
    if len(lesson_ids) != len(set(lesson_ids)) or set(lesson_ids) != set(lessons):
        raise InvalidLessonOrder()
    positions = {lesson_id: index for index, lesson_id in enumerate(lesson_ids, start=1)}
    await repository.set_positions(session, positions)
    for lesson_id, position in positions.items():
        lessons[lesson_id].position = position
    course.updated_at = platform.clock.now()
    await session.flush()
    return _summaries([lessons[lesson_id] for lesson_id in lesson_ids])


# --- search --------------------------------------------------------------------------


async def search(
    session: AsyncSession, actor: Actor | None, query: str, *, limit: int, offset: int
) -> list[SearchHitOut]:
    """Courses and lessons the reader may open, and for staff the questions of the banks
    they reach, best match first. ``query`` uses web-search syntax (see ``search``)."""
    fts5, websearch = fts5_query(query), websearch_query(query)
    if fts5 is None or websearch is None:
        return []
    questions: repository.QuestionScope = "none"
    if actor is not None and actor.is_staff:
        questions = "all" if actor.is_admin else "reachable"
    scope = repository.SearchScope(
        viewer_id=actor.user_id if actor else None,
        every_course=actor is not None and actor.is_admin,
        questions=questions,
    )
    rows = await repository.search(
        session, websearch=websearch, fts5=fts5, scope=scope, limit=limit, offset=offset
    )
    return [
        SearchHitOut(
            kind=row.kind,
            id=row.id,
            title=row.title or title_from_text(row.lead),
            snippet=snippet_html(row.snippet),
        )
        for row in rows
    ]


# --- videos --------------------------------------------------------------------------


def video_media_type(content_type: str | None) -> str:
    """The upload's media type without parameters, if it is one we accept (else 415)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in VIDEO_TYPES:
        shown = media_type or "none"
        raise UnsupportedMediaType(
            f"Upload one of {', '.join(sorted(VIDEO_TYPES))} (got {shown[:100]})"
        )
    return media_type


async def upload_video(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    *,
    content_type: str | None,
    chunks: AsyncIterable[bytes],
    content_length: int | None = None,
) -> VideoOut:
    """Store the video chunk by chunk (never whole in memory) and record it; a body
    announced (``content_length``) too large is refused before a byte of it is read."""
    require_staff(actor)
    media_type = video_media_type(content_type)
    too_large = VideoTooLarge(f"A video may have at most {VIDEO_MAX_BYTES} bytes")
    if content_length is not None and content_length > VIDEO_MAX_BYTES:
        raise too_large
    storage = media_storage(platform.settings)
    video_id = new_id()
    key = f"videos/{video_id}"
    try:
        size = await storage.save(chunks, key, max_bytes=VIDEO_MAX_BYTES)
    except MediaTooLarge as exc:
        raise too_large from exc
    try:
        if size == 0:
            raise EmptyUpload()
        video = Video(
            id=video_id,
            owner_id=actor.user_id,
            content_type=media_type,
            size=size,
            storage_key=key,
            created_at=platform.clock.now(),
        )
        await repository.add_video(session, video)
    except BaseException:
        await storage.delete(key)
        raise
    return VideoOut(id=video.id, size=video.size, content_type=video.content_type)


async def video_url(
    session: AsyncSession, platform: Platform, actor: Actor, lesson_id: uuid.UUID
) -> VideoUrlOut:
    """A signed link to the lesson's video, good for a few minutes, for its readers only."""
    lesson, _ = await open_lesson(session, platform, actor, lesson_id)
    if lesson.video_id is None:
        raise NotFound("This lesson has no video")
    expires = int(platform.clock.timestamp()) + VIDEO_URL_TTL_SECONDS
    signature = link_signature(platform.settings.secret_key, str(lesson.video_id), expires)
    return VideoUrlOut(
        url=f"{MEDIA_VIDEO_PATH}/{lesson.video_id}?expires={expires}&sig={signature}",
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


@dataclass(frozen=True, slots=True)
class Playback:
    """What to send for a media request: the whole object or one range of it, or only
    the headers (``not_modified``: the client's copy is current)."""

    storage_key: str
    content_type: str
    size: int
    etag: str
    max_age: int
    byte_range: ByteRange | None
    not_modified: bool

    @property
    def span(self) -> ByteRange:
        """The bytes to send: the range asked for, or all of them."""
        return self.byte_range or ByteRange(0, self.size - 1, self.size)


def _etag_matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


async def playback(
    session: AsyncSession,
    platform: Platform,
    video_id: uuid.UUID,
    *,
    expires: str | None,
    sig: str | None,
    range_header: str | None,
    if_range: str | None,
    if_none_match: str | None,
) -> Playback:
    """Check a signed media link and work out which bytes of the video to send.

    ``If-None-Match`` naming our ETag means "not modified"; a ``Range`` counts only
    when ``If-Range`` is absent or names our ETag (otherwise the whole video is sent).
    """
    remaining = check_link(
        platform.settings.secret_key, str(video_id), expires, sig, platform.clock.timestamp()
    )
    video = await repository.video_by_id(session, video_id)
    if video is None:
        raise NotFound("No such video")
    try:
        size = await media_storage(platform.settings).size(video.storage_key)
    except MediaMissing as exc:
        raise NotFound("The video file is missing") from exc
    etag = f'"{video.id.hex}-{size}"'
    not_modified = _etag_matches(if_none_match, etag)
    byte_range = None
    if not not_modified and (if_range is None or if_range.strip() == etag):
        try:
            byte_range = parse_range(range_header, size)
        except RangeUnsatisfiable as exc:
            raise RangeNotSatisfiable(
                f"The video has {size} bytes", headers={"Content-Range": f"bytes */{size}"}
            ) from exc
    return Playback(
        storage_key=video.storage_key,
        content_type=video.content_type,
        size=size,
        etag=etag,
        max_age=remaining,
        byte_range=byte_range,
        not_modified=not_modified,
    )


def playback_chunks(platform: Platform, plan: Playback) -> AsyncIterator[bytes]:
    """The planned bytes, read from storage in chunks as they are sent."""
    span = plan.span
    return media_storage(platform.settings).open_range(plan.storage_key, span.start, span.end)
