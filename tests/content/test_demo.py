"""The demo course: published, four lessons, a playable lecture video and the demo bank,
made once however often the demo runs."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

import av
import httpx
from sqlalchemy import func, select

from studyhall.config import Settings
from studyhall.content.demo import DEMO_COURSE
from studyhall.content.models import Course, Lesson, Video
from studyhall.demo import seed_demo
from studyhall.platform.runtime import Platform
from studyhall.questions.demo import DEMO_BANK
from studyhall.questions.models import QuestionBank


async def _counts(platform: Platform, settings: Settings) -> tuple[int, ...]:
    async with platform.sessions() as session:
        rows = [
            await session.scalar(select(func.count()).select_from(model))
            for model in (Course, Lesson, Video)
        ]
    files = [path for path in Path(settings.data_dir, "media").rglob("*") if path.is_file()]
    return (*(int(n or 0) for n in rows), len(files))


async def test_the_demo_course_plays_its_video_and_is_seeded_once(
    platform: Platform, settings: Settings, client: httpx.AsyncClient
) -> None:
    logins = await seed_demo(platform)
    first = await _counts(platform, settings)
    assert first == (1, 4, 1, 1)
    await seed_demo(platform)
    assert await _counts(platform, settings) == first

    student = next(login for login in logins if login.role == "student")
    token = await client.post(
        "/api/v1/auth/token", json={"email": student.email, "password": student.password}
    )
    headers = {"Authorization": f"Bearer {token.json()['accessToken']}"}
    catalog = (await client.get("/api/v1/courses", headers=headers)).json()
    course = next(course for course in catalog if course["title"] == DEMO_COURSE)
    assert course["published"]
    assert course["lessonCount"] == 4

    detail = (await client.get(f"/api/v1/courses/{course['id']}", headers=headers)).json()
    lessons = detail["lessons"]
    assert [lesson["hasVideo"] for lesson in lessons] == [True, False, False, False]
    texts = [
        (await client.get(f"/api/v1/lessons/{lesson['id']}", headers=headers)).json()
        for lesson in lessons
    ]
    assert all("<h2>" in text["html"] for text in texts)
    async with platform.sessions() as session:
        bank_id = await session.scalar(
            select(QuestionBank.id).where(QuestionBank.name == DEMO_BANK)
        )
    assert texts[-1]["bankId"] == str(bank_id)

    link = await client.get(f"/api/v1/lessons/{lessons[0]['id']}/video-url", headers=headers)
    url = urlsplit(link.json()["url"])
    media = await client.get(f"{url.path}?{url.query}")
    assert media.status_code == 200
    assert media.headers["content-type"] == "video/webm"
    with av.open(io.BytesIO(media.content)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 200
