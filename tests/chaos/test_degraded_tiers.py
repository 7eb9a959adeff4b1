"""Seed 000: content stays up when the scoring tier degrades.

With every worker stopped, and then with Redis down, the catalog, lessons, videos and exam
pages still answer 200. Work for the missing worker is accepted and queued, and done once
a worker is back; a write that only Redis can serve (a live game) fails fast with 503
``hot_store_unavailable`` and ``Retry-After``, and succeeds once Redis is back.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.chaos.conftest import PrivateRedis
from tests.chaos.world import Exam, create_exam, database, register, teacher_headers
from tests.exams.test_durability import migrate_with_a_teacher
from tests.helpers import PASSWORD
from tests.payments.conftest import VIDEO
from tests.processes import processes, studyhall

pytestmark = [pytest.mark.chaos, pytest.mark.services]
QUESTION = {
    "type": "single",
    "text": "Red planet?",
    "options": ["Venus", "Mars"],
    "correctOptions": [1],
    "timeLimitSeconds": 5,
}


async def _catalog(http: httpx.AsyncClient, base: str, teacher: dict[str, str]) -> dict[str, str]:
    """A published course with a video lesson: the ids the reads need."""
    course = await http.post(
        f"{base}/api/v1/courses", json={"title": "Physics", "published": True}, headers=teacher
    )
    assert course.status_code == 201, course.text
    video = await http.post(
        f"{base}/api/v1/videos", content=VIDEO, headers={**teacher, "content-type": "video/mp4"}
    )
    assert video.status_code == 201, video.text
    lesson = await http.post(
        f"{base}/api/v1/courses/{course.json()['id']}/lessons",
        json={"title": "Orbits", "videoId": video.json()["id"]},
        headers=teacher,
    )
    assert lesson.status_code == 201, lesson.text
    return {"course": course.json()["id"], "lesson": lesson.json()["id"]}


async def _reads(
    http: httpx.AsyncClient,
    base: str,
    student: dict[str, str],
    ids: dict[str, str],
    exam: Exam,
    session_id: str,
) -> dict[str, int]:
    """Status of every content read and exam page a student makes, by path."""
    paths = [
        "/api/v1/courses",
        f"/api/v1/courses/{ids['course']}",
        f"/api/v1/lessons/{ids['lesson']}",
        "/courses",
        f"/courses/{ids['course']}",
        f"/lessons/{ids['lesson']}",
        "/exams",
        f"/exams/{exam.id}",
        f"/sessions/{session_id}",
        f"/api/v1/sessions/{session_id}",
    ]
    statuses = {}
    for path in paths:
        statuses[path] = (await http.get(f"{base}{path}", headers=student)).status_code
    signed = await http.get(f"{base}/api/v1/lessons/{ids['lesson']}/video-url", headers=student)
    statuses["video-url"] = signed.status_code
    if signed.status_code == 200:
        video = await http.get(f"{base}{signed.json()['url']}")
        statuses["video"] = video.status_code if video.content == VIDEO else -1
    return statuses


def _ok(statuses: dict[str, int]) -> str:
    failed = {path: status for path, status in statuses.items() if status != 200}
    return f"{len(statuses) - len(failed)}" + (f" (failed: {failed})" if failed else "")


async def test_content_reads_stay_up_without_workers_or_redis_and_writes_catch_up(
    private_redis_env: dict[str, str], private_redis: PrivateRedis, tmp_path: Path
) -> None:
    env = private_redis_env
    with processes(env) as group:
        migrate_with_a_teacher(group)
        base = group.serve(tmp_path / "app.log")
        worker = group.start(studyhall("worker"), tmp_path / "worker-1.log")
        async with httpx.AsyncClient(timeout=30) as http:
            teacher = await teacher_headers(http, base)
            ids = await _catalog(http, base, teacher)
            exam = await create_exam(http, base)
            short = await create_exam(http, base, duration_seconds=1, title="Short")
            quiz = await http.post(
                f"{base}/api/v1/quizzes",
                json={"title": "Q", "questions": [QUESTION]},
                headers=teacher,
            )
            assert quiz.status_code == 201, quiz.text
            student = await register(http, base, "student@example.org")
            session_id = (
                await http.post(f"{base}/api/v1/exams/{exam.id}/sessions", headers=student)
            ).json()["sessionId"]
            healthy = await _reads(http, base, student, ids, exam, session_id)

            # Tier 1: every worker stopped.
            await asyncio.to_thread(group.kill_9, worker)
            no_worker = await _reads(http, base, student, ids, exam, session_id)
            expiring = await http.post(f"{base}/api/v1/exams/{short.id}/sessions", headers=student)
            assert expiring.status_code == 201, expiring.text
            expiring_id = expiring.json()["sessionId"]
            async with database(env) as db:
                while await db.fetchval(
                    "SELECT submit_by > now() FROM exam_sessions WHERE id = $1::uuid", expiring_id
                ):
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.5)  # a worker would have submitted it by now
                status_without_worker = await db.fetchval(
                    "SELECT status FROM exam_sessions WHERE id = $1::uuid", expiring_id
                )
                group.start(studyhall("worker"), tmp_path / "worker-2.log")
                deadline = time.monotonic() + 30
                while (
                    status_with_worker := await db.fetchval(
                        "SELECT status FROM exam_sessions WHERE id = $1::uuid", expiring_id
                    )
                ) == "ACTIVE":
                    assert time.monotonic() < deadline, "the worker never caught up"
                    await asyncio.sleep(0.1)

            # Tier 2: Redis down.
            private_redis.kill()
            no_redis = await _reads(http, base, student, ids, exam, session_id)
            signed_in = await http.post(
                f"{base}/api/v1/auth/token",
                json={"email": "student@example.org", "password": PASSWORD},
            )
            started = time.monotonic()
            refused = await http.post(
                f"{base}/api/v1/quizzes/{quiz.json()['id']}/games", headers=teacher
            )
            refused_seconds = time.monotonic() - started

            private_redis.start()
            deadline = time.monotonic() + 30
            while (ready := await http.get(f"{base}/readyz")).status_code != 200:
                assert time.monotonic() < deadline, ready.text
                await asyncio.sleep(0.1)
            retried = await http.post(
                f"{base}/api/v1/quizzes/{quiz.json()['id']}/games", headers=teacher
            )
            joined = (
                await http.post(
                    f"{base}/api/v1/quizzes/{retried.json()['joinCode']}/join",
                    json={"participantName": "Ada"},
                )
                if retried.status_code == 201
                else retried
            )
    print(
        f"\nreads answering 200 (of {len(healthy)}): healthy {_ok(healthy)}, with no worker "
        f"{_ok(no_worker)}, with Redis down {_ok(no_redis)}\n"
        f"expired session without a worker: {status_without_worker}, once one is back: "
        f"{status_with_worker}\nsign-in with Redis down: "
        f"{signed_in.status_code}; live game with Redis down: {refused.status_code} "
        f"{refused.json().get('code')} Retry-After={refused.headers.get('retry-after')} in "
        f"{refused_seconds * 1000:.0f} ms; after Redis is back: {retried.status_code}, "
        f"join {joined.status_code}"
    )
    assert set(healthy.values()) == {200}, healthy
    assert no_worker == healthy
    assert no_redis == healthy
    assert (status_without_worker, status_with_worker) == ("ACTIVE", "SCORED")
    assert signed_in.status_code == 200
    assert refused.status_code == 503
    assert refused.json()["code"] == "hot_store_unavailable"
    assert refused.headers["retry-after"]
    assert retried.status_code == 201, retried.text
    assert joined.status_code == 200, joined.text
