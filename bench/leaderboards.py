"""Leaderboard reads (issue 7): the top 100 and the reader's neighbours, on a full board.

Each deployment gets its own server on a fresh database (``bench.servers.serve``).
Setup is not timed and takes the exam scenarios' short cuts (``bench.exams``): the
teacher's 60-question exam goes through the API, N students are inserted directly with
tokens, the first starts a session through the API and the others' sessions copy it.
Then every session is marked SCORED and given a result (0 to 60 points, submitted at
random moments of the last hour; the per-question breakdown is left empty, a board
never reads it), and ``studyhall leaderboard rebuild EXAM`` computes the standings from
those results and builds the board: the Redis sorted sets on the scaled deployment. The
embedded server keeps its board in its own memory and builds it from the standings on
its first read, which the warm-up does: one reader first, alone (concurrent readers of a
board being built wait for it while holding a database connection, which the build
then lacks), then every other reader once, untimed; all must see N students. Timed,
both reading round robin as R distinct students, each with their own token, so the
"around me" window moves from read to read:

- closed loop: the saturated throughput, beside the bare ASGI handler sent the same GET
  and answering as many bytes, on the same connections;
- open loop at half that throughput, latency from each read's scheduled time.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import insert, update

from bench import exams
from bench.ceiling import Ceiling, Shape, share
from bench.loadgen import Request, Result, fixed_rate, saturate
from bench.servers import Server, studyhall
from studyhall.exams.models import ExamResult, ExamSession

TOP = 100
SATURATE_CONNECTIONS = 32
RATE_CONNECTIONS = 64
MIN_RATE = 50.0
SUBMITS_WITHIN = 3600.0
"""Seconds before the setup over which the results' submit times are spread."""


@dataclass(frozen=True)
class Sizes:
    board: int
    """Students on the board, one scored session each."""
    readers: int
    """Distinct students reading it."""
    seconds: float
    """Length of each measurement."""


FULL = Sizes(board=10_000, readers=2_000, seconds=8.0)
QUICK = Sizes(board=1_000, readers=200, seconds=1.0)


@dataclass(frozen=True)
class WarmRead:
    """What the untimed read of one reader showed."""

    total: int
    top: int
    rank: int | None


@dataclass
class BoardFigures:
    deployment: str
    sizes: Sizes
    total: int
    """Students on the board, as the readers saw it."""
    ranks: int
    """Distinct ranks among the readers' own entries."""
    saturated: Result
    rate: float
    timed: Result
    shape: Shape


# --- setup (not timed) --------------------------------------------------------------------


def _template(server: Server, exam_id: str, token: str) -> uuid.UUID:
    """A session started through the API, for the others to copy."""
    answer = httpx.post(
        f"{server.base}/api/v1/exams/{exam_id}/sessions", headers=exams.bearer(token), timeout=60
    )
    answer.raise_for_status()
    return uuid.UUID(answer.json()["sessionId"])


async def _score(server: Server, exam_id: str, seats: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Each (session, user) SCORED with a result, as if submitted within the last hour."""
    scores = random.Random(7)
    now = datetime.now(UTC)
    submitted = [now - timedelta(seconds=scores.uniform(0, SUBMITS_WITHIN)) for _ in seats]
    exam = uuid.UUID(exam_id)
    sessions = [
        {"id": session_id, "status": "SCORED", "submitted_at": at, "submitted_by": "student"}
        for (session_id, _), at in zip(seats, submitted, strict=True)
    ]
    results = [
        {
            "session_id": session_id,
            "exam_id": exam,
            "user_id": user_id,
            "score": float(scores.randint(0, exams.QUESTIONS)),
            "max_score": float(exams.QUESTIONS),
            "breakdown": [],
            "pending_grades": 0,
            "submitted_at": at,
            "scored_at": at,
        }
        for (session_id, user_id), at in zip(seats, submitted, strict=True)
    ]
    async with exams.open_platform(server) as platform, platform.sessions() as db, db.begin():
        for first in range(0, len(seats), 1000):
            await db.execute(update(ExamSession), sessions[first : first + 1000])
            await db.execute(insert(ExamResult), results[first : first + 1000])


async def _warm(server: Server, path: str, readers: list[tuple[uuid.UUID, str]]) -> list[WarmRead]:
    """One read per reader: builds the embedded board, fills the auth cache as a
    student's earlier visits would have, and shows what the board holds."""
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:

        async def read(index: int) -> WarmRead:
            answer = await client.get(path, headers=exams.bearer(readers[index][1]))
            answer.raise_for_status()
            board = answer.json()
            me = board["me"]
            return WarmRead(board["total"], len(board["top"]), me["rank"] if me else None)

        first = await read(0)
        rest: list[WarmRead] = await exams.each(len(readers) - 1, lambda index: read(index + 1))
        return [first, *rest]


def _board(server: Server, sizes: Sizes) -> tuple[str, list[tuple[uuid.UUID, str]]]:
    """A built board of ``sizes.board`` students: the exam's id, and every student."""
    teacher = asyncio.run(exams.users(server, 1, "teacher"))[0]
    exam_id, _questions = exams.exam(server, teacher[1])
    students = asyncio.run(exams.users(server, sizes.board, "student"))
    template = _template(server, exam_id, students[0][1])
    asyncio.run(exams.insert_sessions(server, template, students[1:]))
    sessions = asyncio.run(exams.seats_of(server, students))
    if len(sessions) != len(students):
        raise SystemExit(f"{server.deployment}: {len(sessions)} sessions for {len(students)}")
    seats = [(session, user) for (session, _), (user, _) in zip(sessions, students, strict=True)]
    asyncio.run(_score(server, exam_id, seats))
    subprocess.run(
        studyhall("leaderboard", "rebuild", exam_id),
        env=server.env,
        check=True,
        capture_output=True,
    )
    return exam_id, students


# --- the run ------------------------------------------------------------------------------


def _reads(path: str, readers: list[tuple[uuid.UUID, str]]) -> Callable[[int], Request]:
    def request(index: int) -> Request:
        return Request("GET", path, exams.bearer(readers[index % len(readers)][1]))

    return request


def run(server: Server, sizes: Sizes) -> BoardFigures:
    exam_id, students = _board(server, sizes)
    readers = students[:: max(1, len(students) // sizes.readers)][: sizes.readers]
    path = f"/api/v1/exams/{exam_id}/leaderboard?top={TOP}&around=me"
    warm = asyncio.run(_warm(server, path, readers))
    totals = {read.total for read in warm}
    if totals != {sizes.board} or any(read.rank is None for read in warm):
        raise SystemExit(f"{server.deployment}: the board is not full: totals {sorted(totals)}")
    reads = _reads(path, readers)
    saturated = asyncio.run(
        saturate(
            "127.0.0.1",
            server.port,
            reads,
            seconds=sizes.seconds,
            connections=SATURATE_CONNECTIONS,
        )
    )
    print(exams.line(server, "leaderboard, closed loop", saturated))
    rate = max(MIN_RATE, round(saturated.ok_throughput / 2, -1))
    timed = asyncio.run(
        fixed_rate(
            "127.0.0.1",
            server.port,
            reads,
            rate=rate,
            seconds=sizes.seconds,
            connections=RATE_CONNECTIONS,
        )
    )
    print(exams.line(server, f"leaderboard at {rate:.0f}/s", timed))
    return BoardFigures(
        deployment=server.deployment,
        sizes=sizes,
        total=warm[0].total,
        ranks=len({read.rank for read in warm}),
        saturated=saturated,
        rate=rate,
        timed=timed,
        shape=Shape.of(
            f"GET leaderboard top {TOP} + around me", reads(0), saturated, SATURATE_CONNECTIONS
        ),
    )


# --- docs/benchmarks.md section -----------------------------------------------------------


def section(figures: list[BoardFigures], header: str, ceiling: Ceiling) -> str:
    lines = [
        "## Leaderboards: top 100 and around me",
        "",
        header,
        f"`GET /api/v1/exams/{{id}}/leaderboard?top={TOP}&around=me` on a board of N scored",
        "sessions (one per student, 0 to 60 points), read round robin by R distinct students",
        "with their own bearer tokens, so the reader's entry and the 5 either side of it move",
        "from read to read. The board is the Redis sorted sets on the scaled deployment and",
        "the server's in-memory index on the embedded one, built before the timed reads.",
        f"Closed loop: {SATURATE_CONNECTIONS} connections back to back, beside the bare ASGI",
        "handler sent the same GET (answering as many bytes) on the same connections. Open",
        f"loop: half the closed-loop throughput over {RATE_CONNECTIONS} connections, latency",
        "from each read's scheduled time. No issue sets a speed target for it.",
        "",
        "| deployment | sessions on board | readers | distinct reader ranks "
        "| closed loop req/s | bare ASGI GET req/s | ratio | fixed rate req/s "
        "| p50 ms | p95 ms | p99 ms | errors | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for figure in figures:
        bare = ceiling.http(figure.shape)
        timed, saturated = figure.timed, figure.saturated
        lines.append(
            f"| {figure.deployment} | {figure.total:,} | {figure.sizes.readers:,} | "
            f"{figure.ranks:,} | {saturated.ok_throughput:.0f} | {bare.throughput:.0f} | "
            f"{share(saturated.ok_throughput, bare)} | {figure.rate:.0f} | "
            f"{exams.ms(timed, 0.5)} | {exams.ms(timed, 0.95)} | {exams.ms(timed, 0.99)} | "
            f"{saturated.errors + timed.errors} | no target |"
        )
    return "\n".join(lines) + "\n"
