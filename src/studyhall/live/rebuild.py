"""A lost game's hot state, rebuilt from the database so the game goes on.

Redis keeps nothing on disk in the scaled deployment, so a Redis restart loses every
running game's hot state (the embedded store loses it with its process). The database
keeps what it takes to go on: whether the game started, its players (kicked ones are
marked), and every accepted answer with its points, streak, server receive time and
response time. From those:

- scores are the sums of the answers' points (the current question's are held for its
  reveal unless the quiz shows results at once), streaks the latest scored answer's;
- the current question is the last one opened, which the game's row records with its
  server start as it opens (for a game saved before that column, the last one answered,
  started at receive time minus response time), so it stays open until its own end and
  then closes, scores and reveals as usual, answered or not; a started game whose first
  question never opened restarts from its countdown;
- event ids go on from the rebuild's time in microseconds, above any id the game took
  before the loss (that would take more than one event per microsecond), so every
  screen's "newer than what I saw" check keeps working; the old event log is gone, so
  reconnecting screens get a snapshot.

One node rebuilds a game at a time (a claim with an expiry, ``SET NX``); the others wait
for its result.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING, Any

import msgspec

from studyhall.live import repository
from studyhall.live.models import KICKED_PREFIX, LiveAnswer
from studyhall.live.store import GameImage, GameState, fresh_state

if TYPE_CHECKING:
    from studyhall.live.engine import GameDef, LiveEngine

CLAIM_SECONDS = 5.0
"""How long a node may take to rebuild a game before another node may try."""
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05
REBUILT_IDS_PER_MS = 1000


def record_of(answer: LiveAnswer) -> bytes:
    """The hot store's record of an answer (the inverse of the audit row made from it)."""
    return msgspec.json.encode(
        {
            "r": answer.response,
            "c": answer.correct,
            "p": answer.points,
            "ms": answer.response_ms,
            "s": answer.streak,
            "t": round(answer.received_at.timestamp() * 1000),
            "a": answer.client_answered_at,
        }
    )


def image_of(
    game: GameDef,
    *,
    started: bool,
    players: list[tuple[str, str, bool]],
    answers: list[LiveAnswer],
    opened: tuple[int, int] | None,
    now_ms: int,
    auto_start_at: int,
    threshold: int,
) -> GameImage:
    """The hot state of ``game`` from its ``(id, name, kicked)`` players, its answers and
    the ``(index, server start ms)`` of the question opened last, if recorded."""
    names = {player: name for player, name, kicked in players if not kicked}
    kicked = [player for player, _, out in players if out]
    qi = max((answer.question_index for answer in answers), default=-1)
    if opened is not None and opened[0] >= qi:
        qi, starts = opened
    elif qi >= 0:
        starts = max(
            round(answer.received_at.timestamp() * 1000) - answer.response_ms
            for answer in answers
            if answer.question_index == qi
        )
    scores = dict.fromkeys(names, 0)
    streaks: dict[str, str] = {}
    current: dict[str, bytes] = {}
    pending: dict[str, int] = {}
    for answer in answers:
        player = str(answer.player_id)
        if answer.question_index == qi:
            current[player] = record_of(answer)
        if player not in names:
            continue
        if answer.question_index == qi and not game.immediate_results:
            pending[player] = answer.points
        else:
            scores[player] += answer.points
        if answer.correct is not None:
            streaks[player] = f"{answer.streak}:{answer.question_index}"
    state: dict[str, Any] = fresh_state()
    state |= {
        "seq": now_ms * REBUILT_IDS_PER_MS,
        "players": len(names),
        "total": len(answers),
        "dirty": 1,
    }
    if qi >= 0:
        ends = starts + game.questions[qi].time_limit_seconds * 1000
        answered = sum(1 for player in current if player in names)
        state |= {"status": "question", "qi": qi, "qs": starts, "qe": ends, "deadline": ends}
        state |= {"answered": answered, "counted": answered}
    elif started:
        state |= {"status": "countdown", "deadline": now_ms}
    elif auto_start_at and len(names) > threshold:
        state |= {"status": "countdown", "deadline": auto_start_at}
    return GameImage(state, names, scores, streaks, current, pending, kicked)


async def revive(
    engine: LiveEngine, game_id: str, *, threshold: int, ttl_seconds: float
) -> GameState | None:
    """The game's state, rebuilt if the database says the game is still on; None for a
    game that is over (or unknown). Waits while another node rebuilds it."""
    async with engine.platform.sessions() as session:
        row = await repository.game_by_id(session, uuid.UUID(game_id))
        if row is None or row.status == "ended":
            return None
        started = row.status != "lobby"
    opened = None
    if row.question_index is not None and row.question_started_ms is not None:
        opened = (row.question_index, row.question_started_ms)
    gives_up = time.monotonic() + WAIT_SECONDS
    while True:
        if await engine.store.claim_rebuild(game_id, engine.node, CLAIM_SECONDS):
            game = await engine.definition(game_id)
            await engine.audit.flush()  # this node's answers still on their way
            async with engine.platform.sessions() as session:
                players = await repository.players_of(session, uuid.UUID(game_id))
                answers = list(await repository.answers_of(session, uuid.UUID(game_id)))
            image = image_of(
                game,
                started=started,
                players=[
                    (str(player.id), player.name, player.name_key.startswith(KICKED_PREFIX))
                    for player in players
                ],
                answers=answers,
                opened=opened,
                now_ms=engine.now_ms(),
                auto_start_at=engine.auto_start_at(game),
                threshold=threshold,
            )
            await engine.store.restore(game_id, image, ttl_seconds)
        state = await engine.store.state(game_id)
        if state is not None or time.monotonic() > gives_up:
            return state
        await asyncio.sleep(POLL_SECONDS)
