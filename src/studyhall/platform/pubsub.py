"""Fan-out of live events (game state, chat, dashboards) to whoever is listening now.

Delivery is at most once and only to subscribers present at publish time:
anything a client must not miss is also journaled and replayed from there.
Embedded deployments fan out in this process (:class:`MemoryPubSub`); scaled
ones go through Redis (:class:`RedisPubSub`) so every node hears every event.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, Self, cast

from redis.asyncio import Redis
from redis.asyncio.client import PubSub as RedisClientPubSub
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

Message = tuple[str, bytes]
"""``(channel, payload)`` as a subscriber receives it."""


class Subscription(Protocol):
    """Entered, it is subscribed: anything published after ``__aenter__`` returns arrives.

    Iterate it for messages; leaving the context (or closing the pub/sub)
    unsubscribes and ends the iteration.
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


# --- in-process -------------------------------------------------------------------------------


class _MemorySubscription:
    """A bounded queue the hub fills; ``None`` in the queue marks the end."""

    def __init__(self, hub: MemoryPubSub, channels: tuple[str, ...], max_queued: int) -> None:
        self._hub = hub
        self.channels = channels
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(max_queued)
        self._ended = False

    async def __aenter__(self) -> Self:
        self._hub._attach(self)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.end()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Message:
        if self._ended:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        return item

    def offer(self, item: Message | None) -> bool:
        """Queue without waiting; returns True when the oldest message had to make room."""
        dropped = self._queue.full()
        if dropped:
            self._queue.get_nowait()
        self._queue.put_nowait(item)
        return dropped

    def end(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._hub._detach(self)
        self.offer(None)


class MemoryPubSub:
    """In-process fan-out; a slow subscriber loses its oldest messages, never blocks a publisher.

    ``dropped`` counts messages lost that way, so the loss can be watched.
    """

    def __init__(self, max_queued: int = 1024) -> None:
        self._max_queued = max_queued
        self._subscriptions: dict[str, set[_MemorySubscription]] = {}
        self.dropped = 0

    async def publish(self, channel: str, message: bytes) -> None:
        for subscription in self._subscriptions.get(channel, ()):
            if subscription.offer((channel, message)):
                self.dropped += 1

    def subscribe(self, *channels: str) -> _MemorySubscription:
        return _MemorySubscription(self, tuple(dict.fromkeys(channels)), self._max_queued)

    def _attach(self, subscription: _MemorySubscription) -> None:
        for channel in subscription.channels:
            self._subscriptions.setdefault(channel, set()).add(subscription)

    def _detach(self, subscription: _MemorySubscription) -> None:
        for channel in subscription.channels:
            listeners = self._subscriptions.get(channel)
            if listeners is not None:
                listeners.discard(subscription)
                if not listeners:
                    del self._subscriptions[channel]

    async def close(self) -> None:
        open_subscriptions = set[_MemorySubscription]().union(*self._subscriptions.values())
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


class _RedisSubscription:
    """One Redis connection in subscribe mode, opened on enter and closed on exit."""

    def __init__(self, hub: RedisPubSub, channels: tuple[str, ...]) -> None:
        self._hub = hub
        self._channels = channels
        self._pubsub: RedisClientPubSub | None = None

    async def __aenter__(self) -> Self:
        pubsub = self._pubsub = self._hub._subscriber.pubsub()
        self._hub._open.add(self)
        try:
            await pubsub.subscribe(*(self._hub._prefix + channel for channel in self._channels))
            await self._await_confirmations(pubsub)
        except BaseException:
            await self.close()
            raise
        return self

    async def _await_confirmations(self, pubsub: RedisClientPubSub) -> None:
        """SUBSCRIBE is only sent above; until Redis confirms, a publish could miss us."""
        confirmed = 0
        async with asyncio.timeout(_SUBSCRIBE_TIMEOUT_SECONDS):
            while confirmed < len(self._channels):
                reply = await pubsub.get_message(timeout=None)
                if reply is not None and reply["type"] == "subscribe":
                    confirmed += 1

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Message:
        while (pubsub := self._pubsub) is not None:
            try:
                reply = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            except Exception:
                if self._pubsub is None:  # closed under us while waiting
                    break
                raise
            if reply is not None and reply["type"] == "message":
                channel = cast(bytes, reply["channel"])[self._hub._prefix_length :]
                return channel.decode(), cast(bytes, reply["data"])
        raise StopAsyncIteration

    async def close(self) -> None:
        """Dropping the connection unsubscribes server-side; an iterating task stops."""
        pubsub, self._pubsub = self._pubsub, None
        self._hub._open.discard(self)
        if pubsub is not None:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py


class RedisPubSub:
    """Fan-out across nodes through Redis; every channel name starts with ``prefix``.

    Each subscription holds its own connection, so a slow subscriber backs up
    only its own socket (Redis disconnects it past the output-buffer limit).
    """

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._subscriber = _subscriber_client(client)
        self._prefix = prefix
        self._prefix_length = len(prefix.encode())
        self._open: set[_RedisSubscription] = set()

    async def publish(self, channel: str, message: bytes) -> None:
        await self._client.publish(self._prefix + channel, message)

    def subscribe(self, *channels: str) -> _RedisSubscription:
        return _RedisSubscription(self, tuple(dict.fromkeys(channels)))

    async def close(self) -> None:
        for subscription in list(self._open):
            await subscription.close()
        await self._subscriber.aclose()
