"""Live quiz HTTP and WebSocket handlers: authenticate, parse, call one function."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, WebSocket, get, post, websocket
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import WebSocketDisconnect
from litestar.handlers import HTTPRouteHandler, WebsocketRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, Parameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from studyhall.identity import service as identity_service
from studyhall.identity.dependencies import bearer_token
from studyhall.live import connections, images, operations, protocol, service
from studyhall.live.connections import LiveRuntime
from studyhall.live.engine import GameDef
from studyhall.live.hub import WS_POLICY_VIOLATION
from studyhall.live.schemas import (
    AnswerAckOut,
    AnswerIn,
    GameCreatedOut,
    GameOut,
    HostActionOut,
    JoinIn,
    JoinOut,
    KickOut,
    LiveOpsOut,
    QuizCreatedOut,
    QuizImageOut,
    QuizIn,
    QuizOut,
    QuizSummaryOut,
)
from studyhall.platform.auth import Actor
from studyhall.platform.errors import DomainError, NotFound, transient_outage
from studyhall.platform.http import (
    SESSION_COOKIE,
    CurrentActor,
    DbSession,
    MaybeActor,
    Runtime,
    client_ip,
)
from studyhall.platform.metrics import WEBSOCKET_CONNECTIONS
from studyhall.platform.websockets import frame_writer, let_go
from studyhall.questions.files import stream_download

JoinCode = Annotated[str, Parameter(min_length=1, max_length=12)]
StepStatus = Literal["lobby", "countdown", "question", "reveal"]
WS_NOT_FOUND = 4404
WS_TRY_AGAIN_LATER = 1013


def provide_live(state: State) -> LiveRuntime:
    live: LiveRuntime = state.live
    return live


Live = NamedDependency[LiveRuntime]
LIVE_DEPENDENCY = {"live": Provide(provide_live, sync_to_thread=False)}


class QuizController(Controller):
    path = "/api/v1/quizzes"
    tags = ["live"]
    dependencies = LIVE_DEPENDENCY

    @post("/", status_code=HTTP_201_CREATED)
    async def create(
        self, data: JSONBody[QuizIn], db: DbSession, live: Live, actor: CurrentActor
    ) -> QuizCreatedOut:
        return await service.create_quiz(db, live.engine.platform, actor, data)

    @get("/")
    async def list_quizzes(self, db: DbSession, actor: CurrentActor) -> list[QuizSummaryOut]:
        """Your quizzes (admins: every quiz); students may not author (403)."""
        return await service.list_quizzes(db, actor)

    @get("/{quiz_id:uuid}")
    async def detail(
        self, quiz_id: FromPath[uuid.UUID], db: DbSession, actor: CurrentActor
    ) -> QuizOut:
        """Your quiz with its answer keys; anyone else's is 404."""
        return await service.quiz_detail(db, actor, quiz_id)

    @post("/{quiz_id:uuid}/games", status_code=HTTP_201_CREATED)
    async def create_game(
        self,
        request: Request[Any, Any, Any],
        quiz_id: FromPath[uuid.UUID],
        db: DbSession,
        live: Live,
        actor: CurrentActor,
    ) -> GameCreatedOut:
        return await service.create_game(db, live.engine, actor, quiz_id, str(request.base_url))

    @post("/{join_code:str}/join", status_code=HTTP_200_OK)
    async def join(
        self,
        request: Request[Any, Any, Any],
        join_code: FromPath[JoinCode],
        data: JSONBody[JoinIn],
        live: Live,
        optional_actor: MaybeActor,
    ) -> JoinOut:
        """Join a live game; 409 ``name_taken`` or ``game_full``, 422 ``name_not_allowed``,
        429 ``rate_limited``."""
        ip = client_ip(request, trust_proxy_headers=live.engine.settings.trust_proxy_headers)
        return await live.joins.join(
            join_code, data.participant_name, client_ip=ip, actor=optional_actor
        )

    @get("/{join_code:str}/events")
    async def events(
        self,
        join_code: FromPath[JoinCode],
        db: DbSession,
        live: Live,
        optional_actor: MaybeActor,
        after: Annotated[int | None, QueryParameter(ge=0)] = None,
        participant_id: Annotated[uuid.UUID | None, QueryParameter(name="participantId")] = None,
        resume_token: Annotated[str | None, QueryParameter(name="resumeToken")] = None,
        wait: Annotated[float, QueryParameter(ge=0, le=connections.MAX_LONG_POLL_SECONDS)] = 25.0,
    ) -> Response[bytes]:
        """Long-poll fallback: ``{events, lastEventId}`` with the events after ``after`` (a
        snapshot when the log no longer has them), or the next ones within ``wait`` seconds."""
        game = await service.game_for_code(db, live.engine, join_code)
        player = _participant(live, game, participant_id, resume_token, optional_actor)
        await db.close()  # hold no pooled connection while waiting
        frames = await connections.long_poll(live, game, player, after, wait)
        last = max([after or 0, *(protocol.header(frame)[1] for frame in frames)])
        body = b'{"events":[' + b",".join(frames) + b'],"lastEventId":%d}' % last
        return Response(body, media_type="application/json")

    @post("/{join_code:str}/answers", status_code=HTTP_200_OK)
    async def answer(
        self, join_code: FromPath[JoinCode], data: JSONBody[AnswerIn], db: DbSession, live: Live
    ) -> AnswerAckOut:
        """An answer over HTTP, by the rules of ``answer_submission`` (409 ``question_closed``)."""
        game = await service.game_for_code(db, live.engine, join_code)
        player = str(data.participant_id)
        service.check_resume_token(
            live.engine.settings.secret_key, game.game_id, player, data.resume_token
        )
        await db.close()
        await connections.refuse_kicked(live.engine, game, player)
        outcome = await live.engine.submit(
            game, player, data.question_id, data.selected_option, data.answered_at
        )
        return AnswerAckOut(
            question_id=data.question_id,
            duplicate=outcome.submitted.outcome == "duplicate",
            result=outcome.result() if game.immediate_results else None,
        )


def _participant(
    live: LiveRuntime,
    game: GameDef,
    participant_id: uuid.UUID | None,
    resume_token: str | None,
    actor: Actor | None,
) -> str | None:
    """The player a connection is for, or None for the game's host (or an admin)."""
    if participant_id is not None:
        service.check_resume_token(
            live.engine.settings.secret_key, game.game_id, str(participant_id), resume_token or ""
        )
        return str(participant_id)
    if actor is not None and (actor.is_admin or actor.user_id == game.host_id):
        return None
    raise NotFound("Give participantId and resumeToken, or sign in as the host")


class GameController(Controller):
    path = "/api/v1/games/{game_id:uuid}"
    tags = ["live"]
    dependencies = LIVE_DEPENDENCY

    @get("/")
    async def detail(
        self, game_id: FromPath[uuid.UUID], db: DbSession, live: Live, actor: CurrentActor
    ) -> GameOut:
        return await service.game_view(db, live.engine, actor, game_id)

    @post("/start", status_code=HTTP_200_OK)
    async def start(
        self, game_id: FromPath[uuid.UUID], db: DbSession, live: Live, actor: CurrentActor
    ) -> HostActionOut:
        """Start: a short countdown, then the first question (409 once started)."""
        return await service.host_action(db, live.engine, actor, game_id, "start")

    @post("/next", status_code=HTTP_200_OK)
    async def next_step(
        self,
        game_id: FromPath[uuid.UUID],
        db: DbSession,
        live: Live,
        actor: CurrentActor,
        from_status: Annotated[StepStatus | None, QueryParameter(name="fromStatus")] = None,
        from_question: Annotated[int, QueryParameter(name="fromQuestion", ge=-1)] = -1,
    ) -> HostActionOut:
        """Close the open question (and reveal it), or go on after a reveal; after the
        last question this ends the game. ``fromStatus``/``fromQuestion`` say which step
        the host's screen showed: the game leaves that step once, however often the same
        click arrives (``advanced: false`` for the repeats); without them it advances
        from wherever it is."""
        step = None if from_status is None else (from_status, from_question)
        return await service.host_action(db, live.engine, actor, game_id, "next", step)

    @post("/end", status_code=HTTP_200_OK)
    async def end(
        self, game_id: FromPath[uuid.UUID], db: DbSession, live: Live, actor: CurrentActor
    ) -> HostActionOut:
        """End now: the open question is scored, the final leaderboard sent and saved."""
        return await service.host_action(db, live.engine, actor, game_id, "end")

    @post("/players/{participant_id:uuid}/kick", status_code=HTTP_200_OK)
    async def kick(
        self,
        game_id: FromPath[uuid.UUID],
        participant_id: FromPath[uuid.UUID],
        db: DbSession,
        live: Live,
        actor: CurrentActor,
    ) -> KickOut:
        """Remove a player: their connections get ``error {reason:"kicked"}`` and close,
        their resume token stops working, they leave the leaderboard and their name is
        free again. Repeating it is a no-op; 409 once the game is over."""
        return await service.kick_player(db, live.engine, actor, game_id, participant_id)

    @get("/export.csv", media_type="text/csv")
    async def export(
        self, game_id: FromPath[uuid.UUID], db: DbSession, live: Live, actor: CurrentActor
    ) -> Response[str]:
        body = await service.export_csv(db, live.engine, actor, game_id)
        return Response(
            body,
            media_type="text/csv",  # Litestar adds the charset to text/*
            headers={"Content-Disposition": f'attachment; filename="game-{game_id}.csv"'},
        )

    @get("/qr", responses={200: ResponseSpec(None, description="SVG, or PNG with format=png")})
    async def qr(
        self,
        request: Request[Any, Any, Any],
        game_id: FromPath[uuid.UUID],
        db: DbSession,
        actor: CurrentActor,
        kind: Annotated[Literal["svg", "png"], QueryParameter(name="format")] = "svg",
    ) -> Response[bytes]:
        """The join link as a QR code (SVG, or PNG with ``format=png``) for the host's screen."""
        game = await service.hosted_game(db, actor, game_id)
        url = service.join_url(str(request.base_url), game.join_code)
        media = "image/svg+xml" if kind == "svg" else "image/png"
        return Response(service.qr_code(url, kind), media_type=media)


class QuizImagesController(Controller):
    path = "/api/v1/quiz-images"
    tags = ["live"]

    # No framework limit: the service enforces the image limit as the body streams in.
    @post("/", status_code=HTTP_201_CREATED, request_max_body_size=None)
    async def upload(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        platform: Runtime,
        actor: CurrentActor,
    ) -> QuizImageOut:
        """The body is the image itself (PNG, JPEG, GIF or WebP, told by its bytes, not by
        Content-Type): 413 ``image_too_large``, 415 ``unsupported_image_type``."""
        return await service.upload_image(
            db, platform, actor, chunks=request.stream(), content_length=request.content_length
        )


class QuizImageMediaController(Controller):
    """The signature in the URL is the credential (players have no account); no CSRF
    cookie is set on these responses."""

    path = images.MEDIA_PATH
    tags = ["live"]
    opt = {"exclude_from_csrf": True}

    @get("/{image_id:uuid}", responses={200: ResponseSpec(None, description="The image")})
    async def image(
        self,
        image_id: FromPath[uuid.UUID],
        db: DbSession,
        platform: Runtime,
        expires: FromQuery[str | None] = None,
        sig: FromQuery[str | None] = None,
    ) -> Stream:
        plan = await images.download(db, platform, image_id, expires=expires, sig=sig)
        return stream_download(platform, plan)


async def _socket_actor(socket: WebSocket[Any, Any, Any], live: LiveRuntime) -> Actor | None:
    platform = live.engine.platform
    async with platform.sessions() as session:
        token = bearer_token(socket)  # type: ignore[arg-type]  # reads headers only
        if token is not None:
            return await identity_service.actor_from_bearer(session, platform, token)
        cookie = socket.cookies.get(SESSION_COOKIE)
        if cookie:
            return await identity_service.actor_from_cookie(session, platform, cookie)
    return None


async def _refused(socket: WebSocket[Any, Any, Any], exc: Exception) -> bool:
    """Tell the client why the game cannot be played and close, when ``exc`` is a refusal
    (or a passing outage); False for anything else. A helper, so the caller's frame keeps
    no name for the exception: its traceback holds that frame, and the two would make a
    cycle that keeps the whole connection alive until a full collection."""
    refusal = exc if isinstance(exc, DomainError) else transient_outage(exc)
    if refusal is None:
        return False
    await socket.send_text(protocol.error(0, refusal.code, {"message": refusal.detail}).decode())
    await socket.close(_close_code(refusal))
    return True


def _close_code(refusal: DomainError) -> int:
    if refusal.status == 404:
        return WS_NOT_FOUND
    return WS_TRY_AGAIN_LATER if refusal.status == 503 else WS_POLICY_VIOLATION


@websocket("/ws", dependencies=LIVE_DEPENDENCY)
async def live_socket(
    socket: WebSocket[Any, Any, Any],
    live: Live,
    quiz_id: Annotated[str, QueryParameter(name="quizId")],
    participant_id: Annotated[uuid.UUID | None, QueryParameter(name="participantId")] = None,
    resume_token: Annotated[str | None, QueryParameter(name="resumeToken")] = None,
    last_event_id: Annotated[int | None, QueryParameter(name="lastEventId", ge=0)] = None,
) -> None:
    """A player's (participantId + resumeToken) or the host's (signed in) game socket."""
    try:
        await _play_on(socket, live, quiz_id, participant_id, resume_token, last_event_id)
    finally:
        let_go(socket)


async def _play_on(
    socket: WebSocket[Any, Any, Any],
    live: Live,
    quiz_id: str,
    participant_id: uuid.UUID | None,
    resume_token: str | None,
    last_event_id: int | None,
) -> None:
    await socket.accept()
    try:
        async with live.engine.platform.sessions() as session:
            game = await service.game_for_code(session, live.engine, quiz_id)
        actor = None if participant_id is not None else await _socket_actor(socket, live)
        player = _participant(live, game, participant_id, resume_token, actor)
        listener, initial = await connections.open_stream(live, game, player, last_event_id)
    except Exception as exc:
        if not await _refused(socket, exc):
            raise
        return

    async def send(frame: bytes) -> None:
        await socket.send_text(frame.decode())

    async def write() -> None:
        for frame in initial:
            await send(frame)
        await listener.deliver(send, frame_writer(socket.scope))
        await socket.close(listener.close_code)  # kicked, or the game's events were lost

    writer = asyncio.create_task(write())
    WEBSOCKET_CONNECTIONS.inc()
    try:
        while True:
            raw = await socket.receive_data("text")
            listener.reply(*await connections.handle(live.engine, game, player, raw))
    except WebSocketDisconnect:
        pass
    finally:
        WEBSOCKET_CONNECTIONS.dec()
        live.hub.detach(game.game_id, listener)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer


@get("/api/v1/admin/live", dependencies=LIVE_DEPENDENCY, tags=["live"])
async def live_operations(live: Live, actor: CurrentActor) -> LiveOpsOut:
    """Every running game with its players, answers and errors per second (admins; 404
    for anyone else). Rates cover the time since this node's previous read."""
    return await operations.live_games(live.engine, live.rates, actor)


ROUTES: list[type[Controller] | WebsocketRouteHandler | HTTPRouteHandler] = [
    QuizController,
    GameController,
    QuizImagesController,
    QuizImageMediaController,
    live_socket,
    live_operations,
]
