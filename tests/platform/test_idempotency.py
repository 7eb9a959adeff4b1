"""Idempotency keys on both deployments: replay, reuse, in flight, takeover, expiry, races.

Time moves only through the FakeClock passed as ``now``; the races are real: on
PostgreSQL, 50 ``begin()`` calls run on 50 connections at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, post
from litestar.params import JSONBody
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from studyhall.config import Settings
from studyhall.platform import housekeeping
from studyhall.platform.clock import FakeClock
from studyhall.platform.db import create_engine, create_session_factory
from studyhall.platform.errors import EXCEPTION_HANDLERS
from studyhall.platform.housekeeping import PRUNE_JOB
from studyhall.platform.idempotency import (
    DEFAULT_LEASE,
    RETENTION,
    Claim,
    IdempotencyInFlight,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    Replay,
    abandon,
    begin,
    complete,
    parse_idempotency_key,
    prune_expired,
    read_idempotent_request,
    replay_response,
    request_hash,
)
from studyhall.platform.models import IdempotencyKey, Job
from studyhall.platform.runtime import Platform

SCOPE = "exam-submit:student-1"
FIRST = request_hash("POST", "/api/v1/sessions/1/submit", b"{}")
OTHER = request_hash("POST", "/api/v1/sessions/2/submit", b"{}")
RACERS = 50

EFFECTS_METADATA = MetaData()
EFFECTS = Table(
    "idempotency_test_effects",
    EFFECTS_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(200), nullable=False),
    Column("key", String(255), nullable=False),
)
"""The business write of the tests' requests; no unique key, so a double effect shows."""

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(settings: Settings, platform: Platform) -> AsyncIterator[Sessions]:
    """A pool as wide as the races (PostgreSQL), plus the effects table, dropped afterwards."""
    engine = create_engine(settings.with_overrides(db_pool_size=RACERS, db_max_overflow=0))
    async with engine.begin() as connection:
        await connection.run_sync(EFFECTS_METADATA.create_all)
    try:
        yield create_session_factory(engine)
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(EFFECTS_METADATA.drop_all)
        await engine.dispose()


async def _run_request(
    sessions: Sessions, claim: Claim, clock: FakeClock, body: bytes = b'{"score":1}'
) -> None:
    """The caller's unit of work: the business write and its recorded response, together."""
    async with sessions() as session, session.begin():
        await session.execute(insert(EFFECTS).values(scope=claim.scope, key=claim.key))
        await complete(session, claim, status=200, body=body, now=clock.now())


async def _effects(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(EFFECTS)) or 0)


async def _keys(sessions: Sessions) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(IdempotencyKey.key).order_by(IdempotencyKey.key)))


async def _claim(sessions: Sessions, clock: FakeClock, key: str = "k1", **options: Any) -> Claim:
    options = {"scope": SCOPE, "request_hash": FIRST, **options}
    outcome = await begin(sessions, key=key, now=clock.now(), **options)
    assert isinstance(outcome, Claim)
    return outcome


async def test_a_retry_replays_the_first_response(sessions: Sessions, clock: FakeClock) -> None:
    claim = await _claim(sessions, clock)
    await _run_request(sessions, claim, clock, body=b'{"status":"SCORED"}')
    clock.advance(3600)

    replay = await begin(sessions, scope=SCOPE, key="k1", request_hash=FIRST, now=clock.now())

    assert replay == Replay(200, b'{"status":"SCORED"}')
    assert await _effects(sessions) == 1
    response = replay_response(replay)
    assert (response.status_code, response.content) == (200, b'{"status":"SCORED"}')
    assert response.headers["Idempotent-Replayed"] == "true"


async def test_the_same_key_on_another_request_is_422(sessions: Sessions, clock: FakeClock) -> None:
    claim = await _claim(sessions, clock)
    with pytest.raises(IdempotencyKeyReused) as while_in_flight:
        await begin(sessions, scope=SCOPE, key="k1", request_hash=OTHER, now=clock.now())
    await _run_request(sessions, claim, clock)
    with pytest.raises(IdempotencyKeyReused):
        await begin(sessions, scope=SCOPE, key="k1", request_hash=OTHER, now=clock.now())

    error = while_in_flight.value
    assert (error.status, error.code) == (422, "idempotency_key_reused")


async def test_a_retry_while_the_first_runs_is_409(sessions: Sessions, clock: FakeClock) -> None:
    await _claim(sessions, clock)
    clock.advance(DEFAULT_LEASE.total_seconds() - 1)

    with pytest.raises(IdempotencyInFlight) as in_flight:
        await begin(sessions, scope=SCOPE, key="k1", request_hash=FIRST, now=clock.now())

    error = in_flight.value
    assert (error.status, error.code) == (409, "idempotency_in_flight")
    assert error.headers == {"Retry-After": "1"}


async def test_an_abandoned_key_runs_again(sessions: Sessions, clock: FakeClock) -> None:
    """A failed request committed nothing, so its retry runs instead of replaying the failure."""
    first = await _claim(sessions, clock)
    await abandon(sessions, first)

    second = await _claim(sessions, clock)
    await _run_request(sessions, second, clock)

    assert second.token != first.token
    assert await _effects(sessions) == 1


async def test_a_claim_past_its_lease_is_taken_over(sessions: Sessions, clock: FakeClock) -> None:
    """The first process died (or stalled); the retry takes over; only one run commits."""
    stalled = await _claim(sessions, clock)
    clock.advance(DEFAULT_LEASE.total_seconds())

    retry = await _claim(sessions, clock)
    with pytest.raises(IdempotencyInFlight):
        await _run_request(sessions, stalled, clock, body=b'{"run":"stalled"}')
    await abandon(sessions, stalled)  # what its failure path does: must not free the retry's key
    await _run_request(sessions, retry, clock, body=b'{"run":"retry"}')

    replay = await begin(sessions, scope=SCOPE, key="k1", request_hash=FIRST, now=clock.now())
    assert replay == Replay(200, b'{"run":"retry"}')
    assert await _effects(sessions) == 1


async def test_a_stale_claim_with_another_body_is_still_a_reuse(
    sessions: Sessions, clock: FakeClock
) -> None:
    await _claim(sessions, clock)
    clock.advance(DEFAULT_LEASE.total_seconds())
    with pytest.raises(IdempotencyKeyReused):
        await begin(sessions, scope=SCOPE, key="k1", request_hash=OTHER, now=clock.now())


async def test_expired_keys_count_as_new(sessions: Sessions, clock: FakeClock) -> None:
    claim = await _claim(sessions, clock)
    await _run_request(sessions, claim, clock)
    clock.advance(RETENTION.total_seconds())

    again = await _claim(sessions, clock, request_hash=OTHER)
    await _run_request(sessions, again, clock, body=b'{"run":2}')

    replay = await begin(sessions, scope=SCOPE, key="k1", request_hash=OTHER, now=clock.now())
    assert replay == Replay(200, b'{"run":2}')
    assert await _effects(sessions) == 2


async def test_scopes_keep_users_apart(sessions: Sessions, clock: FakeClock) -> None:
    mine = await _claim(sessions, clock, scope="exam-submit:student-1")
    theirs = await _claim(sessions, clock, scope="exam-submit:student-2", request_hash=OTHER)
    await _run_request(sessions, mine, clock, body=b'{"who":1}')
    await _run_request(sessions, theirs, clock, body=b'{"who":2}')

    replay = await begin(
        sessions, scope="exam-submit:student-2", key="k1", request_hash=OTHER, now=clock.now()
    )
    assert replay == Replay(200, b'{"who":2}')


async def test_prune_deletes_only_expired_keys_in_batches(
    sessions: Sessions, clock: FakeClock
) -> None:
    for key in ("a", "b", "c"):
        await _claim(sessions, clock, key=key)
    clock.advance(3600)
    await _claim(sessions, clock, key="young")
    clock.advance(RETENTION.total_seconds() - 3600)

    async with sessions() as session, session.begin():
        assert await prune_expired(session, clock.now(), limit=2) == 2
        assert await prune_expired(session, clock.now(), limit=2) == 1
        assert await prune_expired(session, clock.now(), limit=2) == 0
    assert await _keys(sessions) == ["young"]


async def test_the_prune_job_runs_hourly_from_app_start(
    sessions: Sessions, platform: Platform, clock: FakeClock, run_jobs: Any
) -> None:
    started = clock.now()
    await _claim(sessions, clock, key="old")
    clock.advance(RETENTION.total_seconds() - 1)
    await _claim(sessions, clock, key="young")

    assert await _prune_jobs(platform) == [("queued", started + timedelta(hours=1))]
    clock.advance(1)
    assert await run_jobs() == 1, "the prune queued at app start, due an hour after it"

    assert await _keys(sessions) == ["young"]
    assert await _prune_jobs(platform) == [
        ("done", started + timedelta(hours=1)),
        ("queued", clock.now() + timedelta(hours=1)),
    ]
    await housekeeping.schedule(platform.sessions, clock)  # another app starts
    assert len(await _prune_jobs(platform)) == 2, "one prune per hour, whoever asks"


async def _prune_jobs(platform: Platform) -> list[tuple[str, Any]]:
    async with platform.sessions() as session:
        rows = await session.execute(
            select(Job.state, Job.run_at).where(Job.kind == PRUNE_JOB).order_by(Job.run_at)
        )
        return [(row.state, row.run_at) for row in rows]


async def _warm(sessions: Sessions) -> None:
    """Open every pooled connection before a race, so the racers start together."""
    everyone = asyncio.Barrier(RACERS)

    async def hold() -> None:
        async with sessions() as session:
            await session.connection()
            await everyone.wait()

    if sessions.kw["bind"].dialect.name == "postgresql":
        await asyncio.gather(*(hold() for _ in range(RACERS)))


async def _race(sessions: Sessions, clock: FakeClock) -> list[Claim | Replay | Exception]:
    async def attempt() -> Claim | Replay | Exception:
        try:
            return await begin(sessions, scope=SCOPE, key="race", request_hash=FIRST, now=now)
        except IdempotencyInFlight as exc:
            return exc

    now = clock.now()
    await _warm(sessions)
    return list(await asyncio.gather(*(attempt() for _ in range(RACERS))))


async def test_concurrent_first_requests_claim_once(sessions: Sessions, clock: FakeClock) -> None:
    outcomes = await _race(sessions, clock)

    claims = [outcome for outcome in outcomes if isinstance(outcome, Claim)]
    assert len(claims) == 1
    assert all(isinstance(o, IdempotencyInFlight) for o in outcomes if o is not claims[0])


async def test_concurrent_takeovers_of_a_dead_claim_claim_once(
    sessions: Sessions, clock: FakeClock
) -> None:
    await _claim(sessions, clock, key="race")
    clock.advance(DEFAULT_LEASE.total_seconds())

    outcomes = await _race(sessions, clock)

    assert sum(isinstance(outcome, Claim) for outcome in outcomes) == 1


async def test_concurrent_requests_commit_one_effect(sessions: Sessions, clock: FakeClock) -> None:
    """50 copies of one request, each running the business write when it wins the key."""

    async def request() -> bytes | None:
        try:
            outcome = await begin(sessions, scope=SCOPE, key="k1", request_hash=FIRST, now=now)
        except IdempotencyInFlight:
            return None
        if isinstance(outcome, Replay):
            return outcome.body
        await _run_request(sessions, outcome, clock, body=b'{"first":true}')
        return b'{"first":true}'

    now = clock.now()
    await _warm(sessions)
    answered = await asyncio.gather(*(request() for _ in range(RACERS)))
    retried = [await request() for body in answered if body is None]

    assert await _effects(sessions) == 1
    assert {*answered, *retried} - {None} == {b'{"first":true}'}
    assert None not in retried, "once the first is done, every retry replays it"


# The header and the request hash, through a real Litestar request.


def test_the_key_is_a_bare_value_or_a_structured_field_string() -> None:
    assert parse_idempotency_key(" 8e03978e-40d5 ") == "8e03978e-40d5"
    assert parse_idempotency_key('"8e03978e-40d5"') == "8e03978e-40d5"
    assert parse_idempotency_key(r'"say \"hi\" \\ bye"') == r'say "hi" \ bye'
    assert parse_idempotency_key("k" * 255) == "k" * 255


@pytest.mark.parametrize("header", [None, "", "   "])
def test_a_missing_key_is_required(header: str | None) -> None:
    with pytest.raises(IdempotencyKeyRequired):
        parse_idempotency_key(header)


@pytest.mark.parametrize("header", ["k" * 256, '""', "caf\u00e9", "tab\there", '"a"b"'])
def test_an_invalid_key_is_refused(header: str) -> None:
    with pytest.raises(InvalidIdempotencyKey):
        parse_idempotency_key(header)


def test_the_request_hash_covers_method_target_and_body() -> None:
    base = request_hash("POST", "/a?x=1", b"{}")
    assert base == request_hash("post", "/a?x=1", b"{}")
    assert (
        base
        == hashlib.sha256(
            b"".join([(4).to_bytes(8, "big"), b"POST", (6).to_bytes(8, "big"), b"/a?x=1", b"{}"])
        ).hexdigest()
    )
    others = {request_hash("PUT", "/a?x=1", b"{}"), request_hash("POST", "/a?x=2", b"{}")}
    others |= {request_hash("POST", "/a?x=1", b"{ }"), request_hash("POST", "/a", b"?x=1{}")}
    assert base not in others
    assert len(others) == 4


@post("/items/{item_id:int}")
async def echo(request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    read = await read_idempotent_request(request)
    return {"key": read.key, "hash": read.request_hash, "data": data}


@contextlib.asynccontextmanager
async def echo_client() -> AsyncIterator[httpx.AsyncClient]:
    app = Litestar(route_handlers=[echo], exception_handlers=EXCEPTION_HANDLERS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_the_route_helper_reads_the_key_and_hashes_the_request() -> None:
    async with echo_client() as client:
        response = await client.post(
            "/items/7?draft=1", content=b'{"a": 1}', headers={"Idempotency-Key": "abc"}
        )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "key": "abc",
        "hash": request_hash("POST", "/items/7?draft=1", b'{"a": 1}'),
        "data": {"a": 1},
    }


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ([], "idempotency_key_required"),
        ([("Idempotency-Key", "k" * 256)], "invalid_idempotency_key"),
        ([("Idempotency-Key", "a"), ("Idempotency-Key", "b")], "invalid_idempotency_key"),
    ],
)
async def test_the_route_helper_answers_400_problems(
    headers: list[tuple[str, str]], code: str
) -> None:
    async with echo_client() as client:
        response = await client.post("/items/7", json={}, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
