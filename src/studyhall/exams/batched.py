"""Starts and submits of exam sessions, group-committed (``platform/batching.py``).

A burst of students starting an exam shares one transaction and the exam's reads
(definition, question list, versions, file links); a burst of submits shares the read
of the sessions, the closing UPDATE, the read of their answers and the INSERT of their
results. The plain cases are :func:`service.start_many` and :func:`service.submit_many`;
anything else runs on its own through :func:`service.start_session` and
:func:`service.submit`, as it did before batching.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.exams import service
from studyhall.exams.answers import idempotency_key
from studyhall.exams.schemas import SessionOut, SubmitOut
from studyhall.platform.auth import Actor
from studyhall.platform.batching import BatchedService
from studyhall.platform.errors import ServiceUnavailable
from studyhall.platform.runtime import Platform

MAX_BATCH = 256


@dataclass(frozen=True, slots=True)
class SessionRequest:
    actor: Actor
    target: uuid.UUID
    """The exam to start, or the session to submit."""


Started = tuple[SessionOut, bool]


async def _start_many(
    db: AsyncSession, platform: Platform, requests: list[SessionRequest]
) -> list[Started | Exception | None]:
    by_exam: dict[uuid.UUID, list[int]] = {}
    for index, request in enumerate(requests):
        by_exam.setdefault(request.target, []).append(index)
    outcomes: list[Started | Exception | None] = [None] * len(requests)
    for exam_id, indices in by_exam.items():
        actors = [requests[index].actor for index in indices]
        for index, outcome in zip(
            indices, await service.start_many(db, platform, exam_id, actors), strict=True
        ):
            outcomes[index] = (outcome, True) if isinstance(outcome, SessionOut) else outcome
    return outcomes


async def _start_alone(db: AsyncSession, platform: Platform, request: SessionRequest) -> Started:
    return await service.start_session(db, platform, request.actor, request.target)


async def _submit_many(
    db: AsyncSession, platform: Platform, requests: list[SessionRequest]
) -> Sequence[SubmitOut | Exception | None]:
    return await service.submit_many(db, platform, [(r.actor, r.target) for r in requests])


async def _submit_alone(db: AsyncSession, platform: Platform, request: SessionRequest) -> SubmitOut:
    return await service.submit(db, platform, request.actor, request.target)


class ExamSessions:
    """One per process: the batched start and submit of exam sessions."""

    def __init__(self, platform: Platform) -> None:
        self._starts: BatchedService[SessionRequest, Started] = BatchedService(
            platform,
            name="exam-starts",
            many=_start_many,
            alone=_start_alone,
            max_batch=MAX_BATCH,
            failure=lambda: ServiceUnavailable("The exam could not be started; retry"),
        )
        self._submits: BatchedService[SessionRequest, SubmitOut] = BatchedService(
            platform,
            name="exam-submits",
            many=_submit_many,
            alone=_submit_alone,
            max_batch=MAX_BATCH,
            failure=lambda: ServiceUnavailable("The exam could not be submitted; retry"),
        )

    async def start(self, actor: Actor, exam_id: uuid.UUID) -> Started:
        """A new session (True), or the one already running (False)."""
        return await self._starts.run(SessionRequest(actor, exam_id))

    async def submit(
        self, actor: Actor, session_id: uuid.UUID, idempotency_key_header: str | None
    ) -> SubmitOut:
        """Every submit of a session, whatever its key, answers with its one result."""
        idempotency_key(idempotency_key_header)
        return await self._submits.run(SessionRequest(actor, session_id))

    async def close(self) -> None:
        await self._starts.close()
        await self._submits.close()
