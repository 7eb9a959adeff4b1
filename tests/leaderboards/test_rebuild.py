"""Acceptance: a rebuilt leaderboard equals the live one after 1,000 random submits, on
both deployments, and both equal what the attempt policies say they should be.

The submits go through the service layer, as a submit (or a grader) does: result rows
and ``results_final`` in one transaction. Eight transactions run at a time. In half the
rounds each carries one result, so results of the same student race each other; in the
other half each carries every result of its students in the round, as a burst of submits
does (a first attempt, a later one, two of one student together). One in ten results
first waits for a grade. The boards are built before
the first submit, so the live ones were kept by updates alone.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from click.testing import CliRunner

from studyhall.app import create_app, litestar_of
from studyhall.cli import main
from studyhall.config import load_settings
from studyhall.exams import service as exam_service
from studyhall.exams.models import ExamResult, ExamSession
from studyhall.leaderboards import boards, service
from studyhall.leaderboards.index import Board, BoardView
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.ids import new_id
from studyhall.platform.runtime import Platform
from tests.conftest import TEST_SECRET, serving
from tests.helpers import make_person
from tests.leaderboards.helpers import make_cohort, make_exam, take

SUBMITS = 1000
STUDENTS = 30
CONCURRENCY = 8
ROUND = 40
POLICIES = ("highest", "last", "first", "average")
MAX_SCORE = 4.0
EVERYONE = 10_000


@dataclass
class Attempt:
    exam_id: uuid.UUID
    user_id: uuid.UUID
    number: int
    session_id: uuid.UUID
    score: float
    submitted_at: datetime
    final: bool


async def _submit(platform: Platform, attempts: list[Attempt]) -> None:
    async with platform.sessions() as session, session.begin():
        results = []
        for attempt in attempts:
            at = attempt.submitted_at
            session.add(
                ExamSession(
                    id=attempt.session_id,
                    exam_id=attempt.exam_id,
                    user_id=attempt.user_id,
                    attempt=attempt.number,
                    status="SCORED" if attempt.final else "SCORING",
                    seed=0,
                    started_at=at - timedelta(minutes=5),
                    ends_at=at,
                    submit_by=at,
                    paused_at=None,
                    paused_seconds=0,
                    questions=[],
                    submitted_at=at,
                    submitted_by="student",
                )
            )
            await session.flush()
            result = ExamResult(
                session_id=attempt.session_id,
                exam_id=attempt.exam_id,
                user_id=attempt.user_id,
                score=attempt.score,
                max_score=MAX_SCORE,
                breakdown=[],
                pending_grades=0 if attempt.final else 1,
                submitted_at=at,
                scored_at=at,
            )
            session.add(result)
            if attempt.final:
                results.append(result)
        await session.flush()
        await exam_service.results_final(session, platform, results)


def _transactions(round_: list[Attempt], batched: bool) -> list[list[Attempt]]:
    """One result per transaction; or, batched, a transaction per group of students with
    all of their results in the round (disjoint students: concurrent batches never wait
    on each other's standings in a cycle, which a real burst makes rare, not impossible)."""
    if not batched:
        return [[attempt] for attempt in round_]
    groups: dict[int, list[Attempt]] = defaultdict(list)
    for attempt in round_:
        groups[attempt.user_id.int % CONCURRENCY].append(attempt)
    return list(groups.values())


async def _grade(platform: Platform, attempt: Attempt) -> None:
    async with platform.sessions() as session, session.begin():
        result = await session.get(ExamResult, attempt.session_id)
        assert result is not None
        result.pending_grades = 0
        await exam_service.results_final(session, platform, [result])
    attempt.final = True


def _expected(
    attempts: list[Attempt], board: Board, policy: str, members: set[uuid.UUID] | None
) -> list[tuple[int, uuid.UUID, float, datetime]]:
    """The board the policy describes, worked out here independently of the code."""
    by_student: dict[uuid.UUID, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        if (
            attempt.exam_id == board.exam_id
            and attempt.final
            and (members is None or attempt.user_id in members)
        ):
            by_student[attempt.user_id].append(attempt)
    standings = []
    for user_id, mine in by_student.items():
        mine.sort(key=lambda attempt: (attempt.submitted_at, attempt.session_id))
        if policy == "average":
            score = round(sum(attempt.score for attempt in mine) / len(mine), 6)
            at = mine[-1].submitted_at
        else:
            best = max(attempt.score for attempt in mine)
            chosen = {
                "highest": next(attempt for attempt in mine if attempt.score == best),
                "first": mine[0],
                "last": mine[-1],
            }[policy]
            score, at = chosen.score, chosen.submitted_at
        standings.append((user_id, score, at))
    # Higher score, then earlier submit, then (a tie to the microsecond) the higher user id.
    standings.sort(key=lambda row: (row[1], -row[2].timestamp(), row[0].hex), reverse=True)
    return [(rank, *row) for rank, row in enumerate(standings, start=1)]


def _listed(view: BoardView) -> list[tuple[int, uuid.UUID, float, datetime]]:
    return [
        (item.rank, item.standing.user_id, item.standing.score, item.standing.submitted_at)
        for item in view.top
    ]


async def _read(platform: Platform, board: Board) -> BoardView:
    async with platform.sessions() as session:
        return await boards.view(session, platform, board, top=EVERYONE, user=None, radius=0)


async def test_a_rebuilt_leaderboard_equals_the_live_one_after_1000_random_submits(
    client: httpx.AsyncClient, platform: Platform, clock: FakeClock
) -> None:
    rng = random.Random(20261130)
    teacher = await make_person(platform, Role.TEACHER)
    students = [
        await make_person(platform, Role.STUDENT, name=f"Student {n:02d}") for n in range(STUDENTS)
    ]
    cohorts: dict[uuid.UUID, set[uuid.UUID]] = {}
    for name in ("Red", "Green", "Blue"):
        chosen = rng.sample(students, STUDENTS // 2)
        cohort_id = uuid.UUID(await make_cohort(client, teacher, name, *chosen))
        cohorts[cohort_id] = {person.id for person in chosen}
    exams = {
        uuid.UUID(await make_exam(client, teacher, attemptPolicy=policy)): policy
        for policy in POLICIES
    }
    every_board = [Board(exam_id, cohort_id) for exam_id in exams for cohort_id in (None, *cohorts)]
    built = {board: (await _read(platform, board)).built_at for board in every_board}
    assert all(built.values()), "every board is built (empty) before the first submit"

    start = clock.now()
    attempts: list[Attempt] = []
    numbers: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    for index in range(SUBMITS):
        exam_id, user_id = rng.choice(list(exams)), rng.choice(students).id
        numbers[exam_id, user_id] += 1
        attempts.append(
            Attempt(
                exam_id=exam_id,
                user_id=user_id,
                number=numbers[exam_id, user_id],
                session_id=new_id(),
                score=float(rng.randint(0, 4)),
                submitted_at=start + timedelta(seconds=index // 4),  # several share a second
                final=rng.random() >= 0.1,
            )
        )
    first, batched = 0, False
    while first < SUBMITS:
        size = ROUND if batched else CONCURRENCY
        round_ = attempts[first : first + size]
        work = [_submit(platform, batch) for batch in _transactions(round_, batched)]
        waiting = [attempt for attempt in attempts[:first] if not attempt.final]
        if waiting and rng.random() < 0.5:
            work.append(_grade(platform, rng.choice(waiting)))
        await asyncio.gather(*work)
        first, batched = first + size, not batched
    assert any(not attempt.final for attempt in attempts), "some results still wait for a grade"

    live = {board: await _read(platform, board) for board in every_board}
    for board, view in live.items():
        assert view.built_at == built[board], "the live board was kept by updates, not rebuilt"
        members = cohorts[board.cohort_id] if board.cohort_id else None
        expected = _expected(attempts, board, exams[board.exam_id], members)
        assert _listed(view) == expected, board
        assert view.total == len(view.top)

    clock.advance(1)  # so a rebuild is told apart from the first build
    for exam_id in exams:
        report = await service.rebuild(platform, exam_id)
        assert (report.corrected, report.cohort_boards) == (0, len(cohorts))
    for board in every_board:
        rebuilt = await _read(platform, board)
        assert rebuilt.built_at is not None
        assert rebuilt.built_at > built[board]
        assert _listed(rebuilt) == _listed(live[board]), board


def test_the_rebuild_command(tmp_path: Path) -> None:
    """``studyhall leaderboard rebuild EXAM`` from the command line (embedded deployment)."""
    env = {
        "STUDYHALL_DATA_DIR": str(tmp_path),
        "STUDYHALL_SECRET_KEY": TEST_SECRET,
        "STUDYHALL_PASSWORD_HASH_PROFILE": "fast",
    }
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    exam_id = asyncio.run(_one_result(env))

    rebuilt = runner.invoke(main, ["leaderboard", "rebuild", exam_id], env=env)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "1 students, 0 cohort boards, 0 standings corrected" in rebuilt.output
    assert "rebuilds them from the database within 60 s" in rebuilt.output
    missing = runner.invoke(main, ["leaderboard", "rebuild", str(uuid.uuid4())], env=env)
    assert missing.exit_code == 1
    assert "No such exam" in missing.output


async def _one_result(env: dict[str, str]) -> str:
    """An exam with one final result, made through a running app on the same data."""
    settings = load_settings(env)
    app = create_app(settings, clock=FakeClock(datetime.now(UTC)))
    transport = httpx.ASGITransport(app=app)
    async with (
        serving(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client,
    ):
        platform: Platform = litestar_of(app).state.platform
        teacher = await make_person(platform, Role.TEACHER)
        student = await make_person(platform, Role.STUDENT)
        exam_id = await make_exam(client, teacher)
        await take(client, student, exam_id, 2)
    return exam_id


async def test_results_made_final_together_stand_as_their_policy_says(
    client: httpx.AsyncClient, platform: Platform, clock: FakeClock
) -> None:
    """One transaction finalises, for each policy: two first attempts of one student, the
    second attempt of a student already standing, a lone first attempt and a teacher's."""
    teacher = await make_person(platform, Role.TEACHER)
    ada, bea, cy = [await make_person(platform, Role.STUDENT, name=n) for n in ("A", "B", "C")]
    start = clock.now()
    attempts: list[Attempt] = []
    for policy in POLICIES:
        exam_id = uuid.UUID(await make_exam(client, teacher, attemptPolicy=policy))

        def attempt(user_id: uuid.UUID, number: int, score: float, second: int) -> Attempt:
            at = start + timedelta(seconds=second)
            return Attempt(exam_id, user_id, number, new_id(), score, at, final=True)  # noqa: B023 (called at once)

        earlier = attempt(cy.id, 1, 2.0, 0)
        await _submit(platform, [earlier])
        together = [
            attempt(ada.id, 1, 3.0, 1),
            attempt(cy.id, 2, 4.0, 2),
            attempt(ada.id, 2, 1.0, 3),
            attempt(bea.id, 1, 2.0, 4),
            attempt(teacher.id, 1, 4.0, 5),
        ]
        await _submit(platform, together)
        attempts += [earlier, *together[:-1]]  # a teacher is not ranked
        view = await _read(platform, Board(exam_id))
        assert _listed(view) == _expected(attempts, Board(exam_id), policy, None), policy
