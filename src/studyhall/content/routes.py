"""Catalog API: courses, lessons, search, video upload, signed video links, and the media
endpoint that serves byte ranges of a video to whoever holds a valid link."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, head, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_204_NO_CONTENT,
    HTTP_206_PARTIAL_CONTENT,
    HTTP_304_NOT_MODIFIED,
)

from studyhall.content import practice, service
from studyhall.content.schemas import (
    CourseDetailOut,
    CourseIn,
    CourseOut,
    LessonIn,
    LessonOrderIn,
    LessonOut,
    LessonSummaryOut,
    SearchHitOut,
    VideoOut,
    VideoUrlOut,
)
from studyhall.platform.errors import problem_spec
from studyhall.platform.http import CurrentActor, DbSession, MaybeActor, Offset, Runtime

SearchQuery = Annotated[str, QueryParameter(min_length=1, max_length=500)]


class CoursesController(Controller):
    path = "/api/v1/courses"
    tags = ["content"]

    @post("/", status_code=HTTP_201_CREATED)
    async def create(
        self, data: JSONBody[CourseIn], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> CourseDetailOut:
        return await service.create_course(db, platform, actor, data)

    @get("/")
    async def list_courses(
        self,
        db: DbSession,
        optional_actor: MaybeActor,
        mine: FromQuery[bool] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Offset = 0,
    ) -> list[CourseOut]:
        """Published courses (and your own); ``mine=true``: only the courses you own."""
        return await service.list_courses(db, optional_actor, mine=mine, limit=limit, offset=offset)

    @get("/{course_id:uuid}")
    async def detail(
        self, course_id: FromPath[uuid.UUID], db: DbSession, optional_actor: MaybeActor
    ) -> CourseDetailOut:
        return await service.course_detail(db, optional_actor, course_id)

    @put("/{course_id:uuid}")
    async def update(
        self,
        course_id: FromPath[uuid.UUID],
        data: JSONBody[CourseIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> CourseDetailOut:
        return await service.update_course(db, platform, actor, course_id, data)

    @post("/{course_id:uuid}/lessons", status_code=HTTP_201_CREATED)
    async def add_lesson(
        self,
        course_id: FromPath[uuid.UUID],
        data: JSONBody[LessonIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> LessonOut:
        return await service.add_lesson(db, platform, actor, course_id, data)

    @post("/{course_id:uuid}/lessons/order", status_code=HTTP_200_OK)
    async def reorder(
        self,
        course_id: FromPath[uuid.UUID],
        data: JSONBody[LessonOrderIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> list[LessonSummaryOut]:
        return await service.reorder_lessons(db, platform, actor, course_id, data.lesson_ids)


class LessonsController(Controller):
    path = "/api/v1/lessons"
    tags = ["content"]

    @get("/{lesson_id:uuid}")
    async def detail(
        self, lesson_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> LessonOut:
        return await service.lesson_detail(db, platform, actor, lesson_id)

    @put("/{lesson_id:uuid}")
    async def update(
        self,
        lesson_id: FromPath[uuid.UUID],
        data: JSONBody[LessonIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> LessonOut:
        return await service.update_lesson(db, platform, actor, lesson_id, data)

    @delete("/{lesson_id:uuid}", status_code=HTTP_204_NO_CONTENT)
    async def remove(
        self, lesson_id: FromPath[uuid.UUID], db: DbSession, actor: CurrentActor
    ) -> None:
        await service.delete_lesson(db, actor, lesson_id)

    @get("/{lesson_id:uuid}/video-url")
    async def video_url(
        self, lesson_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> VideoUrlOut:
        """A signed link to the lesson's video, valid for a few minutes."""
        return await service.video_url(db, platform, actor, lesson_id)


class PracticeController(Controller):
    """A lesson's practice: its bank's questions, and a check of one answer (stores nothing)."""

    path = "/api/v1/lessons/{lesson_id:uuid}/practice"
    tags = ["content"]

    @get("/")
    async def questions(
        self, lesson_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> practice.PracticeOut:
        return await practice.practice(db, platform, actor, lesson_id)

    @post("/{question_id:uuid}/check", status_code=HTTP_200_OK)
    async def check(
        self,
        lesson_id: FromPath[uuid.UUID],
        question_id: FromPath[uuid.UUID],
        data: JSONBody[practice.CheckIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> practice.CheckOut:
        """The score, feedback, right answer and explanation for ``choice``."""
        return await practice.check(db, platform, actor, lesson_id, question_id, data.choice)


class SearchController(Controller):
    path = "/api/v1/search"
    tags = ["content"]

    @get("/")
    async def search(
        self,
        db: DbSession,
        optional_actor: MaybeActor,
        q: SearchQuery,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        offset: Annotated[int, QueryParameter(ge=0, le=10_000)] = 0,
    ) -> list[SearchHitOut]:
        """Web-search syntax: words, "phrases", ``or``, ``-excluded``."""
        return await service.search(db, optional_actor, q, limit=limit, offset=offset)


class VideosController(Controller):
    path = "/api/v1/videos"
    tags = ["content"]

    # No framework limit: the service enforces VIDEO_MAX_BYTES as the body streams in.
    @post("/", status_code=HTTP_201_CREATED, request_max_body_size=None)
    async def upload(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> VideoOut:
        """The body is the video itself (video/mp4, video/webm or video/ogg)."""
        return await service.upload_video(
            db,
            platform,
            actor,
            content_type=request.headers.get("content-type"),
            content_length=request.content_length,
            chunks=request.stream(),
        )


def _media_headers(plan: service.Playback) -> dict[str, str]:
    """The same for GET and HEAD (Litestar leaves a HEAD response's type and length to us)."""
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": plan.etag,
        "Cache-Control": f"private, max-age={plan.max_age}",
    }
    if not plan.not_modified:
        span = plan.span
        headers["Content-Type"] = plan.content_type
        headers["Content-Length"] = str(span.length)
        if plan.byte_range is not None:
            headers["Content-Range"] = f"bytes {span.start}-{span.end}/{span.total}"
    return headers


# The video's own media type, whole or in part; 304 when the client's copy is current.
_MEDIA_RESPONSES = {
    HTTP_200_OK: ResponseSpec(None, description="The whole video"),
    HTTP_206_PARTIAL_CONTENT: ResponseSpec(None, description="The requested byte range"),
    HTTP_304_NOT_MODIFIED: ResponseSpec(None, description="Not modified (If-None-Match)"),
    416: problem_spec("The range is outside the video"),
}


def _media_status(plan: service.Playback) -> int:
    if plan.not_modified:
        return HTTP_304_NOT_MODIFIED
    return HTTP_200_OK if plan.byte_range is None else HTTP_206_PARTIAL_CONTENT


async def _plan(
    request: Request[Any, Any, Any],
    video_id: uuid.UUID,
    db: DbSession,
    platform: Runtime,
    expires: str | None,
    sig: str | None,
) -> service.Playback:
    return await service.playback(
        db,
        platform,
        video_id,
        expires=expires,
        sig=sig,
        range_header=request.headers.get("range"),
        if_range=request.headers.get("if-range"),
        if_none_match=request.headers.get("if-none-match"),
    )


class MediaController(Controller):
    """The signature in the URL is the credential (no cookie, no token), so the URL alone
    can key a cache in front; no CSRF cookie is set on these responses."""

    path = "/media/videos"
    tags = ["content"]
    opt = {"exclude_from_csrf": True}

    @get("/{video_id:uuid}", responses=_MEDIA_RESPONSES)
    async def video(
        self,
        video_id: FromPath[uuid.UUID],
        request: Request[Any, Any, Any],
        db: DbSession,
        platform: Runtime,
        expires: FromQuery[str | None] = None,
        sig: FromQuery[str | None] = None,
    ) -> Response[Any]:
        plan = await _plan(request, video_id, db, platform, expires, sig)
        if plan.not_modified:
            return Response(None, status_code=HTTP_304_NOT_MODIFIED, headers=_media_headers(plan))
        return Stream(
            service.playback_chunks(platform, plan),
            status_code=_media_status(plan),
            headers=_media_headers(plan),
        )

    @head("/{video_id:uuid}", responses=_MEDIA_RESPONSES)
    async def video_head(
        self,
        video_id: FromPath[uuid.UUID],
        request: Request[Any, Any, Any],
        db: DbSession,
        platform: Runtime,
        expires: FromQuery[str | None] = None,
        sig: FromQuery[str | None] = None,
    ) -> Response[None]:
        plan = await _plan(request, video_id, db, platform, expires, sig)
        return Response(None, status_code=_media_status(plan), headers=_media_headers(plan))


ROUTES = [
    CoursesController,
    LessonsController,
    PracticeController,
    SearchController,
    VideosController,
    MediaController,
]
