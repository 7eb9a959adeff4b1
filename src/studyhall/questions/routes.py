"""Question-bank API: banks, sharing, import/export, questions and the student preview,
and the media endpoint that serves questions' images to whoever holds a signed link."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from studyhall.platform.errors import MalformedBody
from studyhall.platform.http import CurrentActor, DbSession, Offset, Runtime
from studyhall.questions import files, service
from studyhall.questions.render import StudentQuestion
from studyhall.questions.schemas import (
    BankDetailOut,
    BankIn,
    BankOut,
    ExportFormat,
    ImportFormat,
    ImportReportOut,
    QuestionIn,
    QuestionOut,
    ShareIn,
)

IMPORT_MAX_BYTES = 32 * 1024 * 1024
# Litestar adds the charset to text/* itself.
_EXPORT_MEDIA_TYPES = {"gift": "text/plain", "moodlexml": "application/xml"}


class BanksController(Controller):
    path = "/api/v1/banks"
    tags = ["questions"]

    @post("/", status_code=HTTP_201_CREATED)
    async def create(
        self, data: JSONBody[BankIn], db: DbSession, platform: Runtime, actor: CurrentActor
    ) -> BankOut:
        return await service.create_bank(db, platform, actor, name=data.name)

    @get("/")
    async def list_banks(self, db: DbSession, actor: CurrentActor) -> list[BankOut]:
        return await service.list_banks(db, actor)

    @get("/{bank_id:uuid}")
    async def detail(
        self, bank_id: FromPath[uuid.UUID], db: DbSession, actor: CurrentActor
    ) -> BankDetailOut:
        return await service.bank_detail(db, actor, bank_id)

    @post("/{bank_id:uuid}/shares", status_code=HTTP_204_NO_CONTENT)
    async def share(
        self,
        bank_id: FromPath[uuid.UUID],
        data: JSONBody[ShareIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> None:
        await service.share_bank(db, platform, actor, bank_id, data.user_id)

    @post("/{bank_id:uuid}/import", status_code=HTTP_200_OK, request_max_body_size=IMPORT_MAX_BYTES)
    async def import_file(
        self,
        bank_id: FromPath[uuid.UUID],
        request: Request[Any, Any, Any],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
        format: FromQuery[ImportFormat] = "gift",
    ) -> ImportReportOut:
        """The body is the file itself (UTF-8 text)."""
        try:
            text = (await request.body()).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedBody("The file is not UTF-8 text") from exc
        return await service.import_questions(db, platform, actor, bank_id, text, format)

    @get(
        "/{bank_id:uuid}/export",
        responses={200: ResponseSpec(None, description="GIFT text, or Moodle XML")},
    )
    async def export(
        self,
        bank_id: FromPath[uuid.UUID],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
        format: FromQuery[ExportFormat] = "gift",
    ) -> Response[str]:
        body = await service.export_bank(db, platform, actor, bank_id, format)
        extension = "gift.txt" if format == "gift" else "xml"
        return Response(
            body,
            media_type=_EXPORT_MEDIA_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="bank-{bank_id}.{extension}"'},
        )

    @get("/{bank_id:uuid}/questions")
    async def questions(
        self,
        bank_id: FromPath[uuid.UUID],
        db: DbSession,
        actor: CurrentActor,
        category: FromQuery[str | None] = None,
        tag: FromQuery[str | None] = None,
        kind: FromQuery[str | None] = None,
        difficulty: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Offset = 0,
    ) -> list[QuestionOut]:
        return await service.list_questions(
            db,
            actor,
            bank_id,
            category=category,
            tag=tag,
            kind=kind,
            difficulty=difficulty,
            limit=limit,
            offset=offset,
        )

    @post("/{bank_id:uuid}/questions", status_code=HTTP_201_CREATED)
    async def create_question(
        self,
        bank_id: FromPath[uuid.UUID],
        data: JSONBody[QuestionIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> QuestionOut:
        return await service.create_question(db, platform, actor, bank_id, data)


class QuestionsController(Controller):
    path = "/api/v1/questions"
    tags = ["questions"]

    @get("/{question_id:uuid}")
    async def detail(
        self, question_id: FromPath[uuid.UUID], db: DbSession, actor: CurrentActor
    ) -> QuestionOut:
        return await service.get_question(db, actor, question_id)

    @put("/{question_id:uuid}")
    async def edit(
        self,
        question_id: FromPath[uuid.UUID],
        data: JSONBody[QuestionIn],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> QuestionOut:
        return await service.update_question(db, platform, actor, question_id, data)

    @get("/{question_id:uuid}/preview")
    async def preview(
        self,
        question_id: FromPath[uuid.UUID],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> StudentQuestion:
        return await service.preview_question(db, platform, actor, question_id)


class QuestionFilesController(Controller):
    """The signature in the URL is the credential (no cookie, no token); a link repeats
    within its window, so the browser's cache (keyed by URL) serves an image once per
    window. No CSRF cookie is set on these responses."""

    path = files.MEDIA_PATH
    tags = ["questions"]
    opt = {"exclude_from_csrf": True}

    @get("/{file_id:uuid}", responses={200: ResponseSpec(None, description="The file")})
    async def file(
        self,
        file_id: FromPath[uuid.UUID],
        db: DbSession,
        platform: Runtime,
        expires: FromQuery[str | None] = None,
        sig: FromQuery[str | None] = None,
    ) -> Stream:
        plan = await files.download(db, platform, file_id, expires=expires, sig=sig)
        return files.stream_download(platform, plan)


ROUTES = [BanksController, QuestionsController, QuestionFilesController]
