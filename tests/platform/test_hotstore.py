"""The hot store contract: the in-process store must answer exactly as Redis does."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from studyhall.platform.clock import FakeClock
from studyhall.platform.hotstore import (
    POOL_CONNECTIONS,
    HotStore,
    MemoryHotStore,
    RedisHotStore,
    SharedPipeline,
    redis_client,
)
from tests.platform.conftest import RedisNamespace
from tests.processes import free_port
from tests.services import REDIS_URL, require_redis


async def test_get_returns_what_set_stored(hot_store: HotStore) -> None:
    assert await hot_store.get("greeting") is None
    assert await hot_store.set("greeting", b"hello") is True
    assert await hot_store.get("greeting") == b"hello"


async def test_set_only_if_absent_keeps_the_first_value(hot_store: HotStore) -> None:
    assert await hot_store.set("lock", b"first", only_if_absent=True) is True
    assert await hot_store.set("lock", b"second", only_if_absent=True) is False
    assert await hot_store.get("lock") == b"first"


async def test_set_without_ttl_drops_an_earlier_expiry(hot_store: HotStore) -> None:
    await hot_store.set("session", b"a", ttl_seconds=100)
    ttl = await hot_store.ttl("session")
    assert ttl is not None
    assert 99 < ttl <= 100
    await hot_store.set("session", b"b")
    assert await hot_store.ttl("session") is None


async def test_delete_counts_only_keys_that_existed(hot_store: HotStore) -> None:
    await hot_store.set("a", b"1")
    await hot_store.hset("b", {"field": b"2"})
    assert await hot_store.delete("a", "b", "never-set") == 2
    assert await hot_store.get("a") is None
    assert await hot_store.hgetall("b") == {}
    assert await hot_store.delete() == 0


async def test_incr_counts_from_zero_and_reads_back_as_decimal_bytes(hot_store: HotStore) -> None:
    assert await hot_store.incr("hits") == 1
    assert await hot_store.incr("hits", 5) == 6
    assert await hot_store.incr("hits", -10) == -4
    assert await hot_store.get("hits") == b"-4"
    await hot_store.set("seeded", b"41")
    assert await hot_store.incr("seeded") == 42


async def test_incr_applies_ttl_only_when_it_creates_the_key(hot_store: HotStore) -> None:
    await hot_store.incr("window", ttl_seconds=10)
    await hot_store.incr("window", ttl_seconds=1000)
    ttl = await hot_store.ttl("window")
    assert ttl is not None
    assert 9 < ttl <= 10

    await hot_store.incr("forever")
    await hot_store.incr("forever", ttl_seconds=10)
    assert await hot_store.ttl("forever") is None


async def test_ttl_is_none_without_key_or_expiry(hot_store: HotStore) -> None:
    assert await hot_store.ttl("missing") is None
    await hot_store.set("kept", b"x")
    assert await hot_store.ttl("kept") is None


async def test_expire_sets_a_ttl_on_existing_keys_only(hot_store: HotStore) -> None:
    assert await hot_store.expire("missing", 30) is False
    await hot_store.zadd("board", {"ann": 1})
    assert await hot_store.expire("board", 30) is True
    ttl = await hot_store.ttl("board")
    assert ttl is not None
    assert 29 < ttl <= 30


async def test_hash_fields_round_trip(hot_store: HotStore) -> None:
    await hot_store.hset("game", {"state": b"lobby", "round": b"0"})
    await hot_store.hset("game", {"state": b"playing"})
    assert await hot_store.hget("game", "state") == b"playing"
    assert await hot_store.hget("game", "missing") is None
    assert await hot_store.hget("no-such-hash", "state") is None
    assert await hot_store.hgetall("game") == {"state": b"playing", "round": b"0"}
    assert await hot_store.hdel("game", "round", "missing") == 1
    assert await hot_store.hgetall("game") == {"state": b"playing"}


async def test_removing_the_last_field_removes_the_hash(hot_store: HotStore) -> None:
    await hot_store.hset("presence", {"ann": b"1"})
    await hot_store.expire("presence", 100)
    assert await hot_store.hdel("presence", "ann") == 1
    assert await hot_store.ttl("presence") is None
    assert await hot_store.hgetall("presence") == {}
    await hot_store.hset("presence", {})
    assert await hot_store.expire("presence", 100) is False


async def test_hincrby_creates_fields_and_adds(hot_store: HotStore) -> None:
    assert await hot_store.hincrby("tally", "a", 2) == 2
    assert await hot_store.hincrby("tally", "a", -5) == -3
    assert await hot_store.hget("tally", "a") == b"-3"


async def test_a_key_of_one_kind_refuses_commands_for_another(hot_store: HotStore) -> None:
    await hot_store.set("plain", b"x")
    with pytest.raises((TypeError, ResponseError)):
        await hot_store.zadd("plain", {"m": 1})
    with pytest.raises((TypeError, ResponseError)):
        await hot_store.hget("plain", "field")


async def test_zadd_counts_new_members_and_rescores_existing(hot_store: HotStore) -> None:
    assert await hot_store.zadd("board", {"ann": 10, "bob": 20}) == 2
    assert await hot_store.zadd("board", {"ann": 30, "cid": 5}) == 1
    assert await hot_store.zscore("board", "ann") == 30
    assert await hot_store.zscore("board", "nobody") is None
    assert await hot_store.zcard("board") == 3
    assert await hot_store.zrevrange("board", 0, -1) == [("ann", 30), ("bob", 20), ("cid", 5)]
    assert await hot_store.zadd("board", {}) == 0


async def test_zincrby_creates_members_and_returns_the_new_score(hot_store: HotStore) -> None:
    assert await hot_store.zincrby("board", "ann", 2.5) == 2.5
    assert await hot_store.zincrby("board", "ann", -1) == 1.5
    assert await hot_store.zrevrank("board", "ann") == 0


async def test_equal_scores_rank_by_member_bytes_descending(hot_store: HotStore) -> None:
    # UTF-8 bytes order: "Z" < "a" < "b" < "é" (0xC3 0xA9).
    await hot_store.zadd("board", {"a": 1, "é": 1, "Z": 1, "b": 1, "top": 2, "low": 0})
    expected = ["top", "é", "b", "a", "Z", "low"]
    assert [member for member, _ in await hot_store.zrevrange("board", 0, -1)] == expected
    assert [await hot_store.zrevrank("board", member) for member in expected] == list(range(6))
    assert await hot_store.zrevrank("board", "nobody") is None
    assert await hot_store.zrevrank("no-such-board", "a") is None


@pytest.mark.parametrize(
    ("start", "stop", "expected"),
    [
        (0, -1, "edcba"),
        (0, 0, "e"),
        (-2, -1, "ba"),
        (1, -2, "dcb"),
        (-100, 1, "ed"),
        (3, 100, "ba"),
        (2, 1, ""),
        (5, 10, ""),
        (-1, -2, ""),
        (0, -6, ""),
    ],
)
async def test_zrevrange_indexes_like_redis(
    hot_store: HotStore, start: int, stop: int, expected: str
) -> None:
    await hot_store.zadd("board", {member: score for score, member in enumerate("abcde")})
    ranked = await hot_store.zrevrange("board", start, stop)
    assert "".join(member for member, _ in ranked) == expected


async def test_removing_the_last_member_removes_the_sorted_set(hot_store: HotStore) -> None:
    await hot_store.zadd("board", {"ann": 1, "bob": 2})
    await hot_store.expire("board", 100)
    assert await hot_store.zrem("board", "ann", "nobody") == 1
    assert await hot_store.zcard("board") == 1
    assert await hot_store.zrem("board", "bob") == 1
    assert await hot_store.ttl("board") is None
    assert await hot_store.zcard("board") == 0
    assert await hot_store.zrevrange("board", 0, -1) == []
    assert await hot_store.zrem("board") == 0


async def test_ping_succeeds(hot_store: HotStore) -> None:
    await hot_store.ping()


async def test_memory_keys_expire_when_the_clock_passes_their_ttl(fake_clock: FakeClock) -> None:
    store = MemoryHotStore(fake_clock)
    await store.set("plain", b"x", ttl_seconds=5)
    await store.incr("counter", ttl_seconds=5)
    await store.hset("hash", {"f": b"v"})
    await store.zadd("board", {"ann": 1})
    for key in ("hash", "board"):
        await store.expire(key, 5)

    fake_clock.advance(4.5)
    assert await store.ttl("plain") == pytest.approx(0.5)
    assert await store.get("plain") == b"x"

    fake_clock.advance(0.5)
    assert await store.get("plain") is None
    assert await store.hgetall("hash") == {}
    assert await store.zcard("board") == 0
    assert await store.ttl("counter") is None
    assert await store.incr("counter", ttl_seconds=5) == 1
    assert await store.set("plain", b"y", only_if_absent=True) is True


async def test_memory_expiry_follows_the_latest_ttl(fake_clock: FakeClock) -> None:
    store = MemoryHotStore(fake_clock)
    await store.set("extended", b"x", ttl_seconds=5)
    await store.expire("extended", 10)
    await store.set("persisted", b"x", ttl_seconds=5)
    await store.set("persisted", b"y")

    fake_clock.advance(6)
    assert await store.get("extended") == b"x"
    assert await store.get("persisted") == b"y"
    fake_clock.advance(4)
    assert await store.get("extended") is None
    assert await store.get("persisted") == b"y"


async def test_redis_keys_live_under_the_prefix(redis_namespace: RedisNamespace) -> None:
    client, prefix = redis_namespace.client, redis_namespace.prefix
    store = RedisHotStore(client, prefix)
    await store.set("plain", b"x")
    await store.zadd("board", {"ann": 1})
    stored = sorted(await client.keys(f"{prefix}*"))
    assert stored == [f"{prefix}{name}".encode() for name in ("board", "plain")]
    assert await RedisHotStore(client, f"{prefix}other:").get("plain") is None


# --- sorted sets under random operations ------------------------------------------------------


@dataclass(frozen=True)
class ZAdd:
    mapping: dict[str, float]

    async def apply(self, store: HotStore, key: str) -> object:
        return await store.zadd(key, self.mapping)

    def apply_to_model(self, scores: dict[str, float]) -> None:
        for member, score in self.mapping.items():
            if scores.get(member) != score:  # an equal score (0.0 vs -0.0) is left alone
                scores[member] = score


@dataclass(frozen=True)
class ZIncrBy:
    member: str
    amount: float

    async def apply(self, store: HotStore, key: str) -> object:
        return await store.zincrby(key, self.member, self.amount)

    def apply_to_model(self, scores: dict[str, float]) -> None:
        scores[self.member] = scores.get(self.member, 0.0) + self.amount


@dataclass(frozen=True)
class ZRem:
    members: tuple[str, ...]

    async def apply(self, store: HotStore, key: str) -> object:
        return await store.zrem(key, *self.members)

    def apply_to_model(self, scores: dict[str, float]) -> None:
        for member in self.members:
            scores.pop(member, None)


# A small alphabet makes ties and repeated members likely; the non-ASCII letters check
# that ties sort by UTF-8 bytes.
members = st.text(alphabet="aAbZ0é€😀", max_size=3)
scores = st.one_of(st.integers(-3, 3).map(float), st.floats(-1e9, 1e9, allow_nan=False))
operations = st.lists(
    st.one_of(
        st.builds(ZAdd, st.dictionaries(members, scores, min_size=1, max_size=4)),
        st.builds(ZIncrBy, members, scores),
        st.builds(ZRem, st.lists(members, min_size=1, max_size=3).map(tuple)),
    ),
    max_size=40,
)
indexes = st.integers(-12, 12)


def redis_order(scores: dict[str, float]) -> list[tuple[str, float]]:
    """Highest score first; equal scores by member bytes, highest first (Redis's ZREVRANGE)."""
    return sorted(scores.items(), key=lambda item: (item[1], item[0].encode()), reverse=True)


def redis_slice(items: list[tuple[str, float]], start: int, stop: int) -> list[tuple[str, float]]:
    """Redis's inclusive, negative-from-the-end range over a list."""
    start = max(start + len(items) if start < 0 else start, 0)
    stop = stop + len(items) if stop < 0 else stop
    return items[start : stop + 1] if stop >= 0 else []


@given(operations, indexes, indexes)
async def test_memory_sorted_set_keeps_redis_order(
    ops: list[ZAdd | ZIncrBy | ZRem], start: int, stop: int
) -> None:
    store = MemoryHotStore(FakeClock())
    model: dict[str, float] = {}
    for op in ops:
        await op.apply(store, "board")
        op.apply_to_model(model)

    expected = redis_order(model)
    assert await store.zrevrange("board", 0, -1) == expected
    assert await store.zrevrange("board", start, stop) == redis_slice(expected, start, stop)
    assert await store.zcard("board") == len(expected)
    for rank, (member, score) in enumerate(expected):
        assert await store.zrevrank("board", member) == rank
        assert await store.zscore("board", member) == score


async def observe(store: HotStore, key: str, start: int, stop: int) -> object:
    everything = await store.zrevrange(key, 0, -1)
    return (
        everything,
        await store.zrevrange(key, start, stop),
        await store.zcard(key),
        [await store.zrevrank(key, member) for member, _ in everything],
        await store.zrevrank(key, "never-added"),
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example has its own key
)
@given(operations, indexes, indexes)
async def test_memory_and_redis_sorted_sets_answer_alike(
    redis_namespace: RedisNamespace, ops: list[ZAdd | ZIncrBy | ZRem], start: int, stop: int
) -> None:
    memory = MemoryHotStore(FakeClock())
    redis = RedisHotStore(redis_namespace.client, redis_namespace.prefix)
    key = f"board:{uuid.uuid4().hex}"
    for op in ops:
        assert await op.apply(memory, key) == await op.apply(redis, key), op
    assert await observe(memory, key, start, stop) == await observe(redis, key, start, stop)


async def test_a_burst_larger_than_the_pool_waits_for_connections() -> None:
    """1,000 concurrent students starting an exam made more concurrent Redis commands than
    the pool holds; each one must wait for a connection, not fail and fall back."""
    require_redis()
    client = redis_client(REDIS_URL)
    prefix = f"test:{uuid.uuid4().hex}:"
    try:
        await client.set(f"{prefix}key", b"value")
        burst = 3 * POOL_CONNECTIONS
        replies = await asyncio.gather(*(client.get(f"{prefix}key") for _ in range(burst)))
        assert replies == [b"value"] * burst
    finally:
        await client.delete(f"{prefix}key")
        await client.aclose()


async def test_reads_arriving_together_each_get_their_own_value(hot_store: HotStore) -> None:
    """A Redis store answers concurrent reads with one MGET; each reader still gets its key."""
    for number in range(50):
        await hot_store.set(f"k{number}", str(number).encode())
    keys = [f"k{number % 60}" for number in range(300)]
    values = await asyncio.gather(*(hot_store.get(key) for key in keys))
    assert values == [
        str(number % 60).encode() if number % 60 < 50 else None for number in range(300)
    ]


async def test_every_reader_of_a_failed_batch_gets_the_outage() -> None:
    """Callers tell an unreachable Redis by its error (and fall back, or answer 503)."""
    client = redis_client(f"redis://127.0.0.1:{free_port()}/0")
    store = RedisHotStore(client, "unreachable:")
    try:
        results = await asyncio.gather(
            *(store.get(f"k{number}") for number in range(5)), return_exceptions=True
        )
    finally:
        await store.close()
        await client.aclose()
    assert all(isinstance(result, RedisConnectionError) for result in results), results


async def test_a_command_on_a_connection_redis_dropped_goes_out_again_on_a_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a Redis restart, a pooled connection can pass the pool's check (its closing
    not yet read) and break only when used; the chaos suite met it as a 503 on the first
    live join. The command then goes out once more on a new connection."""
    require_redis()
    client = redis_client(REDIS_URL)
    admin = redis_client(REDIS_URL)
    key = f"test:{uuid.uuid4().hex}"
    try:
        await client.set(key, b"kept")
        pooled = await client.client_id()  # the pool's one connection
        assert await admin.client_kill_filter(_id=pooled) == 1

        async def unchecked(connection: AbstractConnection) -> None:
            await connection.connect()  # connected as far as it knows: no reconnect

        monkeypatch.setattr(client.connection_pool, "ensure_connection", unchecked)
        assert await client.get(key) == b"kept"
        assert await client.client_id() != pooled
    finally:
        await admin.delete(key)
        await client.aclose()
        await admin.aclose()


async def test_concurrent_callers_share_one_pipeline_and_get_their_own_replies(
    redis_namespace: RedisNamespace,
) -> None:
    client, prefix = redis_namespace.client, redis_namespace.prefix
    shared = SharedPipeline(client)

    async def caller(number: int) -> list[Any]:
        def queue(pipe: Pipeline) -> None:
            pipe.incr(f"{prefix}hits")
            pipe.set(f"{prefix}caller:{number}", number)
            pipe.get(f"{prefix}caller:{number}")

        return await shared.run(queue)

    with patch.object(client, "pipeline", wraps=client.pipeline) as opened:
        replies = await asyncio.gather(*(caller(number) for number in range(50)))
    assert opened.call_count == 1, "one round trip for callers ready in the same turn"
    assert sorted(hits for hits, _, _ in replies) == list(range(1, 51))
    assert [(stored, read) for _, stored, read in replies] == [
        (True, str(number).encode()) for number in range(50)
    ]


async def test_a_failing_command_fails_only_its_caller(redis_namespace: RedisNamespace) -> None:
    client, prefix = redis_namespace.client, redis_namespace.prefix
    await client.set(f"{prefix}text", "not a number")
    shared = SharedPipeline(client)

    def bad(pipe: Pipeline) -> None:
        pipe.incr(f"{prefix}text")

    def good(pipe: Pipeline) -> None:
        pipe.incr(f"{prefix}count")

    results = await asyncio.gather(shared.run(bad), shared.run(good), return_exceptions=True)
    assert isinstance(results[0], ResponseError)
    assert results[1] == [1]


async def test_a_script_runs_even_when_redis_has_forgotten_it(
    redis_namespace: RedisNamespace,
) -> None:
    client, prefix = redis_namespace.client, redis_namespace.prefix
    script = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    shared = SharedPipeline(client)

    def queue(pipe: Pipeline) -> None:
        pipe.scripts.add(script)  # type: ignore[arg-type]
        pipe.evalsha(script.sha, 1, f"{prefix}total", 5)

    assert await shared.run(queue) == [5]
    await client.script_flush()  # as after a Redis restart without persistence
    assert await shared.run(queue) == [10]
