"""Serving without Redis: the process starts, reads fall back to the database, what only
Redis holds answers 503 ``hot_store_unavailable`` at once, and everything returns with Redis."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from studyhall.app import create_app, litestar_of
from studyhall.identity import repository as identity_repository
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.hotstore import MemoryHotStore, RedisOutage, redis_client
from studyhall.platform.ratelimit import RateLimiter
from studyhall.platform.runtime import Platform
from tests.chaos.conftest import PrivateRedis
from tests.conftest import base_settings, serving
from tests.helpers import PASSWORD, make_person
from tests.platform.test_errors import assert_problem
from tests.processes import free_port
from tests.services import services_required


class _Unreachable:
    """A hot store whose every call fails the way redis-py does when Redis is down."""

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: Any, **kwargs: Any) -> None:
            raise RedisConnectionError("Connection refused")

        return fail


@pytest.fixture
def stopped_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private Redis port with nothing listening yet; the test starts the server."""
    binary = shutil.which("redis-server")
    if binary is None:
        if services_required():
            pytest.fail("redis-server is not installed and STUDYHALL_REQUIRE_SERVICES=1")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(binary, free_port(), tmp_path)
    try:
        yield server
    finally:
        server.kill()


async def test_the_breaker_fails_calls_at_once_after_a_refused_connect() -> None:
    client = redis_client(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(RedisConnectionError) as refused:
            await client.ping()
        assert "not retrying yet" not in str(refused.value), "the first call really tried"
        with pytest.raises(RedisConnectionError, match="not retrying yet"):
            await client.get("anything")
    finally:
        await client.aclose()


def test_the_breaker_closes_after_its_cooldown() -> None:
    outage = RedisOutage(cooldown=0)
    outage.trip()
    outage.check()  # a zero cooldown is already over
    open_outage = RedisOutage(cooldown=3600)
    open_outage.trip()
    with pytest.raises(RedisConnectionError):
        open_outage.check()


@pytest.mark.parametrize(
    "error", [RedisConnectionError("Connection refused"), RedisTimeoutError("Timeout reading")]
)
async def test_an_unreachable_redis_is_a_503_hot_store_unavailable(
    client: httpx.AsyncClient,
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    student = await make_person(platform)

    async def failing_read(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(identity_repository, "user_by_id", failing_read)
    response = await client.get("/api/v1/me", headers=student.headers)
    assert_problem(response, 503, "hot_store_unavailable")
    assert response.headers["retry-after"] == "5"


async def test_rate_limits_count_in_the_fallback_while_redis_is_down() -> None:
    clock = FakeClock()
    fallback = MemoryHotStore(clock)
    limiter = RateLimiter(_Unreachable(), clock, fallback=fallback)  # type: ignore[arg-type]
    decisions = [await limiter.hit("login:ann", limit=2, window_seconds=60) for _ in range(3)]
    assert [decision.allowed for decision in decisions] == [True, True, False]
    assert not (await limiter.peek("login:ann", limit=2, window_seconds=60)).allowed
    strict = RateLimiter(_Unreachable(), clock)  # type: ignore[arg-type]
    with pytest.raises(RedisConnectionError):
        await strict.hit("login:ann", limit=2, window_seconds=60)


async def _until_ready(client: httpx.AsyncClient) -> httpx.Response:
    for _ in range(100):
        response = await client.get("/readyz")
        if response.status_code == 200:
            return response
        await asyncio.sleep(0.1)
    raise AssertionError(f"never ready: {response.text}")


@pytest.mark.services
async def test_the_app_starts_and_serves_without_redis_and_recovers_when_it_comes(
    tmp_path: Path, sqlite_template: Path, stopped_redis: PrivateRedis
) -> None:
    shutil.copy(sqlite_template, tmp_path / "studyhall.db")
    app = create_app(base_settings(tmp_path, redis_url=stopped_redis.url, redis_prefix="t:"))
    async with serving(app):
        platform: Platform = litestar_of(app).state.platform
        teacher = await make_person(platform, Role.TEACHER)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/healthz")).status_code == 200
            down = await client.get("/readyz")
            assert_problem(down, 503, "not_ready")
            assert down.json()["checks"]["redis"].startswith("failed")
            assert down.json()["checks"]["database"] == "ok"
            # Authentication falls back to the database, rate limits to this process.
            me = await client.get("/api/v1/me", headers=teacher.headers)
            assert me.status_code == 200, me.text
            token = await client.post(
                "/api/v1/auth/token", json={"email": teacher.email, "password": PASSWORD}
            )
            assert token.status_code == 200, token.text
            # A live game lives in Redis only.
            quiz = await client.post(
                "/api/v1/quizzes",
                json={
                    "title": "Q",
                    "questions": [
                        {
                            "type": "truefalse",
                            "text": "Up?",
                            "options": ["True", "False"],
                            "correctOptions": [0],
                            "timeLimitSeconds": 5,
                        }
                    ],
                },
                headers=teacher.headers,
            )
            assert quiz.status_code == 201, quiz.text
            game = f"/api/v1/quizzes/{quiz.json()['id']}/games"
            refused = await client.post(game, headers=teacher.headers)
            assert_problem(refused, 503, "hot_store_unavailable")
            assert refused.headers["retry-after"] == "5"

            stopped_redis.start()
            back = await _until_ready(client)
            assert back.json()["checks"] == {"database": "ok", "redis": "ok"}
            created = await client.post(game, headers=teacher.headers)
            assert created.status_code == 201, created.text
        redis = Redis.from_url(stopped_redis.url)
        try:
            assert [key async for key in redis.scan_iter(match="t:*")], "the game is in Redis"
        finally:
            await redis.aclose()
