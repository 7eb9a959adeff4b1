"""The pub/sub contract: what a subscriber present at publish time receives, on both backends.

Receives wait with a timeout because on Redis delivery crosses the network.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from studyhall.platform.pubsub import MemoryPubSub, Message, PubSub, RedisPubSub, Subscription
from tests.platform.conftest import RedisNamespace

DELIVERY_TIMEOUT_SECONDS = 2.0


def _pubsub_dropped() -> float:
    return REGISTRY.get_sample_value("studyhall_pubsub_dropped_total") or 0.0


async def receive(subscription: Subscription) -> Message:
    return await asyncio.wait_for(anext(subscription), DELIVERY_TIMEOUT_SECONDS)


async def subscriber_count(pubsub: PubSub, backend: RedisNamespace | None, channel: str) -> int:
    """Subscriptions the backend itself holds for ``channel``; the interface does not expose it."""
    if backend is None:
        assert isinstance(pubsub, MemoryPubSub)
        return len(pubsub._subscriptions.get(channel, ()))
    [(_, count)] = await backend.client.pubsub_numsub(backend.prefix + channel)
    return int(count)


async def test_a_subscriber_receives_what_is_published_after_it_entered(pubsub: PubSub) -> None:
    async with pubsub.subscribe("room") as subscription:
        await pubsub.publish("room", b"hello")
        assert await receive(subscription) == ("room", b"hello")


async def test_messages_published_before_subscribing_are_not_delivered(pubsub: PubSub) -> None:
    await pubsub.publish("room", b"too early")
    async with pubsub.subscribe("room") as subscription:
        await pubsub.publish("room", b"in time")
        assert await receive(subscription) == ("room", b"in time")


async def test_messages_stay_on_their_channel(pubsub: PubSub) -> None:
    async with pubsub.subscribe("a") as on_a, pubsub.subscribe("b") as on_b:
        await pubsub.publish("a", b"for a")
        await pubsub.publish("b", b"for b")
        # Had "for a" leaked to b, it would arrive there first.
        assert await receive(on_b) == ("b", b"for b")
        assert await receive(on_a) == ("a", b"for a")


async def test_one_subscription_can_listen_to_several_channels(pubsub: PubSub) -> None:
    async with pubsub.subscribe("a", "b", "a") as subscription:
        await pubsub.publish("a", b"1")
        await pubsub.publish("b", b"2")
        assert [await receive(subscription) for _ in range(2)] == [("a", b"1"), ("b", b"2")]


async def test_every_subscriber_gets_its_own_copy(pubsub: PubSub) -> None:
    async with (
        pubsub.subscribe("room") as first,
        pubsub.subscribe("room") as second,
        pubsub.subscribe("room") as third,
    ):
        await pubsub.publish("room", b"hi all")
        for subscription in (first, second, third):
            assert await receive(subscription) == ("room", b"hi all")


async def test_leaving_the_context_unsubscribes(
    pubsub: PubSub, backend: RedisNamespace | None
) -> None:
    async with pubsub.subscribe("room") as subscription:
        assert await subscriber_count(pubsub, backend, "room") == 1
    # Redis forgets a closed connection's subscriptions once it notices the close.
    async with asyncio.timeout(DELIVERY_TIMEOUT_SECONDS):
        while await subscriber_count(pubsub, backend, "room"):
            await asyncio.sleep(0.01)
    with pytest.raises(StopAsyncIteration):
        await anext(subscription)


async def test_close_ends_subscriptions_that_are_being_read(pubsub: PubSub) -> None:
    entered = asyncio.Event()

    async def listen() -> list[Message]:
        async with pubsub.subscribe("room") as subscription:
            entered.set()
            return [message async for message in subscription]

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(entered.wait(), DELIVERY_TIMEOUT_SECONDS)
    await pubsub.close()
    assert await asyncio.wait_for(listener, DELIVERY_TIMEOUT_SECONDS) == []


async def test_each_publishers_messages_arrive_in_order(pubsub: PubSub) -> None:
    per_channel = 200

    async def publish_in_order(channel: str) -> None:
        for number in range(per_channel):
            await pubsub.publish(channel, b"%d" % number)

    async with pubsub.subscribe("a", "b") as subscription:
        await asyncio.gather(publish_in_order("a"), publish_in_order("b"))
        received = [await receive(subscription) for _ in range(2 * per_channel)]

    expected = [b"%d" % number for number in range(per_channel)]
    for channel in ("a", "b"):
        assert [message for name, message in received if name == channel] == expected


async def test_a_slow_subscriber_loses_its_oldest_messages_and_holds_up_no_one(
    backend: RedisNamespace | None,
) -> None:
    pubsub: MemoryPubSub | RedisPubSub = (
        MemoryPubSub(max_queued=2)
        if backend is None
        else RedisPubSub(backend.client, backend.prefix, max_queued=2)
    )
    dropped_before = _pubsub_dropped()
    try:
        async with pubsub.subscribe("room") as slow, pubsub.subscribe("room") as reading:
            for number in range(5):
                await pubsub.publish("room", b"%d" % number)
                assert await receive(reading) == ("room", b"%d" % number)
            assert pubsub.dropped == 3
            assert _pubsub_dropped() - dropped_before == 3, "and in the metrics"
            assert [await receive(slow) for _ in range(2)] == [("room", b"3"), ("room", b"4")]
    finally:
        await pubsub.close()


async def test_a_channel_left_and_taken_again_at_once_delivers(pubsub: PubSub) -> None:
    """On Redis the second SUBSCRIBE follows the UNSUBSCRIBE on one connection: the new
    subscriber must wait for its own confirmation, not take the first one's."""
    for round_number in range(20):
        async with pubsub.subscribe("room"):
            pass
        async with pubsub.subscribe("room") as subscription:
            await pubsub.publish("room", b"%d" % round_number)
            assert await receive(subscription) == ("room", b"%d" % round_number)


async def test_a_process_holds_one_redis_connection_for_all_its_subscriptions(
    redis_namespace: RedisNamespace,
) -> None:
    """A node with thousands of leaderboard streams and game rooms must not hold as many
    Redis connections (10,000 by default for all nodes together)."""
    pubsub = RedisPubSub(redis_namespace.client, redis_namespace.prefix)
    channels = [f"board-{number}" for number in range(50)]
    try:
        async with contextlib.AsyncExitStack() as stack:
            subscriptions = [
                await stack.enter_async_context(pubsub.subscribe(channel))
                for channel in channels
                for _ in range(2)
            ]
            counts = await redis_namespace.client.pubsub_numsub(
                *(redis_namespace.prefix + channel for channel in channels)
            )
            assert {count for _, count in counts} == {1}, "one Redis subscription a channel"
            subscribers = [
                client
                for client in await redis_namespace.client.client_list(_type="pubsub")
                if int(client["sub"]) >= len(channels)
            ]
            assert len(subscribers) == 1, "every channel on one connection"
            await pubsub.publish("board-7", b"changed")
            assert [await receive(one) for one in subscriptions[14:16]] == [
                ("board-7", b"changed")
            ] * 2
    finally:
        await pubsub.close()


async def test_a_broken_connection_ends_every_subscription_with_the_error(
    redis_namespace: RedisNamespace,
) -> None:
    """Each reader then resubscribes and catches up on its own terms, on a new connection."""
    pubsub = RedisPubSub(redis_namespace.client, redis_namespace.prefix)
    try:
        async with pubsub.subscribe("a") as first, pubsub.subscribe("b") as second:
            ours = [
                client
                for client in await redis_namespace.client.client_list(_type="pubsub")
                if client["sub"] == "2"
            ]
            newest = min(ours, key=lambda client: int(client["age"]))
            await redis_namespace.client.client_kill_filter(_id=newest["id"])
            for subscription in (first, second):
                with pytest.raises(RedisConnectionError):
                    await receive(subscription)
        async with pubsub.subscribe("a") as again:
            await pubsub.publish("a", b"back")
            assert await receive(again) == ("a", b"back")
    finally:
        await pubsub.close()
