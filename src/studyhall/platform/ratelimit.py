"""Fixed-window rate limits on the hot store, so every node counts against the same limit.

A window is ``window_seconds`` long and aligned to the clock (the index is
``timestamp // window_seconds``), so a fake clock moves tests into the next
window without sleeping. At most ``2 * limit`` hits can pass around a window
boundary; that is the price of one counter and one round trip per hit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from studyhall.platform.clock import Clock
from studyhall.platform.hotstore import HotStore

_EXPIRY_SLACK_SECONDS = 1
"""A node whose clock runs slightly behind still finds the count instead of starting at zero."""


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    remaining: int
    """Hits still allowed in this window."""
    retry_after: int
    """Whole seconds until the window ends when refused (at least 1); 0 when allowed."""


class RateLimiter:
    def __init__(self, store: HotStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        """Count one hit and say whether it is within the limit."""
        counter, seconds_left = self._window(key, window_seconds)
        used = await self._store.incr(counter, ttl_seconds=window_seconds + _EXPIRY_SLACK_SECONDS)
        return _decide(allowed=used <= limit, used=used, limit=limit, seconds_left=seconds_left)

    async def peek(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        """Say whether a hit would be allowed, without counting one (refuse before costly work)."""
        counter, seconds_left = self._window(key, window_seconds)
        raw = await self._store.get(counter)
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
