"""The running platform: settings plus every infrastructure handle, built once per process.

Redis unset means in-process hot store and pub/sub (embedded); set, every node
shares them (scaled). Services receive the pieces they need from here. A process
starts while Redis is down and serves what does not need it (see docs/operations.md,
"Fault injection"); the client reconnects when Redis is back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from studyhall.config import Settings
from studyhall.platform import jobs
from studyhall.platform.clock import Clock, SystemClock
from studyhall.platform.db import create_engine, create_session_factory
from studyhall.platform.hotstore import HotStore, MemoryHotStore, RedisHotStore, redis_client
from studyhall.platform.pubsub import MemoryPubSub, PubSub, RedisPubSub
from studyhall.platform.ratelimit import RateLimiter

logger = logging.getLogger("studyhall.platform")


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
            redis = redis_client(settings.redis_url)
            try:
                await redis.ping()
            except (RedisConnectionError, RedisTimeoutError) as exc:
                logger.warning(
                    "Redis is unreachable (%s); serving without it until it returns",
                    type(exc).__name__,
                )
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
            limiter=RateLimiter(
                hot, clock, fallback=None if redis is None else MemoryHotStore(clock)
            ),
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
        await self.hot.close()
        await self.pubsub.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
