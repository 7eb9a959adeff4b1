"""Fan-out of live events (game state, chat, dashboards) to whoever is listening now.

Delivery is at most once and only to subscribers present at publish time:
anything a client must not miss is also journaled and replayed from there.
Embedded deployments fan out in this process (:class:`MemoryPubSub`); scaled
ones go through Redis (:class:`RedisPubSub`) so every node hears every event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Protocol, Self, cast

from redis.asyncio import Redis
from redis.asyncio.client import PubSub as RedisClientPubSub
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from studyhall.platform.metrics import PUBSUB_DROPPED

Message = tuple[str, bytes]
"""``(channel, payload)`` as a subscriber receives it."""


class Subscription(Protocol):
    """Entered, it is subscribed: anything published after ``__aenter__`` returns arrives.

    Iterate it for messages; leaving the context (or closing the pub/sub)
    unsubscribes and ends the iteration. A read cancelled while it waits (a timeout)
    loses nothing: the next read gets the next message.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    def __aiter__(self) -> Self: ...

    async def __anext__(self) -> Message: ...


class PubSub(Protocol):
    async def publish(self, channel: str, message: bytes) -> None: ...

    def subscribe(self, *channels: str) -> Subscription: ...

    async def close(self) -> None:
        """End every open subscription."""


# --- a subscription's own queue ------------------------------------------------------------


class _Detaching(Protocol):
    def _detach(self, subscription: _QueuedSubscription) -> None: ...


class _QueuedSubscription:
    """A bounded queue its pub/sub fills. A slow reader loses its oldest messages (``offer``
    says so) and never holds up the publisher, nor the connection others share. It ends
    cleanly (the iteration stops) or with an error, raised to its reader once."""

    def __init__(self, hub: _Detaching, channels: tuple[str, ...], max_queued: int) -> None:
        self._hub = hub
        self.channels = channels
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(max_queued)
        self._ended = False
        self._error: Exception | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Message:
        while True:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._ended:
                raise StopAsyncIteration
            item = await self._queue.get()
            if item is not None:  # None only wakes a reader to see the end
                return item

    def offer(self, item: Message | None) -> bool:
        """Queue without waiting; returns True when the oldest message had to make room
        (counted in ``studyhall_pubsub_dropped_total``)."""
        dropped = self._queue.full()
        if dropped:
            self._queue.get_nowait()
            PUBSUB_DROPPED.inc()
        self._queue.put_nowait(item)
        return dropped

    def end(self, error: Exception | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        self._error = error
        self._hub._detach(self)
        self.offer(None)


def _take_off(
    by_channel: dict[str, set[_QueuedSubscription]], subscription: _QueuedSubscription
) -> None:
    """Remove ``subscription`` from each of its channels; a channel left empty goes."""
    for channel in subscription.channels:
        listeners = by_channel.get(channel)
        if listeners is not None:
            listeners.discard(subscription)
            if not listeners:
                del by_channel[channel]


# --- in-process -------------------------------------------------------------------------------


class _MemorySubscription(_QueuedSubscription):
    async def __aenter__(self) -> Self:
        cast(MemoryPubSub, self._hub)._attach(self)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.end()


class MemoryPubSub:
    """In-process fan-out; a slow subscriber loses its oldest messages, never blocks a publisher.

    ``dropped`` counts messages lost that way, so the loss can be watched.
    """

    def __init__(self, max_queued: int = 1024) -> None:
        self._max_queued = max_queued
        self._subscriptions: dict[str, set[_QueuedSubscription]] = {}
        self.dropped = 0

    async def publish(self, channel: str, message: bytes) -> None:
        for subscription in self._subscriptions.get(channel, ()):
            if subscription.offer((channel, message)):
                self.dropped += 1

    def subscribe(self, *channels: str) -> _MemorySubscription:
        return _MemorySubscription(self, tuple(dict.fromkeys(channels)), self._max_queued)

    def _attach(self, subscription: _QueuedSubscription) -> None:
        for channel in subscription.channels:
            self._subscriptions.setdefault(channel, set()).add(subscription)

    def _detach(self, subscription: _QueuedSubscription) -> None:
        _take_off(self._subscriptions, subscription)

    async def close(self) -> None:
        open_subscriptions = set[_QueuedSubscription]().union(*self._subscriptions.values())
        for subscription in open_subscriptions:
            subscription.end()


# --- Redis ------------------------------------------------------------------------------------

_SUBSCRIBE_TIMEOUT_SECONDS = 5.0


def _subscriber_client(client: Redis) -> Redis:
    """A client for subscriptions: ``client``'s server, settings and breaker, but a pool
    of its own whose broken connections are never sent again. A subscription whose
    connection broke must end, so its reader resubscribes and catches up on its own
    terms, rather than be reconnected under it (``client`` retries a broken command
    once, see ``hotstore.redis_client``)."""
    pool = client.connection_pool
    options = {**pool.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
    if isinstance(pool, BlockingConnectionPool):
        options["timeout"] = pool.timeout
    own = type(pool)(
        connection_class=pool.connection_class, max_connections=pool.max_connections, **options
    )
    return Redis.from_pool(own)


class _RedisSubscription(_QueuedSubscription):
    async def __aenter__(self) -> Self:
        await cast(RedisPubSub, self._hub)._attach(self)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.end()
        await cast(RedisPubSub, self._hub)._release(self.channels)


class _SharedConnection:
    """The process's one Redis connection in subscribe mode, and its reader. Redis answers
    a connection's SUBSCRIBEs in the order sent, so each waits in ``pending`` for its
    own confirmation, whatever UNSUBSCRIBEs of the same channel went between."""

    def __init__(self, pubsub: RedisClientPubSub) -> None:
        self.pubsub = pubsub
        self.pending: dict[str, deque[asyncio.Future[None]]] = {}
        self.ready: dict[str, asyncio.Future[None]] = {}
        """Per subscribed channel, the confirmation of its latest SUBSCRIBE."""
        self.reader: asyncio.Task[None] | None = None


class RedisPubSub:
    """Fan-out across nodes through Redis; every channel name starts with ``prefix``.

    One Redis connection per process carries every subscription of the process: a node
    holding thousands of leaderboard streams and game rooms would otherwise hold as many
    connections (Redis allows 10,000 by default, for every node together). A channel is
    subscribed in Redis while this process has a subscriber to it; each subscriber has
    its own bounded queue, so a slow one loses its oldest messages (``dropped``) instead
    of backing up the connection everyone shares. When that connection breaks, every
    subscription ends with the error, so each reader resubscribes and catches up on its
    own terms; the next subscription opens a new connection.
    """

    def __init__(self, client: Redis, prefix: str, max_queued: int = 1024) -> None:
        self._client = client
        self._subscriber = _subscriber_client(client)
        self._prefix = prefix
        self._prefix_length = len(prefix.encode())
        self._max_queued = max_queued
        self._local: dict[str, set[_QueuedSubscription]] = {}
        self._shared: _SharedConnection | None = None
        self._opening = asyncio.Lock()
        self.dropped = 0

    async def publish(self, channel: str, message: bytes) -> None:
        await self._client.publish(self._prefix + channel, message)

    def subscribe(self, *channels: str) -> _RedisSubscription:
        return _RedisSubscription(self, tuple(dict.fromkeys(channels)), self._max_queued)

    async def _connection(self) -> _SharedConnection:
        async with self._opening:
            if self._shared is None:
                pubsub = self._subscriber.pubsub()
                await pubsub.connect()  # type: ignore[no-untyped-call]  # unannotated in redis-py
                shared = self._shared = _SharedConnection(pubsub)
                shared.reader = asyncio.create_task(self._read(shared), name="pubsub-reader")
            return self._shared

    async def _attach(self, subscription: _QueuedSubscription) -> None:
        """Returns once Redis confirmed every channel of ``subscription``."""
        shared = None
        fresh: dict[str, asyncio.Future[None]] = {}
        try:
            shared = await self._connection()
            confirmations = []
            for channel in subscription.channels:
                self._local.setdefault(channel, set()).add(subscription)
                ready = shared.ready.get(channel)
                if ready is None:
                    ready = shared.ready[channel] = asyncio.get_running_loop().create_future()
                    shared.pending.setdefault(channel, deque()).append(ready)
                    fresh[channel] = ready
                confirmations.append(ready)
            if fresh:
                await shared.pubsub.subscribe(*(self._prefix + channel for channel in fresh))
                fresh = {}  # sent: Redis will confirm them, in order
            async with asyncio.timeout(_SUBSCRIBE_TIMEOUT_SECONDS):
                # Shielded: a subscriber that gives up must not cancel another's wait.
                await asyncio.gather(*(asyncio.shield(ready) for ready in confirmations))
        except BaseException:
            if shared is not None:
                for channel, unsent in fresh.items():  # no confirmation will ever come
                    shared.pending[channel].remove(unsent)
                    if shared.ready.get(channel) is unsent:
                        del shared.ready[channel]
            subscription.end()
            await self._release(subscription.channels)
            raise

    def _detach(self, subscription: _QueuedSubscription) -> None:
        _take_off(self._local, subscription)

    async def _release(self, channels: tuple[str, ...]) -> None:
        """Unsubscribe in Redis from those of ``channels`` no subscriber here wants now."""
        shared = self._shared
        if shared is None:
            return
        unwanted = [channel for channel in channels if channel not in self._local]
        for channel in unwanted:
            shared.ready.pop(channel, None)
        if unwanted:
            with contextlib.suppress(RedisError, OSError):  # a broken connection ends anyway
                await shared.pubsub.unsubscribe(*(self._prefix + name for name in unwanted))

    async def _read(self, shared: _SharedConnection) -> None:
        try:
            while True:
                reply = await shared.pubsub.get_message(timeout=None)
                if reply is None or reply["type"] not in ("message", "subscribe"):
                    continue
                name = cast(bytes, reply["channel"])[self._prefix_length :].decode()
                if reply["type"] == "message":
                    for subscription in list(self._local.get(name, ())):
                        if subscription.offer((name, cast(bytes, reply["data"]))):
                            self.dropped += 1
                elif reply["type"] == "subscribe":
                    waiting = shared.pending.get(name)
                    if waiting:
                        confirmed = waiting.popleft()
                        if not confirmed.done():
                            confirmed.set_result(None)
        except asyncio.CancelledError:
            self._drop(shared, None)
            raise
        except Exception as exc:
            self._drop(shared, exc)
            with contextlib.suppress(Exception):
                await shared.pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated

    def _drop(self, shared: _SharedConnection, error: Exception | None) -> None:
        """The connection is gone: end what it carried, with ``error`` if it broke."""
        if self._shared is shared:
            self._shared = None
        for waiting in shared.pending.values():
            for confirmation in waiting:
                if not confirmation.done():
                    confirmation.set_exception(error or ConnectionError("pub/sub closed"))
        shared.pending.clear()
        shared.ready.clear()
        for subscription in set[_QueuedSubscription]().union(*self._local.values()):
            subscription.end(error)
        self._local.clear()

    async def close(self) -> None:
        shared = self._shared
        if shared is not None and shared.reader is not None:
            shared.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await shared.reader
            await shared.pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        await self._subscriber.aclose()
