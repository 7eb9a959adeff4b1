"""The leaderboard page: the top of an exam's board and the reader's own neighbourhood,
drawn on the server and then kept current by ``static/leaderboard.js`` through the
board's event stream, so new results appear without a reload."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery

from studyhall.identity.service import list_cohorts
from studyhall.leaderboards import service
from studyhall.leaderboards.service import LeaderboardQuery
from studyhall.platform.errors import Forbidden, NotFound
from studyhall.platform.http import DbSession, MaybeActor, Runtime
from studyhall.web.pages import not_found, render, request_target, sign_in_first

PAGE_TOP = 50
POLICY_LABELS = {
    "highest": "Each student's best attempt counts.",
    "last": "Each student's latest attempt counts.",
    "first": "Each student's first attempt counts.",
    "average": "Each student's average over their attempts counts.",
}


def score_text(value: float) -> str:
    """At most two decimals, none when whole (the script formats the same way)."""
    return f"{round(value, 2):g}"


def _cohort_id(value: str) -> uuid.UUID | None:
    """The filter form sends an id or nothing; anything else shows everyone."""
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


@get("/exams/{exam_id:uuid}/leaderboard", name="leaderboard")
async def leaderboard_page(
    request: Request[Any, Any, Any],
    exam_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
    cohort: FromQuery[str] = "",
) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first(request_target(request))
    query = LeaderboardQuery(top=PAGE_TOP, around=True, cohort_id=_cohort_id(cohort))
    try:
        board = await service.leaderboard(db, platform, optional_actor, exam_id, query)
    except (NotFound, Forbidden) as error:
        return not_found(optional_actor, error.detail)
    events = {"top": PAGE_TOP, "around": "me"}
    if board.cohort_id is not None:
        events["cohort"] = str(board.cohort_id)
    return render(
        "leaderboards/board.html",
        optional_actor,
        board=board,
        cohorts=await list_cohorts(db, optional_actor),
        policy=POLICY_LABELS.get(board.attempt_policy, ""),
        top=PAGE_TOP,
        events_url=f"/api/v1/exams/{exam_id}/leaderboard/events?{urlencode(events)}",
        score_text=score_text,
    )


ROUTES = [leaderboard_page]
