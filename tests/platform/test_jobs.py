"""Contract tests for the durable job queue, on SQLite and on PostgreSQL.

Time moves only through a FakeClock (leases, delays, backoff); the only real
waiting is for other tasks or for the worker process of the kill -9 test.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from studyhall.config import Settings, load_settings
from studyhall.platform.clock import FakeClock, SystemClock
from studyhall.platform.db import Base, create_engine, create_session_factory
from studyhall.platform.jobs import (
    WAKEUP_CHANNEL,
    JobContext,
    JobRegistry,
    Outcome,
    QueueStats,
    Worker,
    enqueue,
    prune_done,
    queue_stats,
)
from studyhall.platform.models import Job
from studyhall.platform.pubsub import MemoryPubSub, PubSub
from tests.platform.job_worker_script import HELD_EFFECT_JOB
from tests.platform.jobs_effects import EFFECTS_METADATA, effects, record_effect
from tests.services import scratch_postgres

EFFECT_JOB = "test.effect"
FAILING_JOB = "test.failing"
HELD_JOB = "test.held"
LEASE_SECONDS = 30.0
REPO_ROOT = Path(__file__).parents[2]


@dataclass
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with scratch_postgres("jobs") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The schema on a fresh SQLite file or a fresh PostgreSQL database."""
    env = {"STUDYHALL_DATA_DIR": str(tmp_path), "STUDYHALL_SECRET_KEY": "x" * 40}
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "postgresql":
            env["STUDYHALL_DATABASE_URL"] = await stack.enter_async_context(
                scratch_postgres("jobs")
            )
        database = await _database(load_settings(env))
        stack.push_async_callback(database.engine.dispose)
        yield database


async def _database(settings: Settings) -> Database:
    engine = create_engine(settings)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
        await connection.run_sync(EFFECTS_METADATA.create_all)
    return Database(engine, create_session_factory(engine))


class HeldFirstAttempt:
    """A handler whose first attempt waits for the test before writing its effect.

    It waits before writing so that, on SQLite, it holds no write lock meanwhile.
    """

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        if ctx.attempt == 1:
            self.started.set()
            await self.release.wait()
        await record_effect(ctx)


@dataclass
class Harness:
    """One database, one clock, one registry; builds workers and records their outcomes."""

    db: Database
    clock: FakeClock
    registry: JobRegistry = field(default_factory=JobRegistry)
    held: HeldFirstAttempt = field(default_factory=HeldFirstAttempt)
    outcomes: list[tuple[str, str, Outcome]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.registry.job(EFFECT_JOB)(_effect)
        self.registry.job(FAILING_JOB)(_effect_then_fail)
        self.registry.job(HELD_JOB)(self.held)

    def worker(
        self,
        owner: str = "worker-1",
        *,
        concurrency: int = 1,
        poll_seconds: float = 0.01,
        wakeups: PubSub | None = None,
        on_finished: Callable[[str, Outcome], None] | None = None,
    ) -> Worker:
        def record(kind: str, outcome: Outcome) -> None:
            self.outcomes.append((owner, kind, outcome))
            if on_finished is not None:
                on_finished(kind, outcome)

        return Worker(
            self.db.sessions,
            self.clock,
            self.registry,
            owner=owner,
            lease_seconds=LEASE_SECONDS,
            poll_seconds=poll_seconds,
            concurrency=concurrency,
            wakeups=wakeups,
            on_finished=record,
        )

    async def enqueue(self, kind: str = EFFECT_JOB, **options: Any) -> uuid.UUID:
        """Enqueue one job in a committed transaction of its own."""
        async with self.db.sessions() as session, session.begin():
            job_id = await enqueue(session, self.clock, kind, {"n": 1}, **options)
        assert job_id is not None
        return job_id

    async def job(self, job_id: uuid.UUID) -> Job:
        async with self.db.sessions() as session:
            job = await session.get(Job, job_id)
        assert job is not None
        return job

    async def effects(self) -> list[tuple[uuid.UUID, int]]:
        async with self.db.sessions() as session:
            return await effects(session)

    async def stats(self) -> QueueStats:
        async with self.db.sessions() as session:
            return await queue_stats(session, self.clock.now())


async def _effect(ctx: JobContext, payload: dict[str, Any]) -> None:
    await record_effect(ctx)


async def _effect_then_fail(ctx: JobContext, payload: dict[str, Any]) -> None:
    await record_effect(ctx)
    raise RuntimeError("boom")


@pytest.fixture
def jobs(db: Database, fake_clock: FakeClock) -> Harness:
    return Harness(db, fake_clock)


async def test_enqueued_job_runs_once_and_is_done(jobs: Harness) -> None:
    job_id = await jobs.enqueue()
    worker = jobs.worker()

    assert await worker.run_once()
    assert not await worker.run_once()

    job = await jobs.job(job_id)
    assert (job.state, job.attempts, job.lease_token) == ("done", 1, None)
    assert job.finished_at == jobs.clock.now()
    assert await jobs.effects() == [(job_id, 1)]
    assert jobs.outcomes == [("worker-1", EFFECT_JOB, "done")]


async def test_enqueue_in_a_rolled_back_transaction_leaves_no_job(jobs: Harness) -> None:
    async def failing_business_write() -> None:
        async with jobs.db.sessions() as session, session.begin():
            await enqueue(session, jobs.clock, EFFECT_JOB, {})
            raise RuntimeError("business write failed")

    with pytest.raises(RuntimeError, match="business write failed"):
        await failing_business_write()

    async with jobs.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Job)) == 0
    assert not await jobs.worker().run_once()


async def test_dedupe_key_makes_a_second_enqueue_a_no_op(jobs: Harness) -> None:
    async with jobs.db.sessions() as session, session.begin():
        first = await enqueue(session, jobs.clock, EFFECT_JOB, {}, dedupe_key="grade:1")
        same_transaction = await enqueue(session, jobs.clock, EFFECT_JOB, {}, dedupe_key="grade:1")
    async with jobs.db.sessions() as session, session.begin():
        later = await enqueue(session, jobs.clock, EFFECT_JOB, {}, dedupe_key="grade:1")
        other_key = await enqueue(session, jobs.clock, EFFECT_JOB, {}, dedupe_key="grade:2")

    assert first is not None
    assert other_key is not None
    assert (same_transaction, later) == (None, None)
    worker = jobs.worker()
    assert [await worker.run_once() for _ in range(3)] == [True, True, False]


async def test_prune_deletes_only_jobs_done_before_the_cutoff_in_batches(jobs: Harness) -> None:
    worker = jobs.worker()
    old = [await jobs.enqueue() for _ in range(3)]
    assert [await worker.run_once() for _ in old] == [True] * 3
    jobs.clock.advance(60)
    cutoff = jobs.clock.now()
    recent = await jobs.enqueue()
    assert await worker.run_once()
    failing = await jobs.enqueue(FAILING_JOB, max_attempts=1)
    assert await worker.run_once()
    assert (await jobs.job(failing)).state == "failed"
    waiting = await jobs.enqueue()
    jobs.clock.advance(3600)

    async with jobs.db.sessions() as session, session.begin():
        assert await prune_done(session, cutoff, limit=2) == 2
        assert await prune_done(session, cutoff, limit=2) == 1
        assert await prune_done(session, cutoff, limit=2) == 0
        left = set((await session.execute(select(Job.id))).scalars())
    assert left == {recent, waiting, failing}, "recent, queued and failed jobs stay"


async def test_delayed_job_is_not_claimed_before_its_time(jobs: Harness) -> None:
    job_id = await jobs.enqueue(delay_seconds=30)
    worker = jobs.worker()

    assert not await worker.run_once()
    jobs.clock.advance(29)
    assert not await worker.run_once()
    jobs.clock.advance(1)
    assert await worker.run_once()
    assert (await jobs.job(job_id)).state == "done"


async def test_failing_job_is_retried_with_backoff_then_failed(jobs: Harness) -> None:
    job_id = await jobs.enqueue(FAILING_JOB, max_attempts=3)
    worker = jobs.worker()

    for attempt, backoff in [(1, 2), (2, 4)]:
        assert await worker.run_once()
        job = await jobs.job(job_id)
        assert (job.state, job.attempts) == ("queued", attempt)
        assert job.run_at == jobs.clock.now() + timedelta(seconds=backoff)
        assert job.last_error == "RuntimeError: boom"
        jobs.clock.advance(backoff - 1)
        assert not await worker.run_once()
        jobs.clock.advance(1)

    assert await worker.run_once()
    job = await jobs.job(job_id)
    assert (job.state, job.attempts, job.last_error) == ("failed", 3, "RuntimeError: boom")
    assert job.finished_at == jobs.clock.now()
    jobs.clock.advance(3600)
    assert not await worker.run_once()
    assert await jobs.effects() == []  # each failed attempt's writes were rolled back
    assert [outcome for _, _, outcome in jobs.outcomes] == ["retry", "retry", "failed"]


async def test_a_worker_leaves_kinds_it_does_not_know_queued(jobs: Harness) -> None:
    """During a rolling deploy an old worker must not fail a job only a new one can run."""
    job_id = await jobs.enqueue("nobody.handles.this", max_attempts=5)

    assert not await jobs.worker().run_once()

    job = await jobs.job(job_id)
    assert (job.state, job.attempts) == ("queued", 0)


async def test_lost_lease_commits_exactly_one_effect(jobs: Harness) -> None:
    """The first worker outlives its lease; the second takes over; only one effect commits."""
    job_id = await jobs.enqueue(HELD_JOB)
    first = asyncio.create_task(jobs.worker("first").run_once())
    await jobs.held.started.wait()

    jobs.clock.advance(LEASE_SECONDS + 1)
    assert await jobs.worker("second").run_once()
    jobs.held.release.set()
    assert await first

    job = await jobs.job(job_id)
    assert (job.state, job.attempts, job.lease_owner) == ("done", 2, "second")
    assert await jobs.effects() == [(job_id, 2)]
    assert sorted(jobs.outcomes) == [("first", HELD_JOB, "lost"), ("second", HELD_JOB, "done")]


async def test_lease_lost_on_the_last_attempt_fails_the_job(jobs: Harness) -> None:
    """A job whose worker keeps dying must not be re-run for ever."""
    job_id = await jobs.enqueue(HELD_JOB, max_attempts=1)
    first = asyncio.create_task(jobs.worker("first").run_once())
    await jobs.held.started.wait()

    jobs.clock.advance(LEASE_SECONDS + 1)
    assert await jobs.worker("second").run_once()
    jobs.held.release.set()
    assert await first

    job = await jobs.job(job_id)
    assert (job.state, job.attempts) == ("failed", 2)
    assert job.last_error == "lease expired on the last attempt (worker lost)"
    assert await jobs.effects() == []


async def test_concurrent_workers_run_each_job_exactly_once(jobs: Harness) -> None:
    total, workers = 200, 4
    async with jobs.db.sessions() as session, session.begin():
        job_ids = {await enqueue(session, jobs.clock, EFFECT_JOB, {"n": n}) for n in range(total)}
    finished = collections.Counter[str]()
    all_done = asyncio.Event()

    def count(kind: str, outcome: Outcome) -> None:
        finished[outcome] += 1
        if sum(finished.values()) == total:
            all_done.set()

    stop = asyncio.Event()
    runs = [
        asyncio.create_task(jobs.worker(f"w{i}", concurrency=2, on_finished=count).run(stop))
        for i in range(workers)
    ]
    try:
        await asyncio.wait_for(all_done.wait(), timeout=60)
    finally:
        stop.set()
        await asyncio.gather(*runs)

    recorded = await jobs.effects()
    by_owner = collections.Counter(owner for owner, _, _ in jobs.outcomes)
    print(
        f"\n{jobs.db.engine.dialect.name}: outcomes {dict(finished)}, per worker {dict(by_owner)}"
    )
    assert finished == {"done": total}
    assert len(recorded) == total
    assert {job_id for job_id, _ in recorded} == job_ids
    assert {attempt for _, attempt in recorded} == {1}
    assert await jobs.stats() == QueueStats(0, 0, 0, 0.0)


async def test_stop_lets_in_flight_jobs_finish(jobs: Harness) -> None:
    job_id = await jobs.enqueue(HELD_JOB)
    stop = asyncio.Event()
    run = asyncio.create_task(jobs.worker().run(stop))
    await jobs.held.started.wait()

    stop.set()
    finished, _ = await asyncio.wait({run}, timeout=0.2)
    assert not finished, "run returned while a job was still in flight"
    jobs.held.release.set()
    await run

    assert (await jobs.job(job_id)).state == "done"
    assert await jobs.effects() == [(job_id, 1)]


class ListeningHub(MemoryPubSub):
    """Tells the test when the worker subscribes, so a wake-up cannot race the subscription."""

    def __init__(self) -> None:
        super().__init__()
        self.listening = asyncio.Event()

    def subscribe(self, *channels: str) -> Any:
        subscription = super().subscribe(*channels)
        if WAKEUP_CHANNEL in channels:
            self.listening.set()  # entering it attaches without yielding to this test
        return subscription


async def test_commit_wakes_an_idle_worker(jobs: Harness) -> None:
    hub = ListeningHub()
    done = asyncio.Event()
    stop = asyncio.Event()
    worker = jobs.worker(poll_seconds=3600, wakeups=hub, on_finished=lambda *_: done.set())
    run = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(hub.listening.wait(), timeout=10)
        job_id = await jobs.enqueue(wakeups=hub)
        await asyncio.wait_for(done.wait(), timeout=10)  # far sooner than the hour-long poll
    finally:
        stop.set()
        await run
    assert (await jobs.job(job_id)).state == "done"


async def test_queue_stats(jobs: Harness) -> None:
    assert await jobs.stats() == QueueStats(depth=0, running=0, failed=0, oldest_due_lag_seconds=0)
    await jobs.enqueue(FAILING_JOB, max_attempts=1)
    worker = jobs.worker()
    assert await worker.run_once()  # fails for good: one failed job
    await jobs.enqueue(HELD_JOB)
    held = asyncio.create_task(worker.run_once())
    await jobs.held.started.wait()  # one running job
    jobs.clock.advance(1)
    await jobs.enqueue()
    await jobs.enqueue()
    await jobs.enqueue(delay_seconds=600)  # not due: not in the depth
    jobs.clock.advance(9)

    assert await jobs.stats() == QueueStats(depth=2, running=1, failed=1, oldest_due_lag_seconds=9)
    jobs.held.release.set()
    assert await held
    assert await jobs.stats() == QueueStats(depth=2, running=0, failed=1, oldest_due_lag_seconds=9)


def test_a_kind_has_one_handler() -> None:
    registry = JobRegistry()
    registry.job(EFFECT_JOB)(_effect)
    with pytest.raises(ValueError, match="already registered"):
        registry.job(EFFECT_JOB)(_effect_then_fail)


async def _eventually(what: str, check: Callable[[], Awaitable[bool]], *, timeout: float) -> float:
    """Poll another process's progress through the database; seconds it took."""
    started = time.monotonic()
    while not await check():
        elapsed = time.monotonic() - started
        assert elapsed < timeout, f"still not {what} after {elapsed:.1f}s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.services
async def test_job_survives_kill_9_of_its_worker(postgres_url: str, tmp_path: Path) -> None:
    """SIGKILL mid-job: the open transaction dies with the process, the lease expires, and a
    new worker process runs the job to exactly one effect."""
    database = await _database(Settings(database_url=postgres_url))
    children: list[subprocess.Popen[bytes]] = []

    def start_worker() -> subprocess.Popen[bytes]:
        with (tmp_path / f"worker-{len(children) + 1}.log").open("wb") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "tests.platform.job_worker_script", postgres_url],
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        children.append(child)
        return child

    async def job_is(job_id: uuid.UUID, state: str, attempts: int) -> bool:
        async with database.sessions() as session:
            job = await session.get(Job, job_id)
        assert job is not None
        return (job.state, job.attempts) == (state, attempts)

    async def effect_written_not_committed() -> bool:
        """The held attempt's INSERT ran and its transaction is still open."""
        async with database.sessions() as session:
            open_inserts = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'idle in transaction'"
                    " AND query LIKE 'INSERT INTO jobs_test_effects%'"
                )
            )
        return open_inserts == 1

    try:
        async with database.sessions() as session, session.begin():
            job_id = await enqueue(session, SystemClock(), HELD_EFFECT_JOB, {})
        assert job_id is not None
        first = start_worker()
        claimed_after = await _eventually(
            "claimed", lambda: job_is(job_id, "running", 1), timeout=20
        )
        await _eventually("holding its effect", effect_written_not_committed, timeout=20)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        second = start_worker()
        done_after = await _eventually("done", lambda: job_is(job_id, "done", 2), timeout=20)
        second.terminate()
        second.wait(timeout=10)

        async with database.sessions() as session:
            recorded = await effects(session)
        print(
            f"\nclaimed after {claimed_after:.2f}s, killed (exit {first.returncode}), "
            f"done by the second worker after {done_after:.2f}s; effects {recorded}"
        )
        assert first.returncode == -signal.SIGKILL
        assert second.returncode == 0
        assert recorded == [(job_id, 2)]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        await database.engine.dispose()
