"""The operators' view of live games: every running game, its players and its pace.

Counts come from the game store, so every node sees the whole cluster's games. Rates
are differences between two reads of those counters: each node keeps the previous read
of each game it was asked about, so a dashboard polling every few seconds gets the rate
over its own polling interval (over a longer one when its polls land on several nodes).
"""

from __future__ import annotations

import uuid

from studyhall.live.engine import LiveEngine
from studyhall.live.schemas import LiveGameOpsOut, LiveOpsOut
from studyhall.platform.auth import Actor
from studyhall.platform.errors import NotFound

SAMPLES_KEPT = 1000


class Rates:
    """The previous ``(seconds, answers, errors)`` read of each game, on this node."""

    def __init__(self) -> None:
        self._previous: dict[str, tuple[float, int, int]] = {}

    def per_second(
        self, game_id: str, now: float, answers: int, errors: int
    ) -> tuple[float, float]:
        previous = self._previous.get(game_id)
        self._previous[game_id] = (now, answers, errors)
        if len(self._previous) > SAMPLES_KEPT:
            del self._previous[next(iter(self._previous))]
        if previous is None or now <= previous[0]:
            return 0.0, 0.0
        elapsed = now - previous[0]
        return (answers - previous[1]) / elapsed, (errors - previous[2]) / elapsed


async def live_games(engine: LiveEngine, rates: Rates, actor: Actor) -> LiveOpsOut:
    """Every game not over, busiest first; admins only (404 for anyone else)."""
    if not actor.is_admin:
        raise NotFound("No such page")
    now = engine.clock.timestamp()
    games = []
    for game_id in await engine.store.active():
        state = await engine.store.state(game_id)
        if state is None or state.status == "ended":
            continue
        try:
            definition = await engine.definition(game_id)
        except NotFound:  # its quiz was deleted while it ran
            continue
        answers_rate, errors_rate = rates.per_second(game_id, now, state.total, state.errors)
        games.append(
            LiveGameOpsOut(
                game_id=uuid.UUID(game_id),
                title=definition.title,
                join_code=definition.join_code,
                status=state.status,
                question_index=state.qi,
                question_count=len(definition.questions),
                players=state.players,
                answers=state.total,
                answers_per_second=round(answers_rate, 2),
                errors=state.errors,
                errors_per_second=round(errors_rate, 2),
                last_event_id=state.seq,
            )
        )
    games.sort(key=lambda game: (-game.players, game.join_code))
    return LiveOpsOut(
        games=games,
        players=sum(game.players for game in games),
        answers_per_second=round(sum(game.answers_per_second for game in games), 2),
        errors=sum(game.errors for game in games),
    )
