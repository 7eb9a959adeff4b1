"""Essay grading API, for the exam's owner (or an admin); anyone else gets 404.

- ``GET    /api/v1/exams/{examId}/grading?show=pending|all&limit=N`` the queue, oldest first
- ``GET    /api/v1/exams/{examId}/grading/{sessionId}/{questionId}`` one essay to grade
- ``PUT    /api/v1/exams/{examId}/grading/{sessionId}/{questionId}`` grade or regrade it
- ``GET    /api/v1/exams/{examId}/grading/{sessionId}/{questionId}/history`` its audit trail
- ``GET|PUT|DELETE /api/v1/exams/{examId}/questions/{questionId}/rubric``
"""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from studyhall.exams import grading
from studyhall.exams.schemas import (
    EssayOut,
    GradeAuditOut,
    GradedOut,
    GradeIn,
    GradingFilter,
    GradingQueueOut,
    RubricIn,
    RubricOut,
)
from studyhall.platform.http import CurrentActor, DbSession, Runtime


class GradingController(Controller):
    path = "/api/v1/exams/{exam_id:uuid}"
    tags = ["grading"]

    @get("/grading")
    async def queue(
        self,
        exam_id: FromPath[uuid.UUID],
        db: DbSession,
        actor: CurrentActor,
        show: FromQuery[GradingFilter] = "pending",
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
    ) -> GradingQueueOut:
        """Essays waiting for a grade (``show=all``: graded ones too), oldest submit first."""
        return await grading.grading_queue(db, actor, exam_id, show=show, limit=limit)

    @get("/grading/{session_id:uuid}/{question_id:uuid}")
    async def essay(
        self,
        exam_id: FromPath[uuid.UUID],
        session_id: FromPath[uuid.UUID],
        question_id: FromPath[uuid.UUID],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> EssayOut:
        return await grading.essay_for_grading(
            db, platform, actor, exam_id, session_id, question_id
        )

    @put("/grading/{session_id:uuid}/{question_id:uuid}")
    async def grade(
        self,
        exam_id: FromPath[uuid.UUID],
        session_id: FromPath[uuid.UUID],
        question_id: FromPath[uuid.UUID],
        data: JSONBody[GradeIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> GradedOut:
        """``{score}`` or ``{rubricLevels}``, with ``feedback``; regrading is allowed."""
        return await grading.grade_essay(
            db, platform, actor, exam_id, session_id, question_id, data
        )

    @get("/grading/{session_id:uuid}/{question_id:uuid}/history")
    async def history(
        self,
        exam_id: FromPath[uuid.UUID],
        session_id: FromPath[uuid.UUID],
        question_id: FromPath[uuid.UUID],
        db: DbSession,
        actor: CurrentActor,
    ) -> list[GradeAuditOut]:
        """Every grade given to the essay, oldest first, with the value it replaced."""
        return await grading.grade_history(db, actor, exam_id, session_id, question_id)

    @get("/questions/{question_id:uuid}/rubric")
    async def rubric(
        self,
        exam_id: FromPath[uuid.UUID],
        question_id: FromPath[uuid.UUID],
        db: DbSession,
        actor: CurrentActor,
    ) -> RubricOut:
        return await grading.get_rubric(db, actor, exam_id, question_id)

    @put("/questions/{question_id:uuid}/rubric")
    async def set_rubric(
        self,
        exam_id: FromPath[uuid.UUID],
        question_id: FromPath[uuid.UUID],
        data: JSONBody[RubricIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> RubricOut:
        """Attach or replace the essay's rubric in this exam."""
        return await grading.set_rubric(db, platform, actor, exam_id, question_id, data)

    @delete("/questions/{question_id:uuid}/rubric", status_code=HTTP_204_NO_CONTENT)
    async def delete_rubric(
        self,
        exam_id: FromPath[uuid.UUID],
        question_id: FromPath[uuid.UUID],
        db: DbSession,
        actor: CurrentActor,
    ) -> None:
        await grading.delete_rubric(db, actor, exam_id, question_id)


ROUTES = [GradingController]
