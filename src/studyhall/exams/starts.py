"""Exam starts, group-committed: a burst of students starting an exam shares one
transaction and the exam's reads (definition, question list, versions, file links).

The plain case, a student's first attempt, is :func:`service.start_many`. Anything
else (an earlier or running session, a second click in the same batch, a concurrent
start on another node) goes through :func:`service.start_session` on its own, after
the batch, as it did before batching.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from studyhall.exams import service
from studyhall.exams.schemas import SessionOut
from studyhall.platform.auth import Actor
from studyhall.platform.batching import GroupCommit
from studyhall.platform.errors import ServiceUnavailable
from studyhall.platform.runtime import Platform

MAX_BATCH = 256


@dataclass(frozen=True, slots=True)
class StartRequest:
    actor: Actor
    exam_id: uuid.UUID


class ExamStarts:
    """One per process; ``start`` answers like :func:`service.start_session`."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._commits: GroupCommit[StartRequest, SessionOut | None] = GroupCommit(
            self._start_batch,
            name="exam-starts",
            max_batch=MAX_BATCH,
            failure=lambda: ServiceUnavailable("The exam could not be started; retry"),
        )

    async def start(self, actor: Actor, exam_id: uuid.UUID) -> tuple[SessionOut, bool]:
        """A new session (True), or the one already running (False)."""
        started = await self._commits.submit(StartRequest(actor, exam_id))
        if started is not None:
            return started, True
        async with self._platform.sessions.begin() as db:
            return await service.start_session(db, self._platform, actor, exam_id)

    async def close(self) -> None:
        await self._commits.close()

    async def _start_batch(
        self, requests: list[StartRequest]
    ) -> list[SessionOut | None | BaseException]:
        by_exam: dict[uuid.UUID, list[int]] = defaultdict(list)
        for index, request in enumerate(requests):
            by_exam[request.exam_id].append(index)
        outcomes: list[SessionOut | None | BaseException] = [None] * len(requests)
        async with self._platform.sessions.begin() as db:
            for exam_id, indices in by_exam.items():
                actors = [requests[index].actor for index in indices]
                started = await service.start_many(db, self._platform, exam_id, actors)
                for index, outcome in zip(indices, started, strict=True):
                    outcomes[index] = outcome
        return outcomes
