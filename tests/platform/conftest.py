"""Backends for the platform contract suites: each test runs in-process and on Redis.

The Redis variant works under a fresh key prefix and deletes every key under
it afterwards, so runs never see each other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from studyhall.platform.clock import FakeClock
from studyhall.platform.hotstore import HotStore, MemoryHotStore, RedisHotStore, connect_redis
from studyhall.platform.pubsub import MemoryPubSub, PubSub, RedisPubSub
from tests.services import REDIS_URL, require_redis


@dataclass(frozen=True)
class RedisNamespace:
    client: Redis
    prefix: str


@pytest.fixture
def fake_clock() -> FakeClock:
    """Starts on a whole minute (FakeClock's default), so window arithmetic is exact."""
    return FakeClock()


@pytest.fixture
async def redis_namespace() -> AsyncIterator[RedisNamespace]:
    require_redis()
    client = await connect_redis(REDIS_URL)
    namespace = RedisNamespace(client, f"test:{uuid.uuid4().hex}:")
    try:
        yield namespace
    finally:
        keys = [key async for key in client.scan_iter(match=f"{namespace.prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> RedisNamespace | None:
    """None for the in-process implementation, else the Redis namespace to use."""
    if request.param == "memory":
        return None
    namespace: RedisNamespace = request.getfixturevalue("redis_namespace")
    return namespace


@pytest.fixture
def hot_store(backend: RedisNamespace | None, fake_clock: FakeClock) -> HotStore:
    if backend is None:
        return MemoryHotStore(fake_clock)
    return RedisHotStore(backend.client, backend.prefix)


@pytest.fixture
async def pubsub(backend: RedisNamespace | None) -> AsyncIterator[PubSub]:
    hub: PubSub = MemoryPubSub() if backend is None else RedisPubSub(backend.client, backend.prefix)
    yield hub
    await hub.close()
