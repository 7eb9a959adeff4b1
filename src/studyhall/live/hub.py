"""This node's share of the fan-out: the sockets (and long polls) of each game here.

A node subscribes to a game's channel once, when its first local listener arrives, and
drops it with the last. Each event arrives as encoded bytes and is queued, unchanged, on
every local listener of that game, and only that game: a listener is registered under
the game it authenticated for, nothing else. Queues are bounded; a listener that cannot
keep up loses its oldest frames (counted in a metric), never slows the others. A
leaderboard change goes only to the listeners whose own rank or score moved, unless
its top entries changed; joins and answer counts go to hosts only (players get the
coalesced player count). Personal parts
(``you``, a player's own ``answer_result`` at the reveal) are looked up once per event
for all local players.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from studyhall.live import protocol
from studyhall.live.engine import GameDef, LiveEngine, channel
from studyhall.platform.metrics import LIVE_EVENTS_DROPPED, LIVE_FANOUT
from studyhall.platform.pubsub import Subscription
from studyhall.platform.websockets import FrameWriter, text_frame

logger = logging.getLogger("studyhall.live")
LISTENER_QUEUE = 512
CLOSE = b""
"""Queued after a connection's last frame: its writer then closes it."""
WS_POLICY_VIOLATION = 4403
WS_RECONNECT = 1012
"""WebSocket close code "service restart": come back."""
GAP_SECONDS = 0.25


class Listener:
    """One connection's outbox. ``after``: events up to this id were already given to it
    (by a replay or a snapshot), so live copies of them are skipped. ``latest``: the
    highest event id given to it; a reply to the connection (an answer's acknowledgement,
    an error) carries that id, so the ids a client sees never go back.

    Frames wait in ``queue`` for the connection's writer (``deliver``), unless the socket
    can take them at once (``platform.websockets``): a frame is written on the spot when
    nothing is queued or being sent before it, so order holds and a fan-out costs no
    task wake-up per socket."""

    def __init__(self, player_id: str | None) -> None:
        self.player_id = player_id
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(LISTENER_QUEUE)
        self.after = 0
        self.latest = 0
        self.last_you: tuple[int | None, int] | None = None
        self.close_code = WS_POLICY_VIOLATION
        """How the connection closes after ``CLOSE``."""
        self._write_now: FrameWriter | None = None
        self._sending = False

    def put(self, frame: bytes, event_id: int, wire: bytes | None = None) -> None:
        """Give the connection ``frame``; ``wire``: the frame already framed, when shared."""
        self.latest = max(self.latest, event_id)
        write = self._free_writer()
        if frame != CLOSE and write is not None and write(wire or text_frame(frame)):
            return
        self._enqueue(frame)

    def put_all(self, frames: list[bytes], event_id: int, wires: list[bytes]) -> None:
        """Several frames of one event (``wires``: each framed), in one write when the
        socket takes them now."""
        self.latest = max(self.latest, event_id)
        write = self._free_writer()
        if write is None or not write(b"".join(wires)):
            for frame in frames:
                self._enqueue(frame)

    def _free_writer(self) -> FrameWriter | None:
        """The socket's own writer, when nothing is queued or being sent before a new
        frame (a frame written now then keeps its place)."""
        if self._sending or not self.queue.empty():
            return None
        return self._write_now

    def _enqueue(self, frame: bytes) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            LIVE_EVENTS_DROPPED.inc()
        self.queue.put_nowait(frame)

    async def deliver(
        self, send: Callable[[bytes], Awaitable[None]], writer: FrameWriter | None
    ) -> None:
        """Send what is queued, in order, until ``CLOSE``. ``writer``: the socket's own,
        used for frames put from now on while nothing waits before them."""
        self._write_now = writer
        try:
            while (frame := await self.queue.get()) != CLOSE:
                self._sending = True
                await send(frame)
                self._sending = False
        finally:
            self._write_now = None

    def reply(self, kind: str, payload: dict[str, Any]) -> None:
        self.put(protocol.encode(kind, self.latest, payload), self.latest)

    def kick(self, event_id: int) -> None:
        """The host removed this player: say so, then close the connection."""
        self.put(protocol.error(event_id, "kicked", {"message": "The host removed you"}), event_id)
        self.put(CLOSE, event_id)

    def lost(self) -> None:
        """The game's events stopped reaching this node (Redis went away): say so and close,
        so the client reconnects (with its ``lastEventId``) and reads what it missed, or a
        snapshot of a game rebuilt meanwhile."""
        self.reply(protocol.ERROR, {"reason": "stream_lost", "details": {}})
        self.close_code = WS_RECONNECT
        self.put(CLOSE, self.latest)


class Personalizer:
    """Adds each player's own part to event frames; lookups are shared by every listener
    of one event (so a frame for 5,000 local players costs one standings read)."""

    def __init__(self, engine: LiveEngine, game: GameDef) -> None:
        self._engine = engine
        self._game = game
        self._ranks: dict[int, dict[str, tuple[int, int]]] = {}
        self._answers: dict[int, tuple[str, dict[str, bytes]]] = {}
        self._with_you: dict[tuple[int, int | None, int], bytes] = {}
        """Per event and ``you``: players who share a rank and score share the frame."""
        self._wires: dict[bytes, bytes] = {}

    def wire(self, frame: bytes) -> bytes:
        """``frame`` framed for a socket, once per distinct frame of this event."""
        framed = self._wires.get(frame)
        if framed is None:
            framed = self._wires[frame] = text_frame(frame)
        return framed

    async def _ranking(self, event_id: int) -> dict[str, tuple[int, int]]:
        if event_id not in self._ranks:
            standings = await self._engine.store.standings(self._game.game_id)
            self._ranks[event_id] = {
                player: (rank, score) for player, score, rank in protocol.ranked(standings)
            }
        return self._ranks[event_id]

    async def _revealed(self, event_id: int, frame: bytes) -> tuple[str, dict[str, bytes]]:
        if event_id not in self._answers:
            payload = msgspec.json.decode(frame)["payload"]
            answers = await self._engine.store.answers(self._game.game_id, payload["index"])
            self._answers[event_id] = (payload["questionId"], answers)
        return self._answers[event_id]

    def same_for_everyone(self, kind: str) -> bool:
        """Whether every connection gets a ``kind`` event's frame as it is."""
        personal = kind in protocol.PERSONAL_YOU or kind in protocol.HOST_ONLY
        return not personal and not (
            kind == protocol.QUESTION_REVEALED and not self._game.immediate_results
        )

    async def frames(
        self, frame: bytes, listener: Listener, *, top_changed: bool = True
    ) -> list[bytes]:
        """What this listener gets for one event frame: nothing for a leaderboard change
        that moved neither the top (``top_changed``) nor the listener's own place."""
        kind, event_id = protocol.header(frame)
        player = listener.player_id
        if player is None:
            skip = kind == protocol.LEADERBOARD_CHANGED and not top_changed
            return [] if skip else [frame]
        if kind in protocol.HOST_ONLY:
            return []
        if kind in protocol.PERSONAL_YOU:
            you = (await self._ranking(event_id)).get(player, (None, 0))
            if (
                kind == protocol.LEADERBOARD_CHANGED
                and not top_changed
                and you == listener.last_you
            ):
                return []
            listener.last_you = you
            key = (event_id, *you)
            personal = self._with_you.get(key)
            if personal is None:
                personal = self._with_you[key] = protocol.with_you(frame, *you)
            return [personal]
        if kind == protocol.QUESTION_REVEALED and not self._game.immediate_results:
            question_id, answers = await self._revealed(event_id, frame)
            record: dict[str, Any] = (
                msgspec.json.decode(answers[player]) if player in answers else {}
            )
            _, score = (await self._ranking(event_id)).get(player, (None, 0))
            result = {
                "questionId": question_id,
                "answered": bool(record),
                "correct": record.get("c"),
                "awardedPoints": record.get("p", 0),
                "newScore": score,
            }
            return [frame, protocol.encode(protocol.ANSWER_RESULT, event_id, result)]
        return [frame]


@dataclass
class _Room:
    game: GameDef
    listeners: set[Listener] = field(default_factory=set)
    hosts: set[Listener] = field(default_factory=set)
    """The listeners without a player: host-only events (one per join) go to these
    alone, so a filling lobby costs no scan of every player per join."""
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    last_top: bytes = b""
    """The payload of the last leaderboard this node delivered."""


class Hub:
    def __init__(self, engine: LiveEngine) -> None:
        self._engine = engine
        self._rooms: dict[str, _Room] = {}

    async def attach(self, game: GameDef, listener: Listener) -> None:
        """Register ``listener``; returns once this node is subscribed to the game, so
        every event published from now on reaches it."""
        room = self._rooms.get(game.game_id)
        if room is not None and room.task is not None and room.task.done():
            # Its subscription broke (Redis went away): start afresh, as the last reader left.
            self._rooms.pop(game.game_id)
            room = None
        if room is None:
            room = self._rooms[game.game_id] = _Room(game)
            room.task = asyncio.create_task(self._pump(room), name=f"live-room-{game.game_id}")
        room.listeners.add(listener)
        if listener.player_id is None:
            room.hosts.add(listener)
        ready = asyncio.create_task(room.ready.wait())
        pump = room.task
        assert pump is not None
        await asyncio.wait({ready, pump}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            self.detach(game.game_id, listener)
            pump.result()  # the subscription failed: raise why

    def detach(self, game_id: str, listener: Listener) -> None:
        room = self._rooms.get(game_id)
        if room is None:
            return
        room.listeners.discard(listener)
        room.hosts.discard(listener)
        if not room.listeners:
            del self._rooms[game_id]
            # Let go of the task first: its CancelledError's traceback holds the room.
            task, room.task = room.task, None
            if task is not None:
                task.cancel()

    async def _pump(self, room: _Room) -> None:
        game_id = room.game.game_id
        try:
            async with self._engine.platform.pubsub.subscribe(channel(game_id)) as events:
                state = await self._engine.store.state(game_id)
                expected = state.seq + 1 if state else None
                room.ready.set()
                await self._deliver_in_order(room, events, expected)
        except Exception:
            logger.exception("live game %s: subscription lost", game_id)
            for listener in room.listeners:
                listener.lost()
            raise

    async def _deliver_in_order(
        self, room: _Room, events: Subscription, expected: int | None
    ) -> None:
        """Fan events out in event-id order. Ids are taken in order but two nodes (or two
        tasks) may publish them the other way round; a frame ahead of the next id waits
        up to ``GAP_SECONDS`` for the ones before it, then goes anyway (an id whose node
        died before publishing it never comes). A frame behind is delivered late. When
        the subscription ends, or fails, the frames still waiting go out first."""
        waiting: dict[int, bytes] = {}
        try:
            while True:
                try:
                    async with asyncio.timeout(GAP_SECONDS if waiting else None):
                        _, message = await anext(events)  # a cancelled wait loses nothing
                except TimeoutError:
                    expected = min(waiting)
                else:
                    for frame in protocol.unbundle(message):
                        event_id = protocol.header(frame)[1]
                        if expected is None:
                            expected = event_id
                        if event_id < expected:
                            await self._fan_out(room, frame)
                        else:
                            waiting[event_id] = frame
                while expected in waiting:
                    await self._fan_out(room, waiting.pop(expected))
                    expected += 1
        except Exception as ended:  # the subscription ended (StopAsyncIteration) or failed
            for event_id in sorted(waiting):
                await self._fan_out(room, waiting[event_id])
            if not isinstance(ended, StopAsyncIteration):
                raise

    async def _fan_out(self, room: _Room, frame: bytes) -> None:
        try:
            await self._fan_out_now(room, frame)
        except Exception:
            logger.exception("live game %s: fan-out failed", room.game.game_id)

    async def _fan_out_now(self, room: _Room, frame: bytes) -> None:
        started = time.perf_counter()
        kind, event_id = protocol.header(frame)
        personalizer = Personalizer(self._engine, room.game)
        if kind != protocol.PLAYER_KICKED and personalizer.same_for_everyone(kind):
            wire = personalizer.wire(frame)
            for listener in list(room.listeners):
                if event_id > listener.after:
                    listener.put(frame, event_id, wire)
        else:
            await self._fan_out_in_parts(room, frame, kind, event_id, personalizer)
        LIVE_FANOUT.labels(kind).observe(time.perf_counter() - started)

    async def _fan_out_in_parts(
        self, room: _Room, frame: bytes, kind: str, event_id: int, personalizer: Personalizer
    ) -> None:
        """An event whose frame differs per connection, or goes to some of them only."""
        top_changed = True
        if kind == protocol.LEADERBOARD_CHANGED:
            top = frame[frame.index(b'"payload":') :]
            top_changed, room.last_top = top != room.last_top, top
        kicked = None
        if kind == protocol.PLAYER_KICKED:
            kicked = msgspec.json.decode(frame)["payload"]["participantId"]
        targets = room.hosts if kind in protocol.HOST_ONLY else room.listeners
        for listener in list(targets):
            if event_id <= listener.after:
                continue
            if kicked is not None and listener.player_id == kicked:
                listener.kick(event_id)
                continue
            personal = await personalizer.frames(frame, listener, top_changed=top_changed)
            if personal:
                wires = [personalizer.wire(one) for one in personal]
                listener.put_all(personal, event_id, wires)

    async def close(self) -> None:
        rooms, self._rooms = list(self._rooms.values()), {}
        for room in rooms:
            if room.task is not None:
                room.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await room.task
