"""Live quiz pages: the player's join-and-play screen and the host's screen.

Both are a frame the server draws once; ``static/live-play.js`` and ``static/live-host.js``
then play the game over the WebSocket (``/ws``), with the same messages any client uses.
The player page needs no account: a join code and a name are enough, as in a classroom.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from studyhall.live import operations, service
from studyhall.live.connections import LiveRuntime
from studyhall.platform.errors import Forbidden, NotFound
from studyhall.platform.http import DbSession, MaybeActor
from studyhall.web.pages import refuse, render, request_target, sign_in_first


def _live(request: Request[Any, Any, Any]) -> LiveRuntime:
    live: LiveRuntime = request.app.state.live
    return live


@get("/play", name="live-join")
async def join_page(optional_actor: MaybeActor) -> Response[Any]:
    return render("live/play.html", optional_actor, code="")


@get("/play/{join_code:str}", name="live-play")
async def play_page(join_code: FromPath[str], optional_actor: MaybeActor) -> Response[Any]:
    code = join_code if join_code.isdigit() and len(join_code) == 6 else ""
    return render("live/play.html", optional_actor, code=code)


@get("/host/quizzes", name="live-quizzes")
async def quizzes_page(
    request: Request[Any, Any, Any], db: DbSession, optional_actor: MaybeActor
) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first(request_target(request))
    try:
        quizzes = await service.list_quizzes(db, optional_actor)
    except Forbidden:
        return refuse(optional_actor, request_target(request))
    return render("live/quizzes.html", optional_actor, quizzes=quizzes)


@post("/host/quizzes/{quiz_id:uuid}/games", name="live-host-new")
async def host_new_game(
    request: Request[Any, Any, Any],
    quiz_id: FromPath[uuid.UUID],
    db: DbSession,
    optional_actor: MaybeActor,
) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first("/host/quizzes")
    try:
        created = await service.create_game(
            db, _live(request).engine, optional_actor, quiz_id, str(request.base_url)
        )
    except (Forbidden, NotFound):
        return refuse(optional_actor, "/host/quizzes")
    return Redirect(f"/host/games/{created.game_id}", status_code=303)


@get("/host/games/{game_id:uuid}", name="live-host")
async def host_page(
    request: Request[Any, Any, Any],
    game_id: FromPath[uuid.UUID],
    db: DbSession,
    optional_actor: MaybeActor,
) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first(request_target(request))
    try:
        game = await service.game_view(db, _live(request).engine, optional_actor, game_id)
    except NotFound:
        return refuse(optional_actor, request_target(request))
    return render(
        "live/host.html",
        optional_actor,
        game=game,
        join_url=service.join_url(str(request.base_url), game.join_code),
    )


@get("/admin/live", name="live-admin")
async def admin_live_page(
    request: Request[Any, Any, Any], optional_actor: MaybeActor
) -> Response[Any]:
    """Operators' dashboard of running games; ``static/live-admin.js`` keeps it live."""
    if optional_actor is None or not optional_actor.is_admin:
        return refuse(optional_actor, request_target(request))
    live = _live(request)
    ops = await operations.live_games(live.engine, live.rates, optional_actor)
    return render("live/admin.html", optional_actor, ops=ops)


ROUTES = [join_page, play_page, quizzes_page, host_new_game, host_page, admin_live_page]
