"""The durable job queue: the ``jobs`` table is the queue, on SQLite and on PostgreSQL alike.

Redis keeps nothing durable here, so work that must survive a crash lives in a row.

Enqueue (transactional outbox)
    :func:`enqueue` inserts the row through the caller's own session, so the job
    exists if and only if the caller's business write commits.

Claim (lease)
    A worker claims one due job in a short transaction of its own: one
    ``UPDATE .. WHERE id = (SELECT .. FOR UPDATE SKIP LOCKED) RETURNING`` that sets
    ``state='running'``, a fresh ``lease_token`` and ``lease_until``. SQLite ignores
    ``SKIP LOCKED`` and serialises writers instead. A ``running`` job whose lease
    expired (its worker died) is due again, which is how jobs survive a crash.

Exactly-once effect, at-least-once execution
    A handler may run more than once (a worker dies, or outlives its lease and
    another worker takes the job over). Its effects still land exactly once if
    they are database writes made through ``ctx.session``: the handler runs in a
    fresh transaction that also marks the job ``done`` only while the worker
    still holds the lease token, and rolls everything back when it does not.
    Effects outside the database (an email, a gateway call) must be idempotent,
    keyed by ``ctx.job_id``. A handler should finish within the lease: past it,
    another worker may run it again (and only one of the two will commit).

Failure
    A handler that raises has its transaction rolled back; the job goes back to
    ``queued`` after an exponential backoff (:func:`retry_delay`), or to ``failed``
    once it has used ``max_attempts``. A worker claims only the kinds it has handlers
    for, so during a rolling deploy an old worker leaves a new kind to a new worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from sqlalchemy import CursorResult, and_, delete, event, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from studyhall.platform.clock import Clock
from studyhall.platform.ids import new_id
from studyhall.platform.logging import ThrottledWarning
from studyhall.platform.models import Job

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from studyhall.platform.pubsub import PubSub

logger = logging.getLogger("studyhall.jobs")

WAKEUP_CHANNEL = "jobs"
DEFAULT_MAX_ATTEMPTS = 10
MAX_RETRY_DELAY_SECONDS = 300.0
_ERROR_CHARS = 2000
_WAKEUP_ARMED = "studyhall.jobs.wakeup_armed"

Outcome = Literal["done", "retry", "failed", "lost"]
"""How one attempt ended; ``lost``: another worker had taken the job over, nothing committed."""


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler gets besides its payload; ``session`` is the job's own transaction."""

    session: AsyncSession
    clock: Clock
    job_id: uuid.UUID
    attempt: int


JobHandler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]
_Handler = TypeVar("_Handler", bound=JobHandler)


class JobRegistry:
    """Job kind -> handler; the app builds one from every domain's ``tasks.py``."""

    def __init__(self) -> None:
        self._handlers: dict[str, JobHandler] = {}

    def job(self, kind: str) -> Callable[[_Handler], _Handler]:
        """Decorator registering a handler for ``kind``; a kind has exactly one handler."""

        def register(handler: _Handler) -> _Handler:
            if kind in self._handlers:
                raise ValueError(f"job kind {kind!r} is already registered")
            self._handlers[kind] = handler
            return handler

        return register

    def handler_for(self, kind: str) -> JobHandler:
        return self._handlers[kind]

    def kinds(self) -> list[str]:
        return sorted(self._handlers)


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Queue health for ``/metrics``: waiting work, work in hand, give-ups and lag."""

    depth: int
    running: int
    failed: int
    oldest_due_lag_seconds: float


def retry_delay(attempt: int) -> float:
    """Seconds before retrying after failed attempt ``attempt``: 2, 4, 8, ... capped at 5 min."""
    return min(2.0**attempt, MAX_RETRY_DELAY_SECONDS)


@dataclass(frozen=True, slots=True)
class NewJob:
    payload: dict[str, Any]
    dedupe_key: str | None = None
    delay_seconds: float = 0


async def _insert_jobs(
    session: AsyncSession, clock: Clock, kind: str, jobs: Sequence[NewJob], max_attempts: int | None
) -> list[uuid.UUID]:
    """Insert ``jobs`` with one cached statement (SQLAlchemy batches the rows); a job whose
    ``dedupe_key`` is taken (by a job in any state) is skipped. The ids inserted."""
    attempts_allowed = DEFAULT_MAX_ATTEMPTS if max_attempts is None else max_attempts
    if attempts_allowed < 1:
        raise ValueError("max_attempts must be at least 1")
    now = clock.now()
    insert: Callable[[type[Job]], postgresql.Insert | sqlite.Insert] = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    rows = [
        {
            "id": new_id(),
            "kind": kind,
            "payload": job.payload,
            "dedupe_key": job.dedupe_key,
            "state": "queued",
            "attempts": 0,
            "max_attempts": attempts_allowed,
            "run_at": now + timedelta(seconds=job.delay_seconds),
            "created_at": now,
        }
        for job in jobs
    ]
    statement = (
        insert(Job).on_conflict_do_nothing(index_elements=[Job.dedupe_key]).returning(Job.id)
    )
    return list((await session.execute(statement, rows)).scalars())


PRUNE_BATCH = 5000


async def prune_done(
    session: AsyncSession, finished_before: datetime, *, limit: int = PRUNE_BATCH
) -> int:
    """Delete up to ``limit`` jobs done before ``finished_before``; how many. Their dedupe
    keys are free again, which only matters for keys a caller could still reuse: none
    that outlive a week (expiry, webhook and hourly jobs key on ids and times)."""
    old = and_(Job.state == "done", Job.run_at < finished_before, Job.finished_at < finished_before)
    batch = select(Job.id).where(old).limit(limit)
    result = cast(CursorResult[Any], await session.execute(delete(Job).where(Job.id.in_(batch))))
    return result.rowcount


async def enqueue_many(
    session: AsyncSession,
    clock: Clock,
    kind: str,
    jobs: Sequence[NewJob],
    *,
    max_attempts: int | None = None,
    wakeups: PubSub | None = None,
) -> int:
    """:func:`enqueue` for many jobs of one kind; how many were new."""
    if not jobs:
        return 0
    inserted = len(await _insert_jobs(session, clock, kind, jobs, max_attempts))
    if inserted and wakeups is not None and any(job.delay_seconds <= 0 for job in jobs):
        _wake_after_commit(session, wakeups)
    return inserted


async def enqueue(
    session: AsyncSession,
    clock: Clock,
    kind: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    delay_seconds: float = 0,
    max_attempts: int | None = None,
    wakeups: PubSub | None = None,
) -> uuid.UUID | None:
    """Queue a job in the caller's transaction; it exists only if that transaction commits.

    With ``dedupe_key``, a key already taken (by a job in any state) makes this a
    no-op returning None. With ``wakeups``, idle workers hear about the job on
    commit instead of at their next poll.
    """
    inserted = await _insert_jobs(
        session, clock, kind, [NewJob(payload, dedupe_key, delay_seconds)], max_attempts
    )
    job_id = inserted[0] if inserted else None
    if job_id is not None and wakeups is not None and delay_seconds <= 0:
        _wake_after_commit(session, wakeups)
    return job_id


def _wake_after_commit(session: AsyncSession, wakeups: PubSub) -> None:
    """Publish once on ``jobs`` when this transaction commits (a rollback may wake for nothing)."""
    if session.info.get(_WAKEUP_ARMED):
        return
    session.info[_WAKEUP_ARMED] = True
    loop = asyncio.get_running_loop()

    def publish(_session: Session) -> None:
        session.info.pop(_WAKEUP_ARMED, None)
        task = loop.create_task(_publish_wakeup(wakeups))
        _wakeup_tasks.add(task)
        task.add_done_callback(_wakeup_tasks.discard)

    event.listen(session.sync_session, "after_commit", publish, once=True)


_wakeup_lost = ThrottledWarning(logger, "could not publish a job wake-up")
_wakeup_tasks: set[asyncio.Task[None]] = set()
"""Strong references, so a pending wake-up is not garbage-collected before it runs."""


async def _publish_wakeup(wakeups: PubSub) -> None:
    try:
        await wakeups.publish(WAKEUP_CHANNEL, b"")
    except Exception as exc:  # a lost wake-up only costs one poll interval
        _wakeup_lost(exc)


def _due(now: datetime) -> ColumnElement[bool]:
    """Queued and due, or running on a lease that expired (its worker is presumed dead)."""
    return or_(
        and_(Job.state == "queued", Job.run_at <= now),
        and_(Job.state == "running", Job.lease_until < now),
    )


async def queue_stats(session: AsyncSession, now: datetime) -> QueueStats:
    """One aggregate query over the ``(state, run_at)`` index."""
    due = and_(Job.state == "queued", Job.run_at <= now)
    row = (
        await session.execute(
            select(
                func.count().filter(due),
                func.count().filter(Job.state == "running"),
                func.count().filter(Job.state == "failed"),
                func.min(Job.run_at).filter(due),
            )
        )
    ).one()
    depth, running, failed, oldest_due = row
    lag = (now - oldest_due).total_seconds() if oldest_due is not None else 0.0
    return QueueStats(depth=depth, running=running, failed=failed, oldest_due_lag_seconds=lag)


@dataclass(frozen=True, slots=True)
class _Claim:
    """A job this worker holds while ``token`` is still the row's lease token."""

    id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    token: str

    @property
    def log_fields(self) -> dict[str, Any]:
        return {"job_id": str(self.id), "kind": self.kind, "attempt": self.attempt}


class _LeaseLost(Exception):
    """Raised inside the job's transaction to roll back the effects of a taken-over job."""


class Worker:
    """Claims due jobs and runs their handlers; any number of workers may share one database."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        registry: JobRegistry,
        *,
        owner: str,
        lease_seconds: float,
        poll_seconds: float,
        concurrency: int,
        wakeups: PubSub | None = None,
        on_finished: Callable[[str, Outcome], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._sessions = session_factory
        self._clock = clock
        self._registry = registry
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)
        self._poll_seconds = poll_seconds
        self._concurrency = concurrency
        self._wakeups = wakeups
        self._on_finished = on_finished

    async def run_once(self) -> bool:
        """Claim and process at most one due job; True if there was one."""
        claim = await self._claim()
        if claim is None:
            return False
        await self._process(claim)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Keep up to ``concurrency`` jobs in flight until ``stop``; then finish them and return.

        Idle, it polls every ``poll_seconds``, sooner when a wake-up arrives.
        """
        nudge = asyncio.Event()
        in_flight: set[asyncio.Task[None]] = set()

        def settled(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            nudge.set()

        helpers = [asyncio.create_task(_relay(stop, nudge))]
        if self._wakeups is not None:
            helpers.append(asyncio.create_task(self._listen(self._wakeups, nudge)))
        try:
            while not stop.is_set():
                nudge.clear()
                ran_dry = False
                while len(in_flight) < self._concurrency and not stop.is_set():
                    claim = await self._claim_or_log()
                    if claim is None:
                        ran_dry = True
                        break
                    task = asyncio.create_task(self._process(claim))
                    in_flight.add(task)
                    task.add_done_callback(settled)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(nudge.wait(), self._poll_seconds if ran_dry else None)
        except asyncio.CancelledError:
            for task in in_flight:
                task.cancel()
            raise
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, *in_flight, return_exceptions=True)

    async def _claim(self) -> _Claim | None:
        """Take the oldest due job of a kind we handle under a fresh lease, committed before
        the handler starts."""
        now = self._clock.now()
        token = secrets.token_hex(16)
        next_due = (
            select(Job.id)
            .where(_due(now), Job.kind.in_(self._registry.kinds()))
            .order_by(Job.run_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            update(Job)
            .where(Job.id == next_due)
            .values(
                state="running",
                attempts=Job.attempts + 1,
                lease_token=token,
                lease_owner=self._owner,
                lease_until=now + self._lease,
            )
            .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions() as session, session.begin():
            row = (await session.execute(statement)).one_or_none()
        if row is None:
            return None
        return _Claim(row.id, row.kind, row.payload, row.attempts, row.max_attempts, token)

    async def _claim_or_log(self) -> _Claim | None:
        """A claim that cannot reach the database counts as an empty queue, so ``run`` lives on."""
        try:
            return await self._claim()
        except Exception:
            logger.exception("could not claim a job; retrying after the poll interval")
            return None

    async def _process(self, claim: _Claim) -> None:
        """Run one claimed job and settle its row; never raises (an unsettled job is re-run)."""
        try:
            if claim.attempt > claim.max_attempts:
                # Its worker died holding it on the last attempt: likely the job kills workers.
                outcome = await self._settle_failure(
                    claim, "lease expired on the last attempt (worker lost)", final=True
                )
            else:
                outcome = await self._run_handler(self._registry.handler_for(claim.kind), claim)
        except Exception:
            logger.exception(
                "job could not be settled; it runs again once its lease expires",
                extra=claim.log_fields,
            )
            return
        if outcome == "done":
            logger.debug("job done", extra=claim.log_fields)
        elif outcome == "lost":
            logger.warning(
                "job was taken over by another worker; rolled back", extra=claim.log_fields
            )
        if self._on_finished is not None:
            self._on_finished(claim.kind, outcome)

    async def _run_handler(self, handler: JobHandler, claim: _Claim) -> Outcome:
        try:
            async with self._sessions() as session, session.begin():
                context = JobContext(session, self._clock, claim.id, claim.attempt)
                await handler(context, claim.payload)
                await session.flush()
                done = {"state": "done", "finished_at": self._clock.now()}
                if not await self._release(session, claim, done):
                    raise _LeaseLost
        except _LeaseLost:
            return "lost"
        except Exception as exc:
            logger.warning("job handler failed", exc_info=True, extra=claim.log_fields)
            return await self._settle_failure(claim, f"{type(exc).__name__}: {exc}", final=False)
        return "done"

    async def _settle_failure(self, claim: _Claim, error: str, *, final: bool) -> Outcome:
        """Requeue with backoff, or fail for good when out of attempts (or ``final``)."""
        give_up = final or claim.attempt >= claim.max_attempts
        values: dict[str, Any] = {"last_error": error[:_ERROR_CHARS]}
        if give_up:
            values.update(state="failed", finished_at=self._clock.now())
        else:
            retry_at = self._clock.now() + timedelta(seconds=retry_delay(claim.attempt))
            values.update(state="queued", run_at=retry_at)
        async with self._sessions() as session, session.begin():
            if not await self._release(session, claim, values):
                return "lost"
        if give_up:
            logger.error("job failed for good: %s", error, extra=claim.log_fields)
            return "failed"
        return "retry"

    @staticmethod
    async def _release(session: AsyncSession, claim: _Claim, values: dict[str, Any]) -> bool:
        """Give up the lease with ``values`` set; False when the lease is no longer ours."""
        statement = (
            update(Job)
            .where(Job.id == claim.id, Job.lease_token == claim.token)
            .values(lease_token=None, lease_until=None, **values)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
        return (await session.execute(statement)).scalar_one_or_none() is not None

    async def _listen(self, wakeups: PubSub, nudge: asyncio.Event) -> None:
        """Turn messages on ``jobs`` into nudges; polling covers any that are lost."""
        while True:
            try:
                async with wakeups.subscribe(WAKEUP_CHANNEL) as messages:
                    async for _message in messages:
                        nudge.set()
            except Exception:
                logger.warning("job wake-up subscription failed; polling only", exc_info=True)
            await asyncio.sleep(self._poll_seconds)


async def _relay(stop: asyncio.Event, nudge: asyncio.Event) -> None:
    """Wake the run loop when asked to stop, so it never sleeps through a shutdown."""
    await stop.wait()
    nudge.set()
