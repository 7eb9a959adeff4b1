"""Keeping the boards in step with ``exam_standings`` and reading them.

- A committed change of a standing is put on the boards right after the commit, then
  announced on the exam's pub/sub channel, so viewers on every node refresh at once.
- A board that was never built, or was lost (Redis restarted, the process restarted, a
  board evicted), is built from the database by its first reader.
- A board older than ``REFRESH_SECONDS`` is rebuilt by one of its readers. That bounds
  how long anything the update path could miss stays wrong: a process killed between a
  commit and its board update, a cohort whose members changed, a standing corrected by
  ``studyhall leaderboard rebuild`` in another process.
- A reader first puts their own standing from the database on the board (a no-op when
  the board has it), so a student always sees their own result, on any node.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
import weakref

import msgspec
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from studyhall.identity import repository as identity_repository
from studyhall.leaderboards import repository
from studyhall.leaderboards.index import (
    BUILD_LOCK_SECONDS,
    Board,
    BoardView,
    LeaderboardIndex,
    MemoryLeaderboardIndex,
    RedisLeaderboardIndex,
    Standing,
)
from studyhall.leaderboards.repository import StoredStanding
from studyhall.platform.errors import ServiceUnavailable
from studyhall.platform.runtime import Platform

REFRESH_SECONDS = 60.0
_BUILD_WAIT_SECONDS = 5.0
_BUILD_POLL_SECONDS = 0.05
_UPDATES = "studyhall.leaderboards.updates"
logger = logging.getLogger("studyhall.leaderboards")


def channel(exam_id: uuid.UUID) -> str:
    """Where changes of an exam's boards are announced (the payload is informative only)."""
    return f"leaderboard:{exam_id}"


def standing_of(row: StoredStanding) -> Standing:
    return Standing(row.user_id, row.score, row.max_score, row.submitted_at, row.version)


class _Live:
    """One process's index for a running platform, and its board updates in flight."""

    def __init__(self, platform: Platform) -> None:
        self.index: LeaderboardIndex = (
            MemoryLeaderboardIndex()
            if platform.redis is None
            else RedisLeaderboardIndex(platform.redis, platform.settings.redis_prefix)
        )
        self.in_flight: dict[uuid.UUID, set[asyncio.Task[None]]] = {}


# Platform has no slot for the index; its hot store lives exactly as long as it does.
_live: weakref.WeakKeyDictionary[object, _Live] = weakref.WeakKeyDictionary()


def _live_for(platform: Platform) -> _Live:
    live = _live.get(platform.hot)
    if live is None:
        live = _live[platform.hot] = _Live(platform)
    return live


def index_of(platform: Platform) -> LeaderboardIndex:
    return _live_for(platform).index


# --- updates ---------------------------------------------------------------------------------


def update_after_commit(
    session: AsyncSession, platform: Platform, exam_id: uuid.UUID, standing: Standing
) -> None:
    """Once ``session`` commits, put ``standing`` on the exam's boards and announce it; a
    rollback forgets it."""
    updates: list[tuple[uuid.UUID, Standing]] | None = session.info.get(_UPDATES)
    if updates is None:
        updates = session.info[_UPDATES] = []
        loop = asyncio.get_running_loop()

        def committed(_session: Session) -> None:
            _start(loop, platform, session.info.pop(_UPDATES, []))

        def rolled_back(_session: Session) -> None:
            session.info.pop(_UPDATES, None)

        event.listen(session.sync_session, "after_commit", committed, once=True)
        event.listen(session.sync_session, "after_rollback", rolled_back, once=True)
    updates.append((exam_id, standing))


def _start(
    loop: asyncio.AbstractEventLoop,
    platform: Platform,
    updates: list[tuple[uuid.UUID, Standing]],
) -> None:
    """One task for everything a commit changed (a burst of submits commits hundreds)."""
    if not updates:
        return
    live = _live_for(platform)
    task = loop.create_task(_put(platform, live.index, updates))
    exam_ids = {exam_id for exam_id, _ in updates}
    for exam_id in exam_ids:
        live.in_flight.setdefault(exam_id, set()).add(task)

    def done(_task: asyncio.Task[None]) -> None:
        for exam_id in exam_ids:
            tasks = live.in_flight.get(exam_id)
            if tasks is not None:
                tasks.discard(task)
                if not tasks:
                    del live.in_flight[exam_id]

    task.add_done_callback(done)


async def _put(
    platform: Platform, index: LeaderboardIndex, updates: list[tuple[uuid.UUID, Standing]]
) -> None:
    """The exams' boards and the boards of the students' cohorts (looked up here, after
    the commit, to keep the scoring transaction short), then one announcement per exam."""
    try:
        async with platform.sessions() as session:
            cohorts = await repository.cohorts_among(
                session, [standing.user_id for _, standing in updates]
            )
        for exam_id, standing in updates:
            boards = [
                Board(exam_id),
                *(Board(exam_id, cohort_id) for cohort_id in cohorts.get(standing.user_id, ())),
            ]
            await index.apply(boards, standing)
        users: dict[uuid.UUID, set[uuid.UUID]] = {}
        for exam_id, standing in updates:
            users.setdefault(exam_id, set()).add(standing.user_id)
        for exam_id, changed in users.items():
            await announce(platform, exam_id, next(iter(changed)) if len(changed) == 1 else None)
    except Exception:  # the board's next refresh, or the student's next read, repairs it
        logger.warning("could not update the leaderboards after a commit", exc_info=True)


async def announce(platform: Platform, exam_id: uuid.UUID, user_id: uuid.UUID | None) -> None:
    message = {"examId": str(exam_id), "userId": str(user_id) if user_id else None}
    await platform.pubsub.publish(channel(exam_id), msgspec.json.encode(message))


async def settled(platform: Platform, exam_id: uuid.UUID) -> None:
    """Wait for this process's committed updates of the exam's boards, so a read on the
    node that made a result final always shows it."""
    loop = asyncio.get_running_loop()
    tasks = _live_for(platform).in_flight.get(exam_id, set())
    pending = [task for task in tasks if task.get_loop() is loop]
    if pending:
        await asyncio.wait(pending)


# --- builds ----------------------------------------------------------------------------------


async def build(platform: Platform, board: Board) -> bool:
    """Rebuild the board from the database; False when another build holds it."""
    index = index_of(platform)
    token = secrets.token_hex(8)
    if not await index.begin_build(board, token):
        return False
    try:
        # A transaction of its own, begun after the lock: whatever it does not see was
        # committed later, so its update is queued for the swap.
        async with platform.sessions() as session:
            rows = await repository.board_standings(session, board.exam_id, board.cohort_id)
        built = await index.finish_build(
            board, token, [standing_of(row) for row in rows], platform.clock.timestamp()
        )
    except BaseException:
        await index.abort_build(board, token)
        raise
    if built:
        await announce(platform, board.exam_id, None)
    return built


async def rebuild(platform: Platform, board: Board) -> None:
    """Build the board now, after any build already running."""
    for _ in range(round(_BUILD_WAIT_SECONDS / _BUILD_POLL_SECONDS)):
        if await build(platform, board):
            return
        await asyncio.sleep(_BUILD_POLL_SECONDS)
    raise ServiceUnavailable(
        "Another build of this leaderboard is running (or its process died holding the "
        f"lock, which expires within {BUILD_LOCK_SECONDS:.0f} s); try again shortly"
    )


async def _until_built(index: LeaderboardIndex, board: Board) -> None:
    """Give a first build running elsewhere a moment to finish."""
    for _ in range(round(_BUILD_WAIT_SECONDS / _BUILD_POLL_SECONDS)):
        await asyncio.sleep(_BUILD_POLL_SECONDS)
        if (await index.read(board, top=1, user=None, radius=0)).built_at is not None:
            return


# --- reads -----------------------------------------------------------------------------------


async def _heal(
    session: AsyncSession, index: LeaderboardIndex, board: Board, user_id: uuid.UUID
) -> None:
    row = await repository.standing(session, board.exam_id, user_id)
    if row is None or row.version == 0:
        return
    if board.cohort_id is not None and not await identity_repository.is_cohort_member(
        session, board.cohort_id, user_id
    ):
        return
    await index.apply([board], standing_of(row))


async def view(
    session: AsyncSession,
    platform: Platform,
    board: Board,
    *,
    top: int,
    user: uuid.UUID | None,
    radius: int,
) -> BoardView:
    """The board's first ``top`` entries and ``user``'s rank with ``radius`` neighbours
    either side, building or refreshing the board first when it needs it."""
    if top < 1 or radius < 0:
        raise ValueError("top must be at least 1 and radius not negative")
    await settled(platform, board.exam_id)
    index = index_of(platform)
    if user is not None:
        await _heal(session, index, board, user)
    found = await index.read(board, top=top, user=user, radius=radius)
    if found.built_at is None:
        if not await build(platform, board):
            # Wait without a pooled connection: the build needs one, and a crowd of
            # first readers would otherwise hold them all until the wait runs out.
            # Nothing is written on this path, so ending the transaction loses nothing.
            await session.commit()
            await _until_built(index, board)
    elif platform.clock.timestamp() - found.built_at < REFRESH_SECONDS:
        return found
    elif not await build(platform, board):
        return found  # another reader is refreshing it
    return await index.read(board, top=top, user=user, radius=radius)


async def rank(
    session: AsyncSession, platform: Platform, exam_id: uuid.UUID, user_id: uuid.UUID
) -> int | None:
    """The student's place on the exam's board: None without a final result, or while the
    index cannot be reached (a result page still shows the score)."""
    try:
        found = await view(session, platform, Board(exam_id), top=1, user=user_id, radius=0)
    except RedisError:
        logger.warning("no rank for exam %s: the leaderboard index is unreachable", exam_id)
        return None
    return found.me.rank if found.me else None
