"""Fixed-window rate limits on the hot store, so every node counts against the same limit.

A window is ``window_seconds`` long and aligned to the clock (the index is
``timestamp // window_seconds``), so a fake clock moves tests into the next
window without sleeping. At most ``2 * limit`` hits can pass around a window
boundary; that is the price of one counter and one round trip per hit.

While Redis cannot be reached, a limiter given a ``fallback`` counts in that store (this
process's memory) instead: each node then enforces the limit on its own, so sign-ins keep
working and brute force stays bounded until Redis is back.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from studyhall.platform.clock import Clock
from studyhall.platform.hotstore import HotStore

_EXPIRY_SLACK_SECONDS = 1
"""A node whose clock runs slightly behind still finds the count instead of starting at zero."""
T = TypeVar("T")
logger = logging.getLogger("studyhall.ratelimit")


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    remaining: int
    """Hits still allowed in this window."""
    retry_after: int
    """Whole seconds until the window ends when refused (at least 1); 0 when allowed."""


class RateLimiter:
    def __init__(self, store: HotStore, clock: Clock, *, fallback: HotStore | None = None) -> None:
        self._store = store
        self._clock = clock
        self._fallback = fallback

    async def _counted(self, operation: Callable[[HotStore], Awaitable[T]]) -> T:
        """``operation`` on the shared store, or on the fallback while Redis is unreachable."""
        try:
            return await operation(self._store)
        except (RedisConnectionError, RedisTimeoutError):
            if self._fallback is None:
                raise
            logger.warning("hot store unreachable; counting rate limits in this process")
            return await operation(self._fallback)

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        """Count one hit and say whether it is within the limit."""
        counter, seconds_left = self._window(key, window_seconds)
        ttl = window_seconds + _EXPIRY_SLACK_SECONDS
        used = await self._counted(lambda store: store.incr(counter, ttl_seconds=ttl))
        return _decide(allowed=used <= limit, used=used, limit=limit, seconds_left=seconds_left)

    async def peek(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        """Say whether a hit would be allowed, without counting one (refuse before costly work)."""
        counter, seconds_left = self._window(key, window_seconds)
        raw = await self._counted(lambda store: store.get(counter))
        used = 0 if raw is None else int(raw)
        return _decide(allowed=used < limit, used=used, limit=limit, seconds_left=seconds_left)

    def _window(self, key: str, window_seconds: int) -> tuple[str, float]:
        """The current window's counter key and the seconds until that window ends."""
        index, elapsed = divmod(self._clock.timestamp(), window_seconds)
        return f"ratelimit:{window_seconds}:{int(index)}:{key}", window_seconds - elapsed


def _decide(*, allowed: bool, used: int, limit: int, seconds_left: float) -> RateDecision:
    remaining = max(limit - used, 0)
    if allowed:
        return RateDecision(allowed=True, remaining=remaining, retry_after=0)
    # seconds_left is in (0, window], so its ceiling is at least 1.
    return RateDecision(allowed=False, remaining=remaining, retry_after=math.ceil(seconds_left))
