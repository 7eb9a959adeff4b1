"""Redis (no persistence) is killed mid-exam and started again, empty.

While it is down, answers keep being saved (the journal is in PostgreSQL), submits are
scored, ``/readyz`` names Redis as the failing dependency and the leaderboard, which only
Redis holds, answers 503 ``hot_store_unavailable`` at once. Once Redis is back, ``/readyz``
is ready again and the leaderboard is rebuilt from the database with every result,
including those scored during the outage.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from tests.chaos.conftest import PrivateRedis
from tests.chaos.world import PI_POINTS, Exam, Seat, create_exam, seat_students, teacher_headers
from tests.exams.test_durability import _journal, migrate_with_a_teacher
from tests.processes import processes

pytestmark = [pytest.mark.chaos, pytest.mark.services]
STUDENTS = 30
BEFORE, DURING = 10, 10  # students who submit before the outage and during it


async def _readyz_until(http: httpx.AsyncClient, base: str, status: int) -> httpx.Response:
    for _ in range(200):
        response = await http.get(f"{base}/readyz")
        if response.status_code == status:
            return response
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never answered {status}")


async def _save_all(
    http: httpx.AsyncClient, base: str, exam: Exam, seats: list[Seat], value: float, key: str
) -> list[int]:
    responses = await asyncio.gather(
        *(
            http.put(
                f"{base}/api/v1/sessions/{seat.session_id}/answers",
                json={"questionId": exam.pi, "choice": value},
                headers={**seat.headers, "Idempotency-Key": key},
            )
            for seat in seats
        )
    )
    return [response.status_code for response in responses]


async def _submit(http: httpx.AsyncClient, base: str, seats: list[Seat]) -> list[float]:
    scores = []
    for seat in seats:
        submitted = await http.post(
            f"{base}/api/v1/sessions/{seat.session_id}/submit",
            headers={**seat.headers, "Idempotency-Key": "submit"},
        )
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["status"] == "SCORED"
        scores.append(submitted.json()["score"])
    return scores


async def _board(http: httpx.AsyncClient, base: str, exam: Exam) -> httpx.Response:
    teacher = await teacher_headers(http, base)
    return await http.get(f"{base}/api/v1/exams/{exam.id}/leaderboard?top=100", headers=teacher)


async def test_redis_restart_loses_no_answer_and_rebuilds_leaderboards_and_readiness(
    private_redis_env: dict[str, str], private_redis: PrivateRedis, tmp_path: Path
) -> None:
    env = private_redis_env
    with processes(env) as group:
        migrate_with_a_teacher(group)
        base = group.serve(tmp_path / "app.log")
        async with httpx.AsyncClient(timeout=10) as http:
            exam = await create_exam(http, base)
            seats = await seat_students(http, base, [exam], STUDENTS)
            acked: dict[str, float] = {}

            async def save_round(value: float) -> int:
                statuses = await _save_all(http, base, exam, seats, value, f"v{value}")
                for seat, status in zip(seats, statuses, strict=True):
                    if status == 200:
                        acked[seat.session_id] = value
                return statuses.count(200)

            before_saves = await save_round(1.0) + await save_round(3.14)
            await _submit(http, base, seats[:BEFORE])
            assert (await _board(http, base, exam)).json()["total"] == BEFORE
            await _readyz_until(http, base, 200)

            private_redis.kill()
            down = await _readyz_until(http, base, 503)
            # Any answer may be saved now; only the open sessions (not yet submitted) are asked.
            open_seats = seats[BEFORE:]
            during = await _save_all(http, base, exam, open_seats, 3.14, "during")
            for seat, status in zip(open_seats, during, strict=True):
                if status == 200:
                    acked[seat.session_id] = 3.14
            during_scores = await _submit(http, base, seats[BEFORE : BEFORE + DURING])
            started = time.monotonic()
            board_down = await _board(http, base, exam)
            board_down_seconds = time.monotonic() - started

            private_redis.start()
            back = await _readyz_until(http, base, 200)
            board_back = await _board(http, base, exam)
            await _submit(http, base, seats[BEFORE + DURING :])
            # Boards follow a commit within a second (an update task after it): ask again.
            board_after = await _board(http, base, exam)
            for _ in range(50):
                if board_after.json()["total"] == STUDENTS:
                    break
                await asyncio.sleep(0.1)
                board_after = await _board(http, base, exam)
            current = await asyncio.gather(
                *(
                    http.get(f"{base}/api/v1/sessions/{seat.session_id}", headers=seat.headers)
                    for seat in seats
                )
            )
        redis = Redis.from_url(private_redis.url)
        try:
            hot_keys = len([key async for key in redis.scan_iter(match="chaos:*")])
        finally:
            await redis.aclose()
    journal = await _journal(env)
    stored: dict[str, set[float]] = {}
    for session_id, response in journal:
        stored.setdefault(session_id, set()).add(float(response))
    missing = [
        session_id
        for session_id, value in acked.items()
        if value not in stored.get(uuid.UUID(session_id).hex, set())
    ]
    rebuilt = board_back.json() if board_back.status_code == 200 else {}
    print(
        f"\nsaves acknowledged: {before_saves} before the outage, {during.count(200)} during it; "
        f"{len(missing)} missing after the restart; /readyz during: {down.status_code} "
        f"{down.json().get('checks')}, after: {back.status_code} {back.json()['checks']}; "
        f"leaderboard during: {board_down.status_code} {board_down.json().get('code')} "
        f"in {board_down_seconds * 1000:.0f} ms; rebuilt after: {rebuilt.get('total')} of "
        f"{BEFORE + DURING} results, {board_after.json()['total']} once all {STUDENTS} submitted; "
        f"{hot_keys} hot keys in Redis again"
    )
    assert not missing
    assert during.count(200) == len(open_seats), "saves need no Redis"
    assert down.json()["code"] == "not_ready"
    assert down.json()["checks"]["redis"].startswith("failed")
    assert down.json()["checks"]["database"] == "ok"
    assert back.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert during_scores == [PI_POINTS] * DURING
    assert board_down.status_code == 503
    assert board_down.json()["code"] == "hot_store_unavailable"
    assert board_down.headers["retry-after"]
    assert board_back.status_code == 200, board_back.text
    assert rebuilt["total"] == BEFORE + DURING
    assert {entry["score"] for entry in rebuilt["top"]} == {PI_POINTS}
    assert board_after.json()["total"] == STUDENTS
    assert all(response.status_code == 200 for response in current)
    assert all([a["choice"] for a in response.json()["answers"]] == [3.14] for response in current)
    assert hot_keys > 0
