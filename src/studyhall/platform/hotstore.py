"""Hot state: counters, hashes and ranked sets that are read and written on every request.

Embedded deployments keep it in this process (:class:`MemoryHotStore`); scaled
ones share Redis (:class:`RedisHotStore`). Both follow Redis semantics exactly
(TTLs, empty hashes and sorted sets vanishing, sorted-set tie order) so code
and tests behave the same on either. Nothing here is the source of truth:
whatever lives in the hot store can be rebuilt from the database.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import (
    AbstractConnection,
    BlockingConnectionPool,
    Connection,
    parse_url,
)
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT
from sortedcontainers import SortedList

from studyhall.platform.batching import GroupCommit
from studyhall.platform.clock import Clock

T = TypeVar("T")


class HotStore(Protocol):
    """Keys, hash fields and sorted-set members are ``str``; values are ``bytes``."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl_seconds: float | None = None,
        only_if_absent: bool = False,
    ) -> bool:
        """Store ``value`` (dropping any old expiry); False when ``only_if_absent`` and taken."""

    async def delete(self, *keys: str) -> int:
        """Remove the keys; returns how many existed."""

    async def incr(self, key: str, amount: int = 1, *, ttl_seconds: float | None = None) -> int:
        """Add atomically; ``ttl_seconds`` applies only when this call creates the key."""

    async def ttl(self, key: str) -> float | None:
        """Seconds left, or None when the key is missing or never expires."""

    async def expire(self, key: str, ttl_seconds: float) -> bool:
        """Set the key's time to live; False when the key is missing."""

    async def hset(self, key: str, mapping: Mapping[str, bytes]) -> None: ...

    async def hget(self, key: str, field: str) -> bytes | None: ...

    async def hgetall(self, key: str) -> dict[str, bytes]: ...

    async def hdel(self, key: str, *fields: str) -> int: ...

    async def hincrby(self, key: str, field: str, amount: int) -> int: ...

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> int:
        """Add or rescore members; returns how many were new."""

    async def zincrby(self, key: str, member: str, amount: float) -> float: ...

    async def zscore(self, key: str, member: str) -> float | None: ...

    async def zrevrank(self, key: str, member: str) -> int | None:
        """0 for the highest score; equal scores rank by member bytes, descending."""

    async def zrevrange(self, key: str, start: int, stop: int) -> list[tuple[str, float]]:
        """Members from highest score, ``stop`` inclusive, negative indexes from the end."""

    async def zcard(self, key: str) -> int: ...

    async def zrem(self, key: str, *members: str) -> int: ...

    async def ping(self) -> None:
        """Raise when the store cannot be reached (readiness checks)."""

    async def close(self) -> None: ...


OUTAGE_COOLDOWN_SECONDS = 1.0
"""After a failed connect, how long every Redis call fails at once before one tries again."""
POOL_WAIT_SECONDS = 5.0
"""How long a caller waits for a free pooled connection."""
MAX_READ_BATCH = 256
"""Keys per coalesced MGET."""
BROKEN_CONNECTION_RETRIES = 1
"""A command whose connection broke is sent again this many times (see ``redis_client``)."""
POOL_CONNECTIONS = 100
"""Connections per pool and process (redis-py's own default bound, which it enforces by
failing the command; here a burst waits for a connection instead)."""


async def quietly(operation: Awaitable[T], warn: Callable[[BaseException], None]) -> T | None:
    """For a cache in front of the database: an unreachable hot store means "ask the
    database" (None), with a warning that does not repeat per request."""
    try:
        return await operation
    except Exception as exc:
        warn(exc)
        return None


class RedisOutage:
    """A circuit breaker shared by one client's connections.

    While Redis is down, a caller would otherwise wait out a connect (refused at once
    when the process is gone, ``socket_connect_timeout`` when the host is) on every
    call; for ``cooldown`` seconds after a failed connect, calls fail at once instead,
    and the first one after that tries again. Time here is the process's monotonic
    clock: this guards sockets, not domain deadlines.
    """

    def __init__(self, cooldown: float = OUTAGE_COOLDOWN_SECONDS) -> None:
        self._cooldown = cooldown
        self._until = 0.0

    def check(self) -> None:
        """Raise Redis's ConnectionError while the breaker is open."""
        if time.monotonic() < self._until:
            raise RedisConnectionError("Redis is unreachable; not retrying yet")

    def trip(self) -> None:
        self._until = time.monotonic() + self._cooldown


class _GuardedConnection(AbstractConnection):
    """A connection that consults its pool's :class:`RedisOutage` before connecting."""

    def __init__(self, *, outage: RedisOutage, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._outage = outage

    async def connect(self) -> None:
        if self.is_connected:
            return
        self._outage.check()
        try:
            await super().connect()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        except (RedisConnectionError, RedisTimeoutError):
            self._outage.trip()
            raise


_guarded_classes: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def _guarded(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """``base`` (TCP, TLS or Unix socket, as the URL says) behind the breaker."""
    guarded = _guarded_classes.get(base)
    if guarded is None:
        guarded = type(f"Guarded{base.__name__}", (_GuardedConnection, base), {})
        _guarded_classes[base] = guarded
    return guarded


def redis_client(url: str, *, max_connections: int = POOL_CONNECTIONS) -> Redis:
    """The shared Redis client; it connects on first use, so the process starts (and serves
    what it can) while Redis is down, and reconnects once Redis is back.

    Timeouts are short and a timed-out command is not retried, because every caller is on
    a request path: a stuck or missing Redis must turn into a quick error, not a hung
    request. A command whose connection broke is sent once more on a fresh connection:
    after a Redis restart, a pooled connection can pass the pool's check (its closing not
    yet seen) and break only when used, and the restarted Redis never saw that command.
    While Redis is down, that second try meets the open breaker and fails at once.

    The pool holds at most ``max_connections``; a burst of more concurrent commands waits
    (up to ``POOL_WAIT_SECONDS``) for a free connection. redis-py's plain pool fails them
    with "Too many connections", which a start burst of 1,000 met on every node.
    """
    base = parse_url(url).get("connection_class", Connection)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=POOL_WAIT_SECONDS,
        connection_class=_guarded(base),
        outage=RedisOutage(),
        socket_connect_timeout=2.0,
        socket_timeout=2.0,
        health_check_interval=30,
        retry=Retry(
            NoBackoff(), BROKEN_CONNECTION_RETRIES, supported_errors=(RedisConnectionError,)
        ),
    )
    return Redis.from_pool(pool)


class SharedPipeline:
    """Commands of concurrent callers sent to Redis together: one pipeline per turn of the
    event loop. A burst of 2,000 live answers otherwise makes a round trip (a pool
    checkout, a write, a read and a wake-up) per command. Each caller's commands still
    run in its order and each script still runs atomically, but callers share a round
    trip. Not a transaction: other clients' commands may run between two callers'.
    Scripts queued here are loaded (``SCRIPT EXISTS``, then ``SCRIPT LOAD`` if needed) by
    redis-py before each batch."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._waiting: list[tuple[Callable[[Pipeline], object], asyncio.Future[list[Any]]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def run(self, queue: Callable[[Pipeline], object]) -> list[Any]:
        """``queue`` adds this caller's commands to the pipeline; their replies, in order
        (the first error among them is raised)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._waiting.append((queue, future))
        if len(self._waiting) == 1:
            # After the tasks already ready to run this turn have queued theirs.
            loop.call_soon(self._send)
        return await future

    def _send(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.create_task(self._execute(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _execute(
        self, batch: list[tuple[Callable[[Pipeline], object], asyncio.Future[list[Any]]]]
    ) -> None:
        counts: list[int] = []
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for queue, _ in batch:
                    before = len(pipe)
                    queue(pipe)
                    counts.append(len(pipe) - before)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for (_, future), count in zip(batch, counts, strict=True):
            mine, start = replies[start : start + count], start + count
            if future.done():  # its caller was cancelled; the commands ran anyway
                continue
            error = next((reply for reply in mine if isinstance(reply, Exception)), None)
            if error is None:
                future.set_result(mine)
            else:
                future.set_exception(error)


async def connect_redis(url: str) -> Redis:
    """:func:`redis_client`, checked to answer now (for callers that cannot do without)."""
    client = redis_client(url)
    try:
        await client.ping()
    except BaseException:
        await client.aclose()
        raise
    return client


# --- in-process -------------------------------------------------------------------------------


class _Hash(dict[str, bytes]):
    """A hash value; its own type so a key's kind can be checked like Redis's WRONGTYPE."""


class _SortedSet:
    """Members ordered by (score, member) ascending, which is Redis's order.

    Python orders ``str`` by code point, and UTF-8 preserves code point order, so
    ties sort exactly as Redis sorts member bytes. Reverse ranks read the list
    from the end, which gives Redis's descending tie order for free.
    """

    __slots__ = ("ordered", "scores")

    def __init__(self) -> None:
        self.scores: dict[str, float] = {}
        self.ordered = SortedList()

    def add(self, member: str, score: float) -> bool:
        """Set the member's score; True when the member is new."""
        old = self.scores.get(member)
        if old == score:
            return False
        if old is not None:
            self.ordered.remove((old, member))
        self.scores[member] = score
        self.ordered.add((score, member))
        return old is None

    def remove(self, member: str) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.ordered.remove((score, member))
        return True

    def rev_rank(self, member: str) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return len(self.scores) - 1 - cast(int, self.ordered.index((score, member)))

    def rev_range(self, start: int, stop: int) -> list[tuple[str, float]]:
        size = len(self.scores)
        start = max(start + size if start < 0 else start, 0)
        stop = min(stop + size if stop < 0 else stop, size - 1)
        if start > stop:
            return []
        window = self.ordered.islice(size - 1 - stop, size - start, reverse=True)
        return [(member, score) for score, member in window]


_Value = bytes | _Hash | _SortedSet
_Kind = TypeVar("_Kind", bytes, _Hash, _SortedSet)


class MemoryHotStore:
    """The hot store of a one-process deployment, timed by the injected clock.

    No method awaits anything, so each one runs to completion before any other
    coroutine sees the data: that is what makes ``incr`` atomic here. Expired
    keys are purged at the start of every call through a heap of deadlines, so
    per-window keys that nobody reads again (rate limits) do not pile up.
    """

    def __init__(self, clock: Clock, prefix: str = "") -> None:
        self._clock = clock
        self._prefix = prefix
        self._values: dict[str, _Value] = {}
        self._expires_at: dict[str, float] = {}
        self._deadlines: list[tuple[float, str]] = []

    def _purge_expired(self) -> None:
        deadlines = self._deadlines
        if not deadlines:
            return
        now = self._clock.timestamp()
        while deadlines and deadlines[0][0] <= now:
            expires_at, key = heapq.heappop(deadlines)
            # A key whose expiry was since changed or removed left a stale deadline behind.
            if self._expires_at.get(key) == expires_at:
                self._drop(key)

    def _drop(self, key: str) -> bool:
        self._expires_at.pop(key, None)
        return self._values.pop(key, None) is not None

    def _expire_in(self, key: str, ttl_seconds: float) -> None:
        expires_at = self._clock.timestamp() + ttl_seconds
        self._expires_at[key] = expires_at
        heapq.heappush(self._deadlines, (expires_at, key))

    def _existing(self, key: str, kind: type[_Kind]) -> _Kind | None:
        """The live value under the (prefixed) key, refusing one of another kind."""
        self._purge_expired()
        value = self._values.get(key)
        if value is None or isinstance(value, kind):
            return value
        raise TypeError(f"WRONGTYPE {key!r} holds a {type(value).__name__}, not {kind.__name__}")

    def _existing_or_new(self, key: str, kind: type[_Kind]) -> _Kind:
        value = self._existing(key, kind)
        if value is None:
            value = self._values[key] = kind()
        return value

    async def get(self, key: str) -> bytes | None:
        return self._existing(self._prefix + key, bytes)

    async def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl_seconds: float | None = None,
        only_if_absent: bool = False,
    ) -> bool:
        self._purge_expired()
        key = self._prefix + key
        if only_if_absent and key in self._values:
            return False
        self._values[key] = value
        if ttl_seconds is None:
            self._expires_at.pop(key, None)
        else:
            self._expire_in(key, ttl_seconds)
        return True

    async def delete(self, *keys: str) -> int:
        self._purge_expired()
        return sum(self._drop(self._prefix + key) for key in keys)

    async def incr(self, key: str, amount: int = 1, *, ttl_seconds: float | None = None) -> int:
        key = self._prefix + key
        current = self._existing(key, bytes)
        total = amount if current is None else int(current) + amount
        self._values[key] = b"%d" % total
        if current is None and ttl_seconds is not None:
            self._expire_in(key, ttl_seconds)
        return total

    async def ttl(self, key: str) -> float | None:
        self._purge_expired()
        expires_at = self._expires_at.get(self._prefix + key)
        return None if expires_at is None else expires_at - self._clock.timestamp()

    async def expire(self, key: str, ttl_seconds: float) -> bool:
        self._purge_expired()
        key = self._prefix + key
        if key not in self._values:
            return False
        self._expire_in(key, ttl_seconds)
        return True

    async def hset(self, key: str, mapping: Mapping[str, bytes]) -> None:
        if mapping:
            self._existing_or_new(self._prefix + key, _Hash).update(mapping)

    async def hget(self, key: str, field: str) -> bytes | None:
        fields = self._existing(self._prefix + key, _Hash)
        return None if fields is None else fields.get(field)

    async def hgetall(self, key: str) -> dict[str, bytes]:
        return dict(self._existing(self._prefix + key, _Hash) or {})

    async def hdel(self, key: str, *fields: str) -> int:
        key = self._prefix + key
        existing = self._existing(key, _Hash)
        if existing is None:
            return 0
        removed = sum(existing.pop(field, None) is not None for field in fields)
        if not existing:
            self._drop(key)
        return removed

    async def hincrby(self, key: str, field: str, amount: int) -> int:
        fields = self._existing_or_new(self._prefix + key, _Hash)
        total = int(fields.get(field, b"0")) + amount
        fields[field] = b"%d" % total
        return total

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> int:
        if not mapping:
            return 0
        ranked = self._existing_or_new(self._prefix + key, _SortedSet)
        return sum(ranked.add(member, score) for member, score in mapping.items())

    async def zincrby(self, key: str, member: str, amount: float) -> float:
        ranked = self._existing_or_new(self._prefix + key, _SortedSet)
        score = ranked.scores.get(member, 0.0) + amount
        ranked.add(member, score)
        return score

    async def zscore(self, key: str, member: str) -> float | None:
        ranked = self._existing(self._prefix + key, _SortedSet)
        return None if ranked is None else ranked.scores.get(member)

    async def zrevrank(self, key: str, member: str) -> int | None:
        ranked = self._existing(self._prefix + key, _SortedSet)
        return None if ranked is None else ranked.rev_rank(member)

    async def zrevrange(self, key: str, start: int, stop: int) -> list[tuple[str, float]]:
        ranked = self._existing(self._prefix + key, _SortedSet)
        return [] if ranked is None else ranked.rev_range(start, stop)

    async def zcard(self, key: str) -> int:
        ranked = self._existing(self._prefix + key, _SortedSet)
        return 0 if ranked is None else len(ranked.scores)

    async def zrem(self, key: str, *members: str) -> int:
        key = self._prefix + key
        ranked = self._existing(key, _SortedSet)
        if ranked is None:
            return 0
        removed = sum(ranked.remove(member) for member in members)
        if not ranked.scores:
            self._drop(key)
        return removed

    async def ping(self) -> None:
        """Always reachable: it lives in this process."""

    async def close(self) -> None:
        self._values.clear()
        self._expires_at.clear()
        self._deadlines.clear()


# --- Redis ------------------------------------------------------------------------------------

# EXPIRE NX would also stamp a TTL on an existing key that has none; only creation counts here.
_INCR_WITH_TTL_ON_CREATE = """
local created = redis.call('EXISTS', KEYS[1]) == 0
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if created then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return total
"""


def _millis(seconds: float) -> int:
    """Redis wants whole, positive milliseconds; a sub-millisecond TTL still expires at once."""
    return max(1, round(seconds * 1000))


class RedisHotStore:
    """The shared hot store of a scaled deployment; every key starts with ``prefix``.

    The client belongs to whoever created it (one per process, shared with
    pub/sub), so :meth:`close` leaves it open.
    """

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._incr_with_ttl = client.register_script(_INCR_WITH_TTL_ON_CREATE)
        self._reads: GroupCommit[str, bytes | None] = GroupCommit(
            self._get_many,
            name="hot-store-reads",
            max_batch=MAX_READ_BATCH,
            failure=lambda: RedisConnectionError("The hot store is closing"),
        )

    async def get(self, key: str) -> bytes | None:
        """Reads that arrive together share one MGET: every request reads its caller from
        the auth cache, and a command costs far more client CPU than a key in a batch."""
        return await self._reads.submit(key)

    async def _get_many(self, keys: list[str]) -> list[bytes | BaseException | None]:
        try:
            values = await self._client.mget([self._prefix + key for key in keys])
        except RedisError as exc:  # each reader gets the outage, as a lone GET would
            return [exc] * len(keys)
        return cast(list[bytes | BaseException | None], values)

    async def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl_seconds: float | None = None,
        only_if_absent: bool = False,
    ) -> bool:
        stored = await self._client.set(
            self._prefix + key,
            value,
            px=None if ttl_seconds is None else _millis(ttl_seconds),
            nx=only_if_absent,
        )
        return bool(stored)

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return await self._client.delete(*[self._prefix + key for key in keys])

    async def incr(self, key: str, amount: int = 1, *, ttl_seconds: float | None = None) -> int:
        if ttl_seconds is None:
            return await self._client.incrby(self._prefix + key, amount)
        total = await self._incr_with_ttl(
            keys=[self._prefix + key], args=[amount, _millis(ttl_seconds)]
        )
        return cast(int, total)

    async def ttl(self, key: str) -> float | None:
        millis = await self._client.pttl(self._prefix + key)
        return None if millis < 0 else millis / 1000

    async def expire(self, key: str, ttl_seconds: float) -> bool:
        return await self._client.pexpire(self._prefix + key, _millis(ttl_seconds))

    async def hset(self, key: str, mapping: Mapping[str, bytes]) -> None:
        if mapping:
            await self._client.hset(
                self._prefix + key, mapping=cast("Mapping[EncodableT, EncodableT]", mapping)
            )

    async def hget(self, key: str, field: str) -> bytes | None:
        return cast(bytes | None, await self._client.hget(self._prefix + key, field))

    async def hgetall(self, key: str) -> dict[str, bytes]:
        raw = cast(dict[bytes, bytes], await self._client.hgetall(self._prefix + key))
        return {field.decode(): value for field, value in raw.items()}

    async def hdel(self, key: str, *fields: str) -> int:
        if not fields:
            return 0
        return await self._client.hdel(self._prefix + key, *fields)

    async def hincrby(self, key: str, field: str, amount: int) -> int:
        return await self._client.hincrby(self._prefix + key, field, amount)

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> int:
        if not mapping:
            return 0
        return cast(int, await self._client.zadd(self._prefix + key, mapping))

    async def zincrby(self, key: str, member: str, amount: float) -> float:
        return cast(float, await self._client.zincrby(self._prefix + key, amount, member))

    async def zscore(self, key: str, member: str) -> float | None:
        return await self._client.zscore(self._prefix + key, member)

    async def zrevrank(self, key: str, member: str) -> int | None:
        return cast(int | None, await self._client.zrevrank(self._prefix + key, member))

    async def zrevrange(self, key: str, start: int, stop: int) -> list[tuple[str, float]]:
        raw = await self._client.zrevrange(self._prefix + key, start, stop, withscores=True)
        return [(member.decode(), score) for member, score in cast(list[tuple[bytes, float]], raw)]

    async def zcard(self, key: str) -> int:
        return await self._client.zcard(self._prefix + key)

    async def zrem(self, key: str, *members: str) -> int:
        if not members:
            return 0
        return await self._client.zrem(self._prefix + key, *members)

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        """Answer the reads in flight; the client's owner closes the client."""
        await self._reads.close()
