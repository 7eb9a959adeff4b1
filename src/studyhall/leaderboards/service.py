"""Leaderboard rules: who may read which board, what a reader gets, the live stream, and
the rebuild an operator runs.

Whoever may see the exam may see its whole board (students of its cohort, or every
student for an exam without one; its teacher; admins): names and scores, never emails.
A cohort filter takes cohorts the reader knows: a student's own, a teacher's own or the
exam's, any for an admin; another cohort is as missing as one that does not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.exams import repository as exam_repository
from studyhall.exams.models import Exam
from studyhall.exams.service import NotInCohort
from studyhall.identity import repository as identity_repository
from studyhall.leaderboards import boards, repository, standings
from studyhall.leaderboards.index import Board, Ranked
from studyhall.leaderboards.schemas import EntryOut, LeaderboardOut
from studyhall.platform.auth import Actor, ensure_owner_or_admin
from studyhall.platform.errors import DomainError, NotFound, hot_store_outage
from studyhall.platform.pubsub import Subscription
from studyhall.platform.runtime import Platform

AROUND_RADIUS = 5
DEFAULT_TOP = 100
MAX_TOP = 1000
KEEP_ALIVE_SECONDS = 15.0
SETTLE_SECONDS = 0.25  # how long a change waits for others to join it in one view
# A stream ends after this long; the browser reconnects at once, which checks access again.
STREAM_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class LeaderboardQuery:
    top: int = DEFAULT_TOP
    around: bool = False
    cohort_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class RebuildReport:
    students: int
    cohort_boards: int
    corrected: int


async def _visible_exam(session: AsyncSession, actor: Actor, exam_id: uuid.UUID) -> Exam:
    exam = await exam_repository.exam_by_id(session, exam_id)
    if exam is None:
        raise NotFound("No such exam")
    if actor.is_staff:
        ensure_owner_or_admin(actor, exam.owner_id, what="exam")
    elif exam.cohort_id is not None and not await identity_repository.is_cohort_member(
        session, exam.cohort_id, actor.user_id
    ):
        raise NotInCohort()
    return exam


async def _board(
    session: AsyncSession, actor: Actor, exam: Exam, cohort_id: uuid.UUID | None
) -> Board:
    if cohort_id is None:
        return Board(exam.id)
    cohort = await identity_repository.cohort_by_id(session, cohort_id)
    if cohort is None:
        raise NotFound("No such cohort")
    if actor.is_admin:
        allowed = True
    elif actor.is_staff:
        allowed = actor.user_id == cohort.owner_id or cohort.id == exam.cohort_id
    else:
        allowed = await identity_repository.is_cohort_member(session, cohort.id, actor.user_id)
    if not allowed:
        raise NotFound("No such cohort")
    return Board(exam.id, cohort.id)


def _entry(ranked: Ranked, names: dict[uuid.UUID, str]) -> EntryOut:
    standing = ranked.standing
    return EntryOut(
        rank=ranked.rank,
        user_id=standing.user_id,
        display_name=names.get(standing.user_id, ""),
        score=standing.score,
        percentage=(
            round(100 * standing.score / standing.max_score, 2) if standing.max_score else 0.0
        ),
        submitted_at=standing.submitted_at,
    )


async def _read(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    exam: Exam,
    board: Board,
    query: LeaderboardQuery,
) -> LeaderboardOut:
    try:
        found = await boards.view(
            session,
            platform,
            board,
            top=query.top,
            user=actor.user_id,
            radius=AROUND_RADIUS if query.around else 0,
        )
    except RedisError as exc:
        raise hot_store_outage("The leaderboard cannot be read right now") from exc
    around = found.around if query.around else []
    names = await repository.names(
        session, [item.standing.user_id for item in (*found.top, *around)]
    )
    return LeaderboardOut(
        exam_id=exam.id,
        exam_title=exam.title,
        attempt_policy=exam.attempt_policy,
        cohort_id=board.cohort_id,
        total=found.total,
        top=[_entry(item, names) for item in found.top],
        me=_entry(found.me, names) if found.me else None,
        around=[_entry(item, names) for item in around],
    )


async def leaderboard(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    exam_id: uuid.UUID,
    query: LeaderboardQuery,
) -> LeaderboardOut:
    """The top of the board, the caller's own entry and, asked for, their neighbours."""
    exam = await _visible_exam(session, actor, exam_id)
    board = await _board(session, actor, exam, query.cohort_id)
    return await _read(session, platform, actor, exam, board, query)


async def stream(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    exam_id: uuid.UUID,
    query: LeaderboardQuery,
) -> AsyncIterator[LeaderboardOut | None]:
    """Check access now, then follow the board: the current view, then a new one whenever
    it changed (None, now and then, when nothing did: a keep-alive)."""
    exam = await _visible_exam(session, actor, exam_id)
    await _board(session, actor, exam, query.cohort_id)
    return _follow(platform, actor, exam.id, query)


@contextlib.asynccontextmanager
async def _subscribed(platform: Platform, exam_id: uuid.UUID) -> AsyncIterator[Subscription]:
    """Litestar cancels the stream of a client that left, and keeps cancelling each await
    until the stream ends: leaving the subscription (an UNSUBSCRIBE in Redis when it is
    the node's last viewer of the board) is shielded."""
    subscription = platform.pubsub.subscribe(boards.channel(exam_id))
    await subscription.__aenter__()
    try:
        yield subscription
    finally:
        with anyio.CancelScope(shield=True):
            await subscription.__aexit__(None, None, None)


async def _follow(
    platform: Platform, actor: Actor, exam_id: uuid.UUID, query: LeaderboardQuery
) -> AsyncIterator[LeaderboardOut | None]:
    """Each announcement on the exam's channel marks the view stale. A stale view is
    recomputed ``SETTLE_SECONDS`` later, so a burst of results (a class submitting at the
    bell) costs each viewer a few views a second, not one per result."""
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + STREAM_SECONDS
    stale = asyncio.Event()
    async with _subscribed(platform, exam_id) as messages:

        async def listen() -> None:
            async for _message in messages:
                stale.set()

        listener = asyncio.create_task(listen())
        try:
            last: LeaderboardOut | None = None
            while not listener.done() and loop.time() < ends_at:
                stale.clear()
                try:
                    async with platform.sessions() as session:
                        current = await leaderboard(session, platform, actor, exam_id, query)
                except DomainError:  # access was taken away meanwhile
                    return
                if current != last:
                    yield current
                    last = current
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stale.wait(), KEEP_ALIVE_SECONDS)
                if stale.is_set():
                    await asyncio.sleep(SETTLE_SECONDS)
                else:
                    yield None
        finally:
            listener.cancel()
            with (
                anyio.CancelScope(shield=True),
                contextlib.suppress(asyncio.CancelledError, Exception),
            ):
                await listener


async def rebuild(platform: Platform, exam_id: uuid.UUID) -> RebuildReport:
    """Recompute every standing of the exam from its results, then rebuild its board and
    every cohort board with a member on it from the database."""
    async with platform.sessions() as session, session.begin():
        exam = await exam_repository.exam_by_id(session, exam_id)
        if exam is None:
            raise NotFound(f"No such exam {exam_id}")
        corrected = await standings.recompute(session, platform, exam)
    await boards.settled(platform, exam_id)
    async with platform.sessions() as session:
        students = len(await repository.board_standings(session, exam_id, None))
        cohorts = await repository.cohorts_of_exam(session, exam_id)
    for board in [Board(exam_id), *(Board(exam_id, cohort_id) for cohort_id in cohorts)]:
        await boards.rebuild(platform, board)
    return RebuildReport(students=students, cohort_boards=len(cohorts), corrected=corrected)
