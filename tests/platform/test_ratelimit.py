"""The rate limiter on both hot stores; windows move with the fake clock, never by sleeping."""

from __future__ import annotations

import asyncio

import pytest

from studyhall.platform.clock import FakeClock
from studyhall.platform.hotstore import HotStore, RedisHotStore
from studyhall.platform.ratelimit import RateDecision, RateLimiter
from tests.platform.conftest import RedisNamespace

WINDOW_SECONDS = 60


@pytest.fixture
def limiter(hot_store: HotStore, fake_clock: FakeClock) -> RateLimiter:
    return RateLimiter(hot_store, fake_clock)


async def test_allows_the_limit_then_refuses_until_the_window_ends(
    limiter: RateLimiter, fake_clock: FakeClock
) -> None:
    decisions = [
        await limiter.hit("login:ann", limit=3, window_seconds=WINDOW_SECONDS) for _ in range(3)
    ]
    assert decisions == [
        RateDecision(allowed=True, remaining=2, retry_after=0),
        RateDecision(allowed=True, remaining=1, retry_after=0),
        RateDecision(allowed=True, remaining=0, retry_after=0),
    ]
    fake_clock.advance(15.5)
    refused = await limiter.hit("login:ann", limit=3, window_seconds=WINDOW_SECONDS)
    assert refused == RateDecision(allowed=False, remaining=0, retry_after=45)


async def test_retry_after_rounds_up_to_a_whole_second(
    limiter: RateLimiter, fake_clock: FakeClock
) -> None:
    await limiter.hit("login:ann", limit=1, window_seconds=WINDOW_SECONDS)
    fake_clock.advance(WINDOW_SECONDS - 0.001)
    refused = await limiter.hit("login:ann", limit=1, window_seconds=WINDOW_SECONDS)
    assert refused.retry_after == 1


async def test_the_next_window_allows_again(limiter: RateLimiter, fake_clock: FakeClock) -> None:
    for _ in range(3):
        await limiter.hit("login:ann", limit=2, window_seconds=WINDOW_SECONDS)
    fake_clock.advance(WINDOW_SECONDS)
    allowed = await limiter.hit("login:ann", limit=2, window_seconds=WINDOW_SECONDS)
    assert allowed == RateDecision(allowed=True, remaining=1, retry_after=0)


async def test_keys_and_window_lengths_count_separately(limiter: RateLimiter) -> None:
    assert (await limiter.hit("login:ann", limit=1, window_seconds=WINDOW_SECONDS)).allowed
    assert (await limiter.hit("login:bob", limit=1, window_seconds=WINDOW_SECONDS)).allowed
    assert (await limiter.hit("login:ann", limit=1, window_seconds=10)).allowed
    assert not (await limiter.hit("login:ann", limit=1, window_seconds=WINDOW_SECONDS)).allowed


async def test_peek_answers_without_counting(limiter: RateLimiter, fake_clock: FakeClock) -> None:
    for _ in range(3):
        peeked = await limiter.peek("login:ann", limit=2, window_seconds=WINDOW_SECONDS)
        assert peeked == RateDecision(allowed=True, remaining=2, retry_after=0)
    for _ in range(2):
        await limiter.hit("login:ann", limit=2, window_seconds=WINDOW_SECONDS)
    fake_clock.advance(20)
    peeked = await limiter.peek("login:ann", limit=2, window_seconds=WINDOW_SECONDS)
    assert peeked == RateDecision(allowed=False, remaining=0, retry_after=40)


async def test_concurrent_hits_allow_exactly_the_limit(limiter: RateLimiter) -> None:
    decisions = await asyncio.gather(
        *(limiter.hit("burst", limit=10, window_seconds=WINDOW_SECONDS) for _ in range(50))
    )
    allowed = [decision for decision in decisions if decision.allowed]
    assert sorted(decision.remaining for decision in allowed) == list(range(10))
    assert all(decision.retry_after > 0 for decision in decisions if not decision.allowed)


async def test_redis_counters_expire_a_second_after_their_window(
    redis_namespace: RedisNamespace, fake_clock: FakeClock
) -> None:
    client, prefix = redis_namespace.client, redis_namespace.prefix
    limiter = RateLimiter(RedisHotStore(client, prefix), fake_clock)
    await limiter.hit("login:ann", limit=5, window_seconds=WINDOW_SECONDS)
    [counter] = await client.keys(f"{prefix}*")
    assert WINDOW_SECONDS * 1000 < await client.pttl(counter) <= (WINDOW_SECONDS + 1) * 1000
