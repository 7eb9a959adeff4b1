"""The two index implementations: the same order and the same answers for the same
operations, versions that never go backwards, and builds that lose no update."""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from studyhall.leaderboards.index import (
    Board,
    LeaderboardIndex,
    MemoryLeaderboardIndex,
    RedisLeaderboardIndex,
    Standing,
)
from tests.conftest import delete_prefix
from tests.services import REDIS_URL, require_redis

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BOARD = Board(uuid.UUID(int=1))


@contextlib.asynccontextmanager
async def _redis_index() -> AsyncIterator[RedisLeaderboardIndex]:
    require_redis()
    prefix = f"test:{uuid.uuid4().hex}:"
    client = Redis.from_url(REDIS_URL)
    try:
        yield RedisLeaderboardIndex(client, prefix)
    finally:
        await client.aclose()
        await delete_prefix(prefix)


@pytest.fixture
async def redis_index() -> AsyncIterator[RedisLeaderboardIndex]:
    async with _redis_index() as found:
        yield found


@pytest.fixture(params=["memory", "redis"])
async def index(request: pytest.FixtureRequest) -> AsyncIterator[LeaderboardIndex]:
    if request.param == "memory":
        yield MemoryLeaderboardIndex()
        return
    async with _redis_index() as found:
        yield found


def _standing(user: int, score: float, seconds: float, version: int = 1) -> Standing:
    return Standing(uuid.UUID(int=user), score, 4.0, T0 + timedelta(seconds=seconds), version)


async def _order(index: LeaderboardIndex, board: Board = BOARD) -> list[tuple[int, float]]:
    view = await index.read(board, top=100, user=None, radius=0)
    return [(item.standing.user_id.int, item.standing.score) for item in view.top]


async def test_higher_score_then_earlier_submit_then_higher_id(index: LeaderboardIndex) -> None:
    for standing in (
        _standing(1, 2.0, 10),
        _standing(2, 3.5, 30),
        _standing(3, 3.5, 20),
        _standing(4, 2.0, 10),  # the same score at the same microsecond as user 1
        _standing(5, 0.000001, 0),
    ):
        await index.apply([BOARD], standing)
    assert await _order(index) == [(3, 3.5), (2, 3.5), (4, 2.0), (1, 2.0), (5, 0.000001)]


async def test_a_late_older_version_never_replaces_a_newer_one(index: LeaderboardIndex) -> None:
    assert await index.apply([BOARD], _standing(1, 4.0, 5, version=2))
    assert not await index.apply([BOARD], _standing(1, 1.0, 1, version=1))
    assert not await index.apply([BOARD], _standing(1, 4.0, 5, version=2))
    view = await index.read(BOARD, top=10, user=uuid.UUID(int=1), radius=1)
    assert view.total == 1
    assert view.me is not None
    assert view.me.standing == _standing(1, 4.0, 5, version=2)


async def test_an_update_during_a_build_survives_the_swap(index: LeaderboardIndex) -> None:
    await index.apply([BOARD], _standing(1, 1.0, 1))
    assert await index.begin_build(BOARD, "builder")
    assert not await index.begin_build(BOARD, "another"), "one build at a time"
    # Committed after the builder read the database: only the live board has it.
    await index.apply([BOARD], _standing(1, 3.0, 9, version=2))
    await index.apply([BOARD], _standing(2, 2.0, 8))
    snapshot = [_standing(1, 1.0, 1), _standing(3, 4.0, 2)]
    assert await index.finish_build(BOARD, "builder", snapshot, built_at=100.0)
    view = await index.read(BOARD, top=10, user=None, radius=0)
    assert view.built_at == 100.0
    assert await _order(index) == [(3, 4.0), (1, 3.0), (2, 2.0)]
    assert await index.begin_build(BOARD, "next"), "the lock was given back"


async def test_a_build_that_lost_its_lock_changes_nothing(index: LeaderboardIndex) -> None:
    await index.apply([BOARD], _standing(1, 1.0, 1))
    assert await index.begin_build(BOARD, "slow")
    await index.abort_build(BOARD, "slow")
    assert not await index.finish_build(BOARD, "slow", [], built_at=1.0)
    assert await _order(index) == [(1, 1.0)]
    assert (await index.read(BOARD, top=1, user=None, radius=0)).built_at is None


async def test_both_indexes_answer_alike(redis_index: RedisLeaderboardIndex) -> None:
    """Random updates, builds and reads, the same on both: every read must agree."""
    rng = random.Random(7)
    memory = MemoryLeaderboardIndex()
    boards = [BOARD, Board(BOARD.exam_id, uuid.UUID(int=2))]
    versions: dict[int, int] = {}
    tokens: list[str] = []
    for step in range(400):
        board = rng.choice(boards)
        roll = rng.random()
        if roll < 0.6:
            user = rng.randint(1, 25)
            versions[user] = versions.get(user, 0) + rng.choice((-1, 1, 1, 2))
            standing = _standing(
                user, float(rng.randint(0, 8)) / 2, rng.randint(0, 20), max(versions[user], 1)
            )
            chosen = rng.sample(boards, rng.randint(1, 2))
            assert await memory.apply(chosen, standing) == await redis_index.apply(chosen, standing)
        elif roll < 0.7:
            tokens.append(token := f"t{step}")
            assert await memory.begin_build(board, token) == await redis_index.begin_build(
                board, token
            )
        elif roll < 0.8 and tokens:
            token = rng.choice(tokens)
            snapshot = [_standing(user, 1.0, user) for user in rng.sample(range(1, 26), 5)]
            assert await memory.finish_build(
                board, token, snapshot, float(step)
            ) == await redis_index.finish_build(board, token, snapshot, float(step))
        else:
            top, radius = rng.randint(1, 30), rng.randint(0, 6)
            user = uuid.UUID(int=rng.randint(1, 26))
            assert await memory.read(
                board, top=top, user=user, radius=radius
            ) == await redis_index.read(board, top=top, user=user, radius=radius), step
