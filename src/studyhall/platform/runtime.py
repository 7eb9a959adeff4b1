"""The running platform: settings plus every infrastructure handle, built once per process.

Redis unset means in-process hot store and pub/sub (embedded); set, every node
shares them (scaled). Services receive the pieces they need from here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from studyhall.config import Settings
from studyhall.platform import jobs
from studyhall.platform.clock import Clock, SystemClock
from studyhall.platform.db import create_engine, create_session_factory
from studyhall.platform.hotstore import HotStore, MemoryHotStore, RedisHotStore, connect_redis
from studyhall.platform.pubsub import MemoryPubSub, PubSub, RedisPubSub
from studyhall.platform.ratelimit import RateLimiter


@dataclass(slots=True)
class Platform:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    hot: HotStore
    pubsub: PubSub
    limiter: RateLimiter
    redis: Redis | None

    @classmethod
    async def start(cls, settings: Settings, *, clock: Clock | None = None) -> Platform:
        clock = clock or SystemClock()
        engine = create_engine(settings)
        hot: HotStore
        pubsub: PubSub
        redis: Redis | None = None
        if settings.redis_url:
            redis = await connect_redis(settings.redis_url)
            hot = RedisHotStore(redis, settings.redis_prefix)
            pubsub = RedisPubSub(redis, settings.redis_prefix)
        else:
            hot = MemoryHotStore(clock)
            pubsub = MemoryPubSub()
        return cls(
            settings=settings,
            clock=clock,
            engine=engine,
            sessions=create_session_factory(engine),
            hot=hot,
            pubsub=pubsub,
            limiter=RateLimiter(hot, clock),
            redis=redis,
        )

    async def enqueue(
        self,
        session: AsyncSession,
        kind: str,
        payload: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        delay_seconds: float = 0,
    ) -> uuid.UUID | None:
        """Queue a job in ``session``'s transaction; idle workers are woken on commit."""
        return await jobs.enqueue(
            session,
            self.clock,
            kind,
            payload,
            dedupe_key=dedupe_key,
            delay_seconds=delay_seconds,
            max_attempts=self.settings.job_max_attempts,
            wakeups=self.pubsub,
        )

    async def enqueue_many(
        self, session: AsyncSession, kind: str, new_jobs: Sequence[jobs.NewJob]
    ) -> int:
        """:meth:`enqueue` for many jobs of one kind, in one statement."""
        return await jobs.enqueue_many(
            session,
            self.clock,
            kind,
            new_jobs,
            max_attempts=self.settings.job_max_attempts,
            wakeups=self.pubsub,
        )

    async def close(self) -> None:
        await self.pubsub.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
