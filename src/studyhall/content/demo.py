"""Demo course: a published general-knowledge tour by the demo teacher, four lessons in
Markdown, the first with a lecture video drawn at seeding time, the last with the demo
question bank attached. Everything goes through the content service, as the API would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.content import service
from studyhall.content.demo_video import lecture_video
from studyhall.content.schemas import CourseIn, LessonIn
from studyhall.demo import DemoContext
from studyhall.identity.service import actor_for
from studyhall.platform.runtime import Platform

DEMO_COURSE = "General knowledge: a quick tour"
DEMO_SUMMARY = (
    "Physics, chemistry, numbers and the map of the world in four short lessons, "
    "with a video to try the player and practice questions from the demo bank."
)
DEMO_COVER = "/static/covers/general-knowledge.svg"
DEMO_LESSONS = Path(__file__).parent / "demo"
# (title, Markdown file); the first lesson gets the video, the last the question bank.
LESSONS = [
    ("How this course works", "1-how-this-course-works.md"),
    ("Forces, light and energy", "2-forces-light-and-energy.md"),
    ("Atoms and molecules", "3-atoms-and-molecules.md"),
    ("Numbers and the world", "4-numbers-and-the-world.md"),
]


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def seed_content(session: AsyncSession, platform: Platform, context: DemoContext) -> None:
    actor = actor_for(context.objects["teacher"], "bearer")
    owned = await service.list_courses(session, actor, mine=True, limit=200, offset=0)
    existing = next((course for course in owned if course.title == DEMO_COURSE), None)
    if existing is not None:
        context.objects["course_id"] = existing.id
        return
    # Drawing and encoding take about a second of CPU: off the event loop.
    video = await service.upload_video(
        session,
        platform,
        actor,
        content_type="video/webm",
        chunks=_once(await anyio.to_thread.run_sync(lecture_video)),
    )
    course = await service.create_course(
        session,
        platform,
        actor,
        CourseIn(title=DEMO_COURSE, summary=DEMO_SUMMARY, cover_url=DEMO_COVER, published=True),
    )
    for index, (title, file_name) in enumerate(LESSONS):
        lesson = LessonIn(
            title=title,
            body=(DEMO_LESSONS / file_name).read_text(encoding="utf-8"),
            video_id=video.id if index == 0 else None,
            bank_id=context.objects["bank_id"] if index == len(LESSONS) - 1 else None,
        )
        await service.add_lesson(session, platform, actor, course.id, lesson)
    context.objects["course_id"] = course.id
