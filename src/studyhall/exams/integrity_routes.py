"""Integrity API: signals from the exam page (students), suspicion reports (exam owners)."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED

from studyhall.exams import integrity_service
from studyhall.exams.integrity import SignalBuffer, record_signal
from studyhall.exams.schemas import (
    ExamIntegrityOut,
    SessionIntegrityDetailOut,
    SignalAcceptedOut,
    SignalIn,
)
from studyhall.platform.http import CurrentActor, DbSession, Runtime

SIGNAL_MAX_BYTES = 4096
Signals = NamedDependency[SignalBuffer]


def provide_signal_buffer(state: State) -> SignalBuffer:
    buffer: SignalBuffer = state.signal_buffer
    return buffer


class IntegrityController(Controller):
    path = "/api/v1"
    tags = ["exams"]

    @post(
        "/sessions/{session_id:uuid}/signals",
        status_code=HTTP_202_ACCEPTED,
        request_max_body_size=SIGNAL_MAX_BYTES,
        dependencies={"signal_buffer": Provide(provide_signal_buffer, sync_to_thread=False)},
    )
    async def signal(
        self,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[SignalIn],
        platform: Runtime,
        actor: CurrentActor,
        signal_buffer: Signals,
    ) -> SignalAcceptedOut:
        """A page-hidden, focus-lost, copy, paste, ... event; 202 once queued (not yet stored)."""
        await record_signal(platform, signal_buffer, actor, session_id, data)
        return SignalAcceptedOut(accepted=True)

    @get("/exams/{exam_id:uuid}/integrity")
    async def exam_report(
        self, exam_id: FromPath[uuid.UUID], db: DbSession, actor: CurrentActor
    ) -> ExamIntegrityOut:
        """Flagged sessions with their reasons (exam owner or admin)."""
        return await integrity_service.exam_report(db, actor, exam_id)

    @get("/sessions/{session_id:uuid}/integrity")
    async def session_report(
        self, session_id: FromPath[uuid.UUID], db: DbSession, actor: CurrentActor
    ) -> SessionIntegrityDetailOut:
        """One session's reasons and latest signals (exam owner or admin)."""
        return await integrity_service.session_report(db, actor, session_id)
