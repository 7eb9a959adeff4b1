"""Two app processes on one PostgreSQL and Redis; 100 students save into one of them, which
is killed with SIGKILL mid-stream. Every acknowledged save must be in the journal, and each
session carries on at the other node: it shows the last save and takes further ones."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from tests.chaos.world import create_exam, seat_students
from tests.exams.test_durability import _journal, _stream, migrate_with_a_teacher
from tests.processes import processes

pytestmark = [pytest.mark.chaos, pytest.mark.services]
STUDENTS = 100
SAVES_BEFORE_THE_KILL = 10 * STUDENTS


async def test_acknowledged_saves_survive_app_kill_9_and_sessions_resume_on_the_other_node(
    shared_redis_env: dict[str, str], tmp_path: Path
) -> None:
    with processes(shared_redis_env) as group:
        migrate_with_a_teacher(group)
        doomed = group.serve(tmp_path / "doomed.log")
        doomed_process = group.running[-1]
        survivor = group.serve(tmp_path / "survivor.log")
        limits = httpx.Limits(max_connections=STUDENTS + 10)
        async with httpx.AsyncClient(timeout=10, limits=limits) as http:
            exam = await create_exam(http, doomed)
            seats = await seat_students(http, doomed, [exam], STUDENTS)
            acknowledged: list[list[float]] = [[] for _ in seats]
            in_flight: list[list[float]] = [[] for _ in seats]
            stop = asyncio.Event()
            streams = [
                asyncio.create_task(
                    _stream(
                        http, doomed, (seat.headers, seat.session_id, exam.pi), acked, flying, stop
                    )
                )
                for seat, acked, flying in zip(seats, acknowledged, in_flight, strict=True)
            ]
            while sum(map(len, acknowledged)) < SAVES_BEFORE_THE_KILL:
                await asyncio.sleep(0.05)
            await asyncio.to_thread(group.kill_9, doomed_process)
            await asyncio.gather(*streams)
            acked_total = sum(map(len, acknowledged))

            # The same sessions, on the node that is left: reads show the last save...
            resumed = await asyncio.gather(
                *(
                    http.get(f"{survivor}/api/v1/sessions/{seat.session_id}", headers=seat.headers)
                    for seat in seats
                )
            )
            # ...and saves carry on.
            further = await asyncio.gather(
                *(
                    http.put(
                        f"{survivor}/api/v1/sessions/{seat.session_id}/answers",
                        json={"questionId": exam.pi, "choice": 1e6},
                        headers={**seat.headers, "Idempotency-Key": "after-the-kill"},
                    )
                    for seat in seats
                )
            )
    journal = await _journal(shared_redis_env)
    stored: dict[str, set[float]] = {}
    for session_id, response in journal:
        stored.setdefault(session_id, set()).add(float(response))
    missing = [
        (seat.session_id, value)
        for seat, acked in zip(seats, acknowledged, strict=True)
        for value in acked
        if value not in stored.get(uuid.UUID(seat.session_id).hex, set())
    ]
    shows_last = sum(
        response.status_code == 200
        and [a["choice"] for a in response.json()["answers"]] in ([acked[-1]], [*flying])
        for response, acked, flying in zip(resumed, acknowledged, in_flight, strict=True)
    )
    saved_after = sum(response.status_code == 200 for response in further)
    print(
        f"\n{acked_total} saves acknowledged by the killed node, {len(journal)} journalled, "
        f"{len(missing)} missing; {shows_last}/{STUDENTS} sessions resumed on the other node "
        f"with their last save, {saved_after}/{STUDENTS} saved again there"
    )
    assert not missing, f"acknowledged saves lost: {missing[:10]}"
    assert shows_last == STUDENTS
    assert saved_after == STUDENTS, {r.status_code for r in further}
    assert all(1e6 in stored[uuid.UUID(seat.session_id).hex] for seat in seats)
