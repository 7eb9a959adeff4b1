"""Group commit: requests that arrive together are handled by one task in one transaction.

A hot write path (answer saves, exam starts, submits) pays a commit, a connection
checkout and per-statement overhead on every request when each handler writes alone.
Here each handler queues its item and waits; one task per process takes everything that
queued while its previous batch ran and hands it to ``process`` at once. An idle server
handles a lone item at once; a busy one handles hundreds per commit, so the cost per
item falls as the load rises.

``process`` answers one outcome per item, in order: a value, or an exception for that
item alone. If ``process`` itself raises, every item of the batch gets ``failure()``
(a clear 503 for the client to retry), and the next batch goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from studyhall.platform.runtime import Platform

logger = logging.getLogger("studyhall.platform.batching")

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(slots=True)
class _Pending(Generic[In, Out]):
    item: In
    done: asyncio.Future[Out] = field(init=False)


class GroupCommit(Generic[In, Out]):
    """One queue and one committing task per process (created on first use)."""

    def __init__(
        self,
        process: Callable[[list[In]], Awaitable[list[Out | BaseException]]],
        *,
        name: str,
        max_batch: int,
        failure: Callable[[], Exception],
    ) -> None:
        self._process = process
        self._name = name
        self._max_batch = max_batch
        self._failure = failure
        self._queue: list[_Pending[In, Out]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def closing(self) -> bool:
        return self._closing

    async def submit(self, item: In) -> Out:
        """Queue ``item`` and wait for its outcome (raised if it is an exception)."""
        if self._closing:
            raise self._failure()
        pending: _Pending[In, Out] = _Pending(item)
        pending.done = asyncio.get_running_loop().create_future()
        self._queue.append(pending)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)
        self._wake.set()
        # Shielded: a client that goes away must not cancel a batch others share.
        return await asyncio.shield(pending.done)

    async def close(self) -> None:
        """Handle what is queued, then stop."""
        self._closing = True
        if self._task is not None:
            self._wake.set()
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self._max_batch]
                self._queue = self._queue[self._max_batch :]
                await self._handle(batch)
            if self._closing:
                return

    async def _handle(self, batch: list[_Pending[In, Out]]) -> None:
        try:
            outcomes = await self._process([pending.item for pending in batch])
        except Exception:
            logger.exception("%s: batch of %d failed", self._name, len(batch))
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(self._failure())
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.done.done():
                continue
            if isinstance(outcome, BaseException):
                pending.done.set_exception(outcome)
            else:
                pending.done.set_result(outcome)


class BatchedService(Generic[In, Out]):
    """A service call that runs in batches, one transaction each: ``many`` settles what it
    can of a batch and answers None for a request it leaves to ``alone``, which then runs
    in a transaction of its own. So the common case shares reads and a commit, and the
    rare one keeps the plain one-at-a-time code."""

    def __init__(
        self,
        platform: Platform,
        *,
        name: str,
        many: Callable[
            [AsyncSession, Platform, list[In]], Awaitable[Sequence[Out | Exception | None]]
        ],
        alone: Callable[[AsyncSession, Platform, In], Awaitable[Out]],
        max_batch: int,
        failure: Callable[[], Exception],
    ) -> None:
        self._platform = platform
        self._many = many
        self._alone = alone
        self._commits: GroupCommit[In, Out | None] = GroupCommit(
            self._batch, name=name, max_batch=max_batch, failure=failure
        )

    async def run(self, request: In) -> Out:
        settled = await self._commits.submit(request)
        if settled is not None:
            return settled
        async with self._platform.sessions.begin() as db:
            return await self._alone(db, self._platform, request)

    async def close(self) -> None:
        await self._commits.close()

    async def _batch(self, requests: list[In]) -> list[Out | BaseException | None]:
        async with self._platform.sessions.begin() as db:
            return list(await self._many(db, self._platform, requests))
