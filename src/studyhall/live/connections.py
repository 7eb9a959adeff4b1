"""What a player's (or host's) connection does, whatever carries it: WebSocket or long poll.

A connection first subscribes (``Hub.attach``), then reads what it missed: the events
after its ``lastEventId`` from the game's log, or a full snapshot when it has none or
the log no longer reaches back that far. Subscribing first means an event is either in
what was read or arrives live, never lost in between; live copies of what was read are
dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from studyhall.live import protocol
from studyhall.live.engine import (
    GameDef,
    GameNotRunning,
    LiveEngine,
    QuestionClosed,
    UnknownQuestion,
)
from studyhall.live.hub import CLOSE, Hub, Listener, Personalizer
from studyhall.live.joins import Joins
from studyhall.live.operations import Rates
from studyhall.live.questions import InvalidAnswer, key_view
from studyhall.platform.errors import NotFound

MAX_LONG_POLL_SECONDS = 30.0


class PlayerKicked(NotFound):
    code = "kicked"
    title = "The host removed this player from the game"


@dataclass
class LiveRuntime:
    """One per process: the engine (state, timers, events), the batched joins and this
    node's fan-out."""

    engine: LiveEngine
    hub: Hub
    joins: Joins
    rates: Rates = field(default_factory=Rates)

    @classmethod
    def start(cls, engine: LiveEngine) -> LiveRuntime:
        engine.run_timers()
        return cls(engine, Hub(engine), Joins(engine))

    async def close(self) -> None:
        await self.joins.close()
        await self.hub.close()
        await self.engine.close()


async def refuse_kicked(engine: LiveEngine, game: GameDef, player_id: str) -> None:
    """A kicked player's resume token is still a valid signature: refuse it here."""
    if await engine.store.kicked(game.game_id, player_id):
        raise PlayerKicked()


async def snapshot(engine: LiveEngine, game: GameDef, player_id: str | None) -> bytes:
    """Everything a fresh screen needs, as of the game's latest event."""
    state = await engine.state(game.game_id)
    top = await engine.top(game.game_id)
    status = state.status if state else "ended"
    payload: dict[str, Any] = {
        "gameId": game.game_id,
        "title": game.title,
        "status": status,
        "players": state.players if state else 0,
        "questionCount": len(game.questions),
        "question": None,
        "leaderboard": top,
    }
    if state is not None and status in ("question", "reveal") and state.qi >= 0:
        payload["question"] = engine.question_view(
            game, state.qi, state.qs, state.qe, full=player_id is None
        )
        if status == "reveal":
            payload["reveal"] = key_view(game.questions[state.qi])
    if player_id is None:
        roster = await engine.store.roster(game.game_id)
        payload["participants"] = [
            {"participantId": player, "name": name} for player, name in roster.items()
        ]
    else:
        rank, score = await engine.standing(game.game_id, player_id)
        names = await engine.store.names(game.game_id, [player_id])
        raw_streak = await engine.store.streak(game.game_id, player_id)
        answered = False
        if state is not None and status == "question":
            answered = player_id in await engine.store.answers(game.game_id, state.qi)
        payload["you"] = {
            "participantId": player_id,
            "name": names.get(player_id, ""),
            "rank": rank,
            "score": score,
            "streak": int(raw_streak.split(b":")[0]) if raw_streak else 0,
            "answeredCurrent": answered,
        }
    return protocol.encode(protocol.SNAPSHOT, state.seq if state else 0, payload)


async def open_stream(
    runtime: LiveRuntime, game: GameDef, player_id: str | None, last_event_id: int | None
) -> tuple[Listener, list[bytes]]:
    """Subscribe a listener and give it what it missed (replay or snapshot)."""
    engine = runtime.engine
    listener = Listener(player_id)
    await runtime.hub.attach(game, listener)
    try:
        # After subscribing: a kick before this is seen here, one after arrives live.
        if player_id is not None:
            await refuse_kicked(engine, game, player_id)
        frames: list[bytes] = []
        if last_event_id is not None:
            logged, oldest = await engine.store.log_after(game.game_id, last_event_id)
            state = await engine.state(game.game_id)
            latest = state.seq if state else 0
            reaches_back = oldest is not None and oldest <= last_event_id + 1
            if latest <= last_event_id or (logged and reaches_back):
                personalizer = Personalizer(engine, game)
                for frame in logged:
                    frames += await personalizer.frames(frame, listener)
                listener.after = max(
                    [last_event_id, *(protocol.header(frame)[1] for frame in logged)]
                )
            else:
                last_event_id = None
        if last_event_id is None:
            frame = await snapshot(engine, game, player_id)
            frames.append(frame)
            listener.after = protocol.header(frame)[1]
        _drop_seen(listener)
    except BaseException:
        runtime.hub.detach(game.game_id, listener)
        raise
    return listener, frames


def _drop_seen(listener: Listener) -> None:
    """Events that arrived live while the replay was read and that it already holds."""
    kept = []
    while not listener.queue.empty():
        frame = listener.queue.get_nowait()
        if frame == CLOSE or protocol.header(frame)[1] > listener.after:
            kept.append(frame)
    listener.latest = listener.after
    for frame in kept:
        listener.put(frame, listener.latest if frame == CLOSE else protocol.header(frame)[1])


Reply = tuple[str, dict[str, Any]]
"""A message to one connection, without its event id (``Listener.reply`` stamps it)."""


def _error(reason: str, details: dict[str, Any]) -> Reply:
    return protocol.ERROR, {"reason": reason, "details": details}


async def leaderboard_data(engine: LiveEngine, game: GameDef, player_id: str | None) -> Reply:
    payload: dict[str, Any] = {"leaderboard": await engine.top(game.game_id)}
    if player_id is not None:
        rank, score = await engine.standing(game.game_id, player_id)
        payload["you"] = {"rank": rank, "score": score}
    return protocol.LEADERBOARD_DATA, payload


async def answer(
    engine: LiveEngine, game: GameDef, player_id: str, payload: dict[str, Any]
) -> Reply:
    """The reply frame to an ``answer_submission``: its result (when the quiz shows results
    at once), an acknowledgement without correctness, or an ``error``."""
    question_id = payload.get("questionId")
    try:
        if not isinstance(question_id, str):
            raise UnknownQuestion()
        answered_at = payload.get("answeredAt")
        outcome = await engine.submit(
            game,
            player_id,
            question_id,
            payload.get("selectedOption"),
            answered_at if isinstance(answered_at, str) else None,
        )
    except (QuestionClosed, UnknownQuestion, InvalidAnswer, GameNotRunning, NotFound) as exc:
        return _error(exc.code, {"questionId": question_id, "message": exc.detail})
    if game.immediate_results:
        return protocol.ANSWER_RESULT, outcome.result()
    duplicate = outcome.submitted.outcome == "duplicate"
    return protocol.ANSWER_RECEIVED, {"questionId": question_id, "duplicate": duplicate}


async def handle(
    engine: LiveEngine, game: GameDef, player_id: str | None, raw: str | bytes
) -> Reply:
    """The reply to one client message; a refused message counts as the game's error."""
    reply = await _reply(engine, game, player_id, raw)
    if reply[0] == protocol.ERROR and reply[1]["reason"] in MESSAGE_ERRORS:
        await engine.store.count_error(game.game_id)  # refused answers count themselves
    return reply


MESSAGE_ERRORS = frozenset({"malformed_message", "unknown_message", "not_a_player"})


async def _reply(
    engine: LiveEngine, game: GameDef, player_id: str | None, raw: str | bytes
) -> Reply:
    try:
        message = protocol.client_decoder.decode(raw)
    except Exception:
        return _error("malformed_message", {"message": "send {type, payload} JSON"})
    if message.type == "answer_submission":
        if player_id is None:
            return _error("not_a_player", {"message": "the host does not answer"})
        return await answer(engine, game, player_id, message.payload)
    if message.type == "get_leaderboard":
        return await leaderboard_data(engine, game, player_id)
    if message.type == "heartbeat":
        return protocol.HEARTBEAT_ACK, {"serverTime": protocol.iso(engine.now_ms())}
    return _error("unknown_message", {"type": message.type})


async def long_poll(
    runtime: LiveRuntime,
    game: GameDef,
    player_id: str | None,
    after: int | None,
    wait_seconds: float,
) -> list[bytes]:
    """What ``after`` missed, or else the next events within ``wait_seconds``."""
    listener, frames = await open_stream(runtime, game, player_id, after)
    try:
        if not frames:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(wait_seconds, MAX_LONG_POLL_SECONDS)):
                    frames.append(await listener.queue.get())
        while not listener.queue.empty():
            frames.append(listener.queue.get_nowait())
    finally:
        runtime.hub.detach(game.game_id, listener)
    return [frame for frame in frames if frame != CLOSE]
