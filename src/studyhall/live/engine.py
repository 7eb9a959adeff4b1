"""The game engine: server-authoritative state changes, scoring, events and timers.

Every state change is one atomic step in the game store (``live.store``) that also takes
the next event id; the node that made the change encodes the event once, appends it to
the game's bounded log and publishes it on the game's pub/sub channel, from where every
node (``live.hub``) writes it to its own sockets.

Timers are deadlines in the game state, read from the platform clock, never sleeps: a
tick loop on every node looks at the games whose timer lease it holds (a key with a
short expiry in the hot store), renews the lease and fires what is due. A node that dies
stops renewing; its lease expires and the next node's tick takes the game over. Every
transition is a compare-and-set on status and question index, so even two nodes firing
the same deadline move the game once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import or_, select, update
from sqlalchemy.sql.dml import Update

from studyhall.live import protocol, rebuild
from studyhall.live.audit import AnswerAudit
from studyhall.live.images import image_url
from studyhall.live.models import LiveGame, LivePlayer, LiveQuiz
from studyhall.live.questions import (
    InvalidAnswer,
    LiveQuestion,
    answer_view,
    is_correct,
    key_view,
    parse_response,
    player_view,
)
from studyhall.live.scoring import Scoring, award
from studyhall.live.store import GameState, GameStore, Joined, Submitted, game_store
from studyhall.platform.errors import Conflict, NotFound
from studyhall.platform.metrics import LIVE_ANSWERS, LIVE_SUBMISSION_LATENCY
from studyhall.platform.runtime import Platform

logger = logging.getLogger("studyhall.live")

DEFINITIONS_CACHED = 1000
FINISHED_STATE_SECONDS = 3600.0
GAME_STATE_SECONDS = 24 * 3600.0
AUTO_START_THRESHOLD = 2
"""Seed 002: an auto-start game starts once it has more than two players."""
PODIUM = 3


class GameNotRunning(Conflict):
    code = "game_not_running"
    title = "The game is not in a state that allows this"


class QuestionClosed(Conflict):
    code = "question_closed"
    title = "The question is closed"


class UnknownQuestion(NotFound):
    code = "unknown_question"
    title = "No such question in this game"


Step = tuple[str, int]
"""Where a game is: its status and question index (-1 before the first question)."""


def channel(game_id: str) -> str:
    return f"live:{game_id}"


@dataclass(frozen=True, slots=True)
class GameDef:
    """What a game plays: its quiz, frozen when the game was made."""

    game_id: str
    quiz_id: uuid.UUID
    host_id: uuid.UUID
    join_code: str
    title: str
    scoring: Scoring
    auto_start: bool
    auto_advance: bool
    immediate_results: bool
    auto_start_seconds: int | None
    max_players: int | None
    questions: tuple[LiveQuestion, ...]
    questions_on: str = "players"
    """``host``: players' screens show only answer buttons (see ``LiveEngine.question_view``)."""
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index.update({question.id: i for i, question in enumerate(self.questions)})

    def previous_scored(self, qi: int) -> int:
        """The index of the last scored question before ``qi`` (-1 when none)."""
        for earlier in range(qi - 1, -1, -1):
            if self.questions[earlier].scored:
                return earlier
        return -1


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    submitted: Submitted
    question_id: str
    """``accepted``/``duplicate`` carry the stored record; ``closed`` refuses."""

    def result(self) -> dict[str, Any]:
        """The ``answer_result`` payload for this answer (only sent when allowed)."""
        record = _record(self.submitted.record)
        return {
            "questionId": self.question_id,
            "correct": record["c"],
            "awardedPoints": record["p"],
            "newScore": self.submitted.score,
        }


def _record(raw: bytes | None) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(raw) if raw else {}
    return decoded


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LiveEngine:
    """One per process: the games' store, answer audit, timers and event publication."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.settings = platform.settings
        self.clock = platform.clock
        self.store: GameStore = game_store(platform.redis, self.settings.redis_prefix)
        self.node = node_name()
        self.audit = AnswerAudit(platform.engine)
        self._definitions: OrderedDict[str, GameDef] = OrderedDict()
        self.codes: OrderedDict[str, str] = OrderedDict()
        """Join code -> id of the live game that held it when last looked up here."""
        self._stop = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def run_timers(self) -> None:
        self._ticker = asyncio.create_task(self._tick_forever(), name="live-timers")

    async def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            await self._ticker
        await self.audit.close()
        await self.store.close()

    async def _tick_forever(self) -> None:
        while not self._stop.is_set():
            try:
                await self.tick()
            except (RedisConnectionError, RedisTimeoutError) as exc:
                # Redis is down (its client fails fast meanwhile): one line, no traceback.
                logger.warning("live timer tick: Redis unreachable (%s)", type(exc).__name__)
            except Exception:
                logger.exception("live timer tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.live_tick_seconds)

    async def tick(self) -> None:
        """Fire due timers and send coalesced updates of every game whose lease this node
        holds (or takes over now). Safe to call at any time, from anywhere."""
        for game_id in await self.store.active():
            if not await self.store.lease(game_id, self.node, self.settings.live_lease_seconds):
                continue
            try:
                await self.fire_due(game_id)
                await self.send_updates(game_id)
            except Exception:
                logger.exception("live game %s: timer failed", game_id)

    # --- definitions --------------------------------------------------------------------------

    async def definition(self, game_id: str) -> GameDef:
        cached = self._definitions.get(game_id)
        if cached is not None:
            self._definitions.move_to_end(game_id)
            return cached
        async with self.platform.sessions() as session:
            row = (
                await session.execute(
                    select(LiveGame, LiveQuiz)
                    .join(LiveQuiz, LiveQuiz.id == LiveGame.quiz_id)
                    .where(LiveGame.id == uuid.UUID(game_id))
                )
            ).one_or_none()
        if row is None:
            raise NotFound("No such game")
        game, quiz = row
        definition = GameDef(
            game_id=game_id,
            quiz_id=quiz.id,
            host_id=game.host_id,
            join_code=game.join_code,
            title=quiz.title,
            scoring="speed" if quiz.scoring == "speed" else "classic",
            auto_start=quiz.auto_start,
            auto_advance=quiz.auto_advance,
            immediate_results=quiz.answer_result == "immediate",
            auto_start_seconds=quiz.auto_start_seconds,
            max_players=quiz.max_players,
            questions=tuple(msgspec.convert(q, LiveQuestion) for q in quiz.questions),
            questions_on=quiz.questions_on,
        )
        self._definitions[game_id] = definition
        while len(self._definitions) > DEFINITIONS_CACHED:
            self._definitions.popitem(last=False)
        return definition

    def remember_code(self, code: str, game_id: str) -> None:
        self.codes[code] = game_id
        self.codes.move_to_end(code)
        while len(self.codes) > DEFINITIONS_CACHED:
            self.codes.popitem(last=False)

    async def live_game_of_code(self, code: str) -> GameState | None:
        """The state of the game remembered for ``code`` while it is not over: a join or
        a connection then needs no database read (a code is reused only after its game
        ended, and then this says None and the caller asks the database)."""
        game_id = self.codes.get(code)
        if game_id is None:
            return None
        state = await self.state(game_id)
        return None if state is None or state.status == "ended" else state

    async def state(self, game_id: str) -> GameState | None:
        """The game's hot state. One the store lost (Redis restarted empty) while the
        database says the game is on is rebuilt first (``live.rebuild``); None for a game
        that is over or unknown."""
        state = await self.store.state(game_id)
        if state is not None:
            return state
        return await rebuild.revive(
            self, game_id, threshold=AUTO_START_THRESHOLD, ttl_seconds=GAME_STATE_SECONDS
        )

    # --- events -------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock.timestamp() * 1000)

    async def publish(self, game_id: str, event_id: int, kind: str, payload: Any) -> bytes:
        """Log the event (for replay) and fan it out to every node; log first, so a reader
        that subscribed before reading the log misses nothing."""
        frame = protocol.encode(kind, event_id, payload)
        await self.publish_frames(game_id, [(event_id, frame)])
        return frame

    async def publish_frames(self, game_id: str, events: list[tuple[int, bytes]]) -> None:
        """Log and fan out encoded events at once: one log write and one pub/sub message
        (``protocol.bundle``) however many there are."""
        await self.store.append(game_id, events, self.settings.live_event_log_size)
        await self.platform.pubsub.publish(
            channel(game_id), protocol.bundle([frame for _, frame in events])
        )

    async def top(self, game_id: str) -> list[dict[str, Any]]:
        """The leaderboard's top entries, reading only those."""
        size = self.settings.live_leaderboard_size
        leaders = protocol.ranked(await self.store.top(game_id, size))
        names = await self.store.names(game_id, [player for player, _, _ in leaders])
        return [
            {"participantId": player, "name": names.get(player, ""), "score": score, "rank": rank}
            for player, score, rank in leaders
        ]

    async def standing(self, game_id: str, player_id: str) -> tuple[int | None, int]:
        """A player's ``(rank, score)``; ``(None, 0)`` for one not (or no longer) in it."""
        found = await self.store.standing(game_id, player_id)
        return found if found is not None else (None, 0)

    async def leaderboard(
        self, game_id: str
    ) -> tuple[list[dict[str, Any]], dict[str, tuple[int, int]]]:
        """The top entries and every player's ``(rank, score)``."""
        standings = protocol.ranked(await self.store.standings(game_id))
        leaders = standings[: self.settings.live_leaderboard_size]
        names = await self.store.names(game_id, [player for player, _, _ in leaders])
        top = [
            {"participantId": player, "name": names.get(player, ""), "score": score, "rank": rank}
            for player, score, rank in leaders
        ]
        return top, {player: (rank, score) for player, score, rank in standings}

    # --- transitions --------------------------------------------------------------------------

    async def create_game(self, game_id: str) -> None:
        await self.store.create(game_id, GAME_STATE_SECONDS)

    def auto_start_at(self, game: GameDef) -> int:
        """When a lobby filling now would start by itself (0: it does not)."""
        seconds = game.auto_start_seconds
        if seconds is None:
            seconds = self.settings.live_auto_start_seconds
        return self.now_ms() + seconds * 1000 if game.auto_start and seconds > 0 else 0

    async def add_players(
        self, game: GameDef, players: list[tuple[str, str]], auto_start_at: int
    ) -> Joined:
        """Put ``(player id, name)`` pairs in the game in one step (``GameStore.add_players``);
        nothing is announced until :meth:`announce_joins`."""
        joined = await self.store.add_players(
            game.game_id,
            players,
            auto_start_at=auto_start_at,
            threshold=AUTO_START_THRESHOLD,
            max_players=game.max_players,
        )
        if joined is None:
            raise GameNotRunning("The game is over")
        return joined

    async def announce_joins(
        self, game: GameDef, players: list[tuple[str, str]], joined: Joined, auto_start_at: int
    ) -> None:
        """The ``player_joined`` events of the players ``joined`` added (and the lobby's
        ``countdown`` when they started it), published at once."""
        events: list[tuple[int, bytes]] = []
        for (player_id, name), event_id, count in zip(
            players, joined.event_ids, joined.counts, strict=True
        ):
            if event_id > 0:
                payload = {"participantId": player_id, "name": name, "players": count}
                frame = protocol.encode(protocol.PLAYER_JOINED, event_id, payload)
                events.append((event_id, frame))
        if joined.countdown_event_id:
            payload = self._countdown(auto_start_at)
            countdown = protocol.encode(protocol.COUNTDOWN, joined.countdown_event_id, payload)
            events.append((joined.countdown_event_id, countdown))
        if events:
            await self.publish_frames(game.game_id, sorted(events))

    async def kick(self, game: GameDef, player_id: str) -> int | None:
        """Take a player out of the game (see ``GameStore.kick``); their connections on
        every node are told and closed through the ``player_kicked`` event. The player
        count, or None when the game never had this player or is over."""
        kicked = await self.store.kick(game.game_id, player_id)
        if kicked is None:
            return None
        if kicked.event_id:
            await self.publish(
                game.game_id,
                kicked.event_id,
                protocol.PLAYER_KICKED,
                {"participantId": player_id, "players": kicked.players},
            )
        return kicked.players

    async def _announce_countdown(self, game: GameDef, event_id: int, starts_at: int) -> None:
        await self.publish(game.game_id, event_id, protocol.COUNTDOWN, self._countdown(starts_at))

    def _countdown(self, starts_at: int) -> dict[str, Any]:
        return {"startsAt": protocol.iso(starts_at), "seconds": (starts_at - self.now_ms()) / 1000}

    async def start(self, game: GameDef) -> None:
        """Host start: a short countdown, then the first question."""
        seconds = self.settings.live_countdown_seconds
        starts_at = self.now_ms() + int(seconds * 1000)
        event_id = await self.store.transition(
            game.game_id,
            expect=("lobby",),
            expect_qi=None,
            apply_pending=None,
            fields={"status": "countdown", "deadline": starts_at},
        )
        if not event_id:
            raise GameNotRunning("The game has already started")
        await self._mark_started(game)
        await self._announce_countdown(game, event_id, starts_at)
        if seconds <= 0:
            await self.open_question(game, 0)

    def _marked_started(self, game: GameDef) -> Update:
        return (
            update(LiveGame)
            .where(LiveGame.id == uuid.UUID(game.game_id), LiveGame.started_at.is_(None))
            .values(status="running", started_at=self.clock.now())
        )

    async def _mark_started(self, game: GameDef) -> None:
        async with self.platform.sessions() as session, session.begin():
            await session.execute(self._marked_started(game))

    async def _record_opened(self, game: GameDef, qi: int, start: int) -> None:
        """The database learns each question as it opens, with its server start, so a
        game rebuilt after its hot state is lost goes on from it (``live/rebuild.py``).
        The first question also marks the game started, for a game that left its lobby
        without the host's start (auto-start, or next from the lobby)."""
        later = or_(LiveGame.question_index.is_(None), LiveGame.question_index < qi)
        async with self.platform.sessions() as session, session.begin():
            if qi == 0:
                await session.execute(self._marked_started(game))
            await session.execute(
                update(LiveGame)
                .where(LiveGame.id == uuid.UUID(game.game_id), later)
                .values(question_index=qi, question_started_ms=start)
            )

    async def open_question(self, game: GameDef, qi: int) -> bool:
        question = game.questions[qi]
        start = self.now_ms()
        end = start + question.time_limit_seconds * 1000
        event_id = await self.store.transition(
            game.game_id,
            expect=("countdown",) if qi == 0 else ("reveal",),
            expect_qi=None if qi == 0 else qi - 1,
            apply_pending=None,
            fields={
                "status": "question",
                "qi": qi,
                "qs": start,
                "qe": end,
                "deadline": end,
                "answered": 0,
                "counted": 0,
            },
        )
        if not event_id:
            return False
        payload = self.question_view(game, qi, start, end, full=False)
        await self.publish(game.game_id, event_id, protocol.NEW_QUESTION, payload)
        if game.questions_on == "host":
            await self._show_host(game, qi, start, end)
        # The database writes come after the players see the question, off their clock.
        await self._record_opened(game, qi, start)
        return True

    async def _show_host(self, game: GameDef, qi: int, start: int, end: int) -> None:
        """The whole question for the host's screen (a host-only event). Its id is taken
        by a compare-and-set that changes nothing while the question is still open; if
        it closed already, the host's reveal follows and a reconnect's snapshot has it."""
        event_id = await self.store.transition(
            game.game_id, expect=("question",), expect_qi=qi, apply_pending=None, fields={}
        )
        if event_id:
            payload = self.question_view(game, qi, start, end, full=True)
            await self.publish(game.game_id, event_id, protocol.HOST_QUESTION, payload)

    def question_view(
        self, game: GameDef, qi: int, start: int, end: int, *, full: bool
    ) -> dict[str, Any]:
        """Question ``qi`` as a screen gets it: with its texts and image when ``full`` (the
        host's) or when the quiz shows questions on players' screens; else only what it
        takes to answer."""
        question = game.questions[qi]
        count = len(game.questions)
        if full or game.questions_on == "players":
            url = None
            if question.image is not None:
                url = image_url(self.settings.secret_key, question.image, self.clock.timestamp())
            view = player_view(question, qi, count, url)
        else:
            view = answer_view(question, qi, count)
        view["questionsOn"] = game.questions_on
        view["startTime"], view["endTime"] = protocol.iso(start), protocol.iso(end)
        return view

    async def close_question(self, game: GameDef, qi: int) -> bool:
        """Close on time, when everyone answered, or by the host; then reveal."""
        deadline = (
            self.now_ms() + int(self.settings.live_reveal_seconds * 1000)
            if game.auto_advance
            else 0
        )
        event_id = await self.store.transition(
            game.game_id,
            expect=("question",),
            expect_qi=qi,
            apply_pending=None if game.immediate_results else qi,
            fields={"status": "reveal", "deadline": deadline},
        )
        if not event_id:
            return False
        question = game.questions[qi]
        answers = await self.store.answers(game.game_id, qi)
        state = await self.store.state(game.game_id)
        payload: dict[str, Any] = {
            "questionId": question.id,
            "index": qi,
            **key_view(question),
            "distribution": _distribution(question, answers.values()),
            "answered": len(answers),
            "players": state.players if state else len(answers),
        }
        await self.publish(game.game_id, event_id, protocol.QUESTION_REVEALED, payload)
        return True

    async def advance(self, game: GameDef, step: Step | None = None) -> bool:
        """Host next: close the open question (which reveals it), or go on from a reveal
        (or the lobby). ``step`` is the ``(status, question index)`` the host advances
        from; every way out of a step is a compare-and-set on that step, so the step is
        left once however often the same click arrives (a double click or a retry never
        skips a reveal). Without ``step`` the game advances from wherever it is now.
        True when this call moved the game."""
        state = await self._state(game)
        if state.status == "ended":
            if step is not None:  # a repeat of the click that ended it
                return False
            raise GameNotRunning("The game is over")
        status, qi = step if step is not None else (state.status, state.qi)
        if status == "question":
            return await self.close_question(game, qi)
        if status == "reveal":
            return await self._after_reveal(game, qi)
        if status == "lobby":
            event_id = await self.store.transition(
                game.game_id,
                expect=("lobby",),
                expect_qi=None,
                apply_pending=None,
                fields={"status": "countdown", "deadline": 0},
            )
            if event_id:  # every event id taken is published: nodes wait for gaps
                await self._announce_countdown(game, event_id, self.now_ms())
        return await self.open_question(game, 0)

    async def _after_reveal(self, game: GameDef, qi: int) -> bool:
        if qi + 1 < len(game.questions):
            return await self.open_question(game, qi + 1)
        return await self.end(game, after_reveal=qi)

    async def end(self, game: GameDef, *, after_reveal: int | None = None) -> bool:
        """End the game; ``after_reveal``: only if it is still at that question's reveal."""
        if after_reveal is None:
            state = await self.state(game.game_id)
            if state is not None and state.status == "question":
                # Answers already taken count: close (and score) the open question first.
                await self.close_question(game, state.qi)
        event_id = await self.store.transition(
            game.game_id,
            expect=("lobby", "countdown", "question", "reveal")
            if after_reveal is None
            else ("reveal",),
            expect_qi=after_reveal,
            apply_pending=None,
            fields={"status": "ended", "deadline": 0},
        )
        if not event_id:
            return False
        top, everyone = await self.leaderboard(game.game_id)
        await self.audit.flush()
        await self._persist_final(game, everyone)
        await self.publish(
            game.game_id,
            event_id,
            protocol.QUIZ_ENDED,
            {"finalLeaderboard": top, "podium": top[:PODIUM]},
        )
        await self.store.finish(game.game_id, FINISHED_STATE_SECONDS)
        return True

    async def _persist_final(self, game: GameDef, everyone: dict[str, tuple[int, int]]) -> None:
        async with self.platform.sessions() as session, session.begin():
            if everyone:
                await session.execute(
                    update(LivePlayer),
                    [
                        {"id": uuid.UUID(player), "final_score": score, "final_rank": rank}
                        for player, (rank, score) in everyone.items()
                    ],
                )
            await session.execute(
                update(LiveGame)
                .where(LiveGame.id == uuid.UUID(game.game_id))
                .values(status="ended", ended_at=self.clock.now(), live_code=None)
            )

    async def _state(self, game: GameDef) -> GameState:
        state = await self.state(game.game_id)
        if state is None:
            raise GameNotRunning("The game is over")
        return state

    # --- timers and coalesced updates ---------------------------------------------------------

    async def fire_due(self, game_id: str) -> None:
        state = await self.store.state(game_id)
        if state is None:
            # Expired unfinished (a host who never ended it), or lost with Redis: stop
            # timing it; the next request for it rebuilds a lost one (``rebuild``).
            await self.store.finish(game_id, FINISHED_STATE_SECONDS)
            return
        if not state.deadline or self.now_ms() < state.deadline:
            return
        game = await self.definition(game_id)
        if state.status == "countdown":
            await self.open_question(game, 0)
        elif state.status == "question":
            await self.close_question(game, state.qi)
        elif state.status == "reveal":
            await self._after_reveal(game, state.qi)

    async def send_updates(self, game_id: str) -> None:
        """At most one leaderboard, one answer count and one player count per tick
        (about 10 a second)."""
        updates = await self.store.take_updates(game_id, self.now_ms())
        if updates.players_event:
            await self.publish(
                game_id, updates.players_event, protocol.PLAYER_COUNT, {"players": updates.players}
            )
        if updates.count_event:
            await self.publish(
                game_id,
                updates.count_event,
                protocol.ANSWER_COUNT,
                {"answered": updates.answered, "players": updates.players},
            )
        if updates.leaderboard_event:
            top = await self.top(game_id)
            await self.publish(
                game_id,
                updates.leaderboard_event,
                protocol.LEADERBOARD_CHANGED,
                {"leaderboard": top},
            )

    # --- answers ------------------------------------------------------------------------------

    async def submit(
        self,
        game: GameDef,
        player_id: str,
        question_id: str,
        selected: Any,
        client_answered_at: str | None,
    ) -> AnswerOutcome:
        """Score and record one answer by the server's receive time; the first answer of a
        player to a question wins and a repeat is answered with the first one's outcome.
        Raises 422 ``invalid_answer``, 404 ``unknown_question``, 409 ``question_closed``."""
        started = time.perf_counter()
        outcome = "refused"
        try:
            answered = await self._submit(
                game, player_id, question_id, selected, client_answered_at
            )
            outcome = answered.submitted.outcome
            return answered
        except QuestionClosed:
            outcome = "closed"
            raise
        except InvalidAnswer:
            outcome = "invalid"
            raise
        finally:
            LIVE_ANSWERS.labels(outcome).inc()
            LIVE_SUBMISSION_LATENCY.observe(time.perf_counter() - started)
            if outcome in ("refused", "closed", "invalid"):
                await self.store.count_error(game.game_id)

    async def _submit(
        self,
        game: GameDef,
        player_id: str,
        question_id: str,
        selected: Any,
        client_answered_at: str | None,
    ) -> AnswerOutcome:
        received = self.now_ms()
        qi = game.index.get(question_id)
        if qi is None:
            raise UnknownQuestion()
        question = game.questions[qi]
        state, raw_streak = await self.store.state_and_streak(game.game_id, player_id)
        if state is None:  # lost with Redis: rebuilt, streaks and all (or the game is over)
            state = await self._state(game)
            raw_streak = await self.store.streak(game.game_id, player_id)
        response = parse_response(question, selected)
        correct = is_correct(question, response) if question.scored else None
        response_ms = max(received - state.qs, 0)
        previous = 0
        if raw_streak:
            streak, last = (int(part) for part in raw_streak.split(b":"))
            previous = streak if last == game.previous_scored(qi) else 0
        awarded = award(
            game.scoring,
            correct=correct,
            response_seconds=response_ms / 1000,
            limit_seconds=question.time_limit_seconds,
            factor=question.factor,
            previous_streak=previous,
        )
        record = {
            "r": response,
            "c": correct,
            "p": awarded.points,
            "ms": response_ms,
            "s": awarded.streak,
            "t": received,
            "a": (client_answered_at or "")[:64] or None,
        }
        submitted = await self.store.submit(
            game.game_id,
            qi=qi,
            qs=state.qs,
            player_id=player_id,
            now_ms=received,
            record=msgspec.json.encode(record),
            points=awarded.points,
            streak=f"{awarded.streak}:{qi}" if correct is not None else "",
            immediate=game.immediate_results,
            ttl_seconds=GAME_STATE_SECONDS,
        )
        if submitted.outcome == "closed":
            raise QuestionClosed("Answers to this question are no longer accepted")
        if submitted.outcome == "unknown_player":
            raise NotFound("You are not a player of this game")
        # A duplicate writes the first answer again: a no-op, unless its first write failed.
        await self.audit.record(_audit_row(game, player_id, qi, question.id, submitted.record))
        if submitted.outcome == "accepted" and submitted.answered >= submitted.players:
            await self.close_question(game, qi)
        return AnswerOutcome(submitted, question.id)


def _audit_row(
    game: GameDef, player_id: str, qi: int, question_id: str, raw: bytes | None
) -> dict[str, Any]:
    record = _record(raw)
    return {
        "game_id": uuid.UUID(game.game_id),
        "player_id": uuid.UUID(player_id),
        "question_index": qi,
        "question_id": question_id,
        "response": record["r"],
        "client_answered_at": record.get("a"),
        "received_at": datetime.fromtimestamp(record["t"] / 1000, UTC),
        "response_ms": record["ms"],
        "correct": record["c"],
        "points": record["p"],
        "streak": record["s"],
    }


def _distribution(question: LiveQuestion, records: Any) -> list[int] | dict[str, int]:
    """How many chose each option, or for typed answers how many were right and wrong."""
    decoded = [_record(raw) for raw in records]
    if question.type in ("single", "truefalse", "poll", "multiple"):
        counts = [0] * len(question.options)
        for record in decoded:
            chosen = record["r"] if isinstance(record["r"], list) else [record["r"]]
            for option in chosen:
                counts[option] += 1
        return counts
    right = sum(1 for record in decoded if record["c"])
    return {"right": right, "wrong": len(decoded) - right}
