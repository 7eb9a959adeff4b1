"""Exam API: definitions (teachers) and sessions (students), as the public contract gives them."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from studyhall.exams import service
from studyhall.exams.answers import AnswerJournal, SaveRequest, save_answer
from studyhall.exams.batched import ExamSessions
from studyhall.exams.grading_routes import GradingController
from studyhall.exams.integrity_routes import IntegrityController
from studyhall.exams.save_lane import SAVE_HANDLER
from studyhall.exams.schemas import (
    AnswerIn,
    AttemptsOut,
    ExamIn,
    ExamOut,
    OverrideIn,
    OverrideOut,
    ResultOut,
    SavedOut,
    SessionOut,
    SubmitOut,
)
from studyhall.identity import service as identity_service
from studyhall.identity.dependencies import bearer_token, provide_actor, provide_optional_actor
from studyhall.platform.auth import Actor
from studyhall.platform.http import CurrentActor, DbSession, Runtime, client_ip
from studyhall.platform.logging import bind_user

ANSWER_MAX_BYTES = 256 * 1024


async def provide_actor_briefly(request: Request[Any, Any, Any], platform: Runtime) -> Actor:
    """The caller, from the hot store when it has them, else looked up in a database
    session closed before the handler runs: a save or a batched start or submit waits
    for a group commit, and must not hold a pooled connection while it does."""
    token = bearer_token(request)
    if token is not None:
        cached = await identity_service.cached_bearer_actor(platform, token)
        if cached is not None:
            bind_user(cached.user_id)
            return cached
    async with platform.sessions() as db:
        actor = await provide_optional_actor(request, db, platform)
    return await provide_actor(actor)


class ExamsController(Controller):
    path = "/api/v1/exams"
    tags = ["exams"]

    @post("/", status_code=HTTP_201_CREATED)
    async def create(
        self, data: JSONBody[ExamIn], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> ExamOut:
        return await service.create_exam(db, platform, actor, data)

    @get("/")
    async def list_exams(self, db: DbSession, actor: CurrentActor) -> list[ExamOut]:
        """The exams you own (admins: every exam)."""
        return await service.list_exams(db, actor)

    @get("/available")
    async def available(
        self, db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> list[ExamOut]:
        """Exams open now or later that you may take."""
        return await service.available_exams(db, platform, actor)

    @get("/{exam_id:uuid}")
    async def detail(
        self, exam_id: FromPath[uuid.UUID], db: DbSession, actor: CurrentActor
    ) -> ExamOut:
        return await service.exam_detail(db, actor, exam_id)

    @get("/{exam_id:uuid}/attempts")
    async def attempts(
        self, exam_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> AttemptsOut:
        """Your attempts, the one still running, and what stops a new one."""
        return await service.my_attempts(db, platform, actor, exam_id)

    @get("/{exam_id:uuid}/overrides")
    async def overrides(
        self, exam_id: FromPath[uuid.UUID], db: DbSession, actor: CurrentActor
    ) -> list[OverrideOut]:
        """The exam's per-student accommodations (its teacher only)."""
        return await service.list_overrides(db, actor, exam_id)

    @put("/{exam_id:uuid}/overrides/{user_id:uuid}")
    async def override(
        self,
        exam_id: FromPath[uuid.UUID],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[OverrideIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> OverrideOut:
        """Extra time or a later close for one student (sessions started from now on)."""
        return await service.set_override(db, platform, actor, exam_id, user_id, data)

    @post(
        "/{exam_id:uuid}/sessions",
        status_code=HTTP_201_CREATED,
        responses={200: ResponseSpec(SessionOut, description="The attempt still running")},
        dependencies={"actor": Provide(provide_actor_briefly)},
    )
    async def start(
        self, exam_id: FromPath[uuid.UUID], request: Request[Any, Any, Any], actor: CurrentActor
    ) -> Response[SessionOut]:
        """Start an attempt (201), or get back the one still running (200)."""
        sessions: ExamSessions = request.app.state.exam_sessions
        started, created = await sessions.start(actor, exam_id)
        return Response(started, status_code=HTTP_201_CREATED if created else HTTP_200_OK)


class SessionsController(Controller):
    path = "/api/v1/sessions"
    tags = ["exams"]

    @get("/{session_id:uuid}")
    async def detail(
        self, session_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> SessionOut:
        """Answers so far, status and the seconds left by the server's clock."""
        return await service.session_view(db, platform, actor, session_id)

    @put(
        "/{session_id:uuid}/answers",
        request_max_body_size=ANSWER_MAX_BYTES,
        dependencies={"actor": Provide(provide_actor_briefly)},
        name=SAVE_HANDLER,
    )
    async def save(
        self,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[AnswerIn],
        request: Request[Any, Any, Any],
        platform: Runtime,
        actor: CurrentActor,
    ) -> SavedOut:
        """Needs an ``Idempotency-Key``. 200 means the answer is stored durably.

        Most bearer saves are served by ``save_lane`` before they reach this handler."""
        # The journal comes from the app state, not as a dependency: two dependencies
        # resolved side by side cost a task group on every save.
        journal: AnswerJournal = request.app.state.answer_journal
        await save_answer(
            platform,
            journal,
            actor,
            SaveRequest(
                session_id=session_id,
                idempotency_key=request.headers.get("idempotency-key"),
                answer=data,
                body=await request.body(),
                client_ip=client_ip(
                    request, trust_proxy_headers=platform.settings.trust_proxy_headers
                ),
                user_agent=request.headers.get("user-agent"),
            ),
        )
        return SavedOut(saved=True)

    @post("/{session_id:uuid}/pause", status_code=HTTP_200_OK)
    async def pause(
        self, session_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> SessionOut:
        return await service.pause(db, platform, actor, session_id)

    @post("/{session_id:uuid}/resume", status_code=HTTP_200_OK)
    async def resume(
        self, session_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> SessionOut:
        return await service.resume(db, platform, actor, session_id)

    @post(
        "/{session_id:uuid}/submit",
        status_code=HTTP_200_OK,
        responses={202: ResponseSpec(SubmitOut, description="Scoring: answers wait for grading")},
        dependencies={"actor": Provide(provide_actor_briefly)},
    )
    async def submit(
        self, session_id: FromPath[uuid.UUID], request: Request[Any, Any, Any], actor: CurrentActor
    ) -> Response[SubmitOut]:
        """Needs an ``Idempotency-Key``. 200 with the score, or 202 while essays wait."""
        sessions: ExamSessions = request.app.state.exam_sessions
        submitted = await sessions.submit(actor, session_id, request.headers.get("idempotency-key"))
        status = HTTP_202_ACCEPTED if submitted.status == "SCORING" else HTTP_200_OK
        return Response(submitted, status_code=status)

    @get("/{session_id:uuid}/result")
    async def result(
        self, session_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> ResultOut:
        return await service.result(db, platform, actor, session_id)


ROUTES = [ExamsController, SessionsController, IntegrityController, GradingController]
