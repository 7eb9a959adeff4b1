"""Proctor pages: an exam's flagged sessions with their reasons, and one session's signals.

Thin handlers over ``exams.integrity_service``, which decides who may read a report
(the exam's owner or an admin); everyone else gets the 404 page, and a signed-out
visitor is sent to sign in first. The pages only report: nothing on them acts on a
session.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from studyhall.exams import integrity_service
from studyhall.platform.errors import NotFound
from studyhall.platform.http import DbSession, MaybeActor
from studyhall.web.pages import not_found, render, request_target, sign_in_first


@get("/exams/{exam_id:uuid}/integrity", name="exam_integrity")
async def exam_integrity_page(
    request: Request[Any, Any, Any],
    exam_id: FromPath[uuid.UUID],
    db: DbSession,
    optional_actor: MaybeActor,
) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first(request_target(request))
    try:
        report = await integrity_service.exam_report(db, optional_actor, exam_id)
    except NotFound as error:
        return not_found(optional_actor, error.detail)
    return render("integrity/exam.html", optional_actor, report=report)


@get("/sessions/{session_id:uuid}/integrity", name="session_integrity")
async def session_integrity_page(
    request: Request[Any, Any, Any],
    session_id: FromPath[uuid.UUID],
    db: DbSession,
    optional_actor: MaybeActor,
) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first(request_target(request))
    try:
        report = await integrity_service.session_report(db, optional_actor, session_id)
    except NotFound as error:
        return not_found(optional_actor, error.detail)
    return render(
        "integrity/session.html",
        optional_actor,
        report=report,
        signals_shown=integrity_service.SIGNALS_SHOWN,
    )


ROUTES = [exam_integrity_page, session_integrity_page]
