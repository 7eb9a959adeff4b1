"""Leaderboard API: one read, and the same view as a server-sent event stream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Literal

import msgspec
from litestar import Controller, get
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from studyhall.leaderboards import service
from studyhall.leaderboards.schemas import LeaderboardOut
from studyhall.platform.http import CurrentActor, DbSession, Runtime

Top = Annotated[int, QueryParameter(ge=1, le=service.MAX_TOP)]
RETRY_MILLIS = 2000


def _query(top: int, around: str | None, cohort: uuid.UUID | None) -> service.LeaderboardQuery:
    return service.LeaderboardQuery(top=top, around=around == "me", cohort_id=cohort)


async def _events(
    views: AsyncIterator[LeaderboardOut | None],
) -> AsyncIterator[ServerSentEventMessage]:
    async for view in views:
        if view is None:
            yield ServerSentEventMessage(data=None, comment="keep-alive")
        else:
            yield ServerSentEventMessage(
                data=msgspec.json.encode(view).decode(), event="leaderboard", retry=RETRY_MILLIS
            )


class LeaderboardController(Controller):
    path = "/api/v1/exams/{exam_id:uuid}/leaderboard"
    tags = ["leaderboards"]

    @get("/")
    async def board(
        self,
        exam_id: FromPath[uuid.UUID],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
        top: Top = service.DEFAULT_TOP,
        around: FromQuery[Literal["me"] | None] = None,
        cohort: FromQuery[uuid.UUID | None] = None,
    ) -> LeaderboardOut:
        """Top ``top`` entries (higher score, then earlier submit; one per student, by the
        exam's attempt policy), the caller's entry, and with ``around=me`` the 5 entries
        either side of the caller. ``cohort`` keeps that cohort's students only."""
        return await service.leaderboard(db, platform, actor, exam_id, _query(top, around, cohort))

    @get("/events")
    async def events(
        self,
        exam_id: FromPath[uuid.UUID],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
        top: Top = service.DEFAULT_TOP,
        around: FromQuery[Literal["me"] | None] = None,
        cohort: FromQuery[uuid.UUID | None] = None,
    ) -> ServerSentEvent:
        """The same view as server-sent events: a ``leaderboard`` event now and after every
        change (any node's), a comment line as a keep-alive while nothing changes."""
        views = await service.stream(db, platform, actor, exam_id, _query(top, around, cohort))
        return ServerSentEvent(_events(views))


ROUTES = [LeaderboardController]
