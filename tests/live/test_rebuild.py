"""A game whose hot state is lost mid-game (Redis restarted empty; in the embedded
deployment, the process's store) is rebuilt from the database and goes on."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import select

from studyhall.config import Settings
from studyhall.live.engine import LiveEngine
from studyhall.live.models import LiveAnswer, LivePlayer
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.helpers import make_person
from tests.live.helpers import (
    SINGLE,
    TEXT,
    TRUE_FALSE,
    Game,
    Player,
    engine,
    host,
    join,
    make_game,
    open_socket,
    player_url,
    run_timers,
)
from tests.services import REDIS_URL


async def lose_hot_state(live: LiveEngine, settings: Settings) -> None:
    """What a Redis restart without persistence does to the games (or, embedded, a
    restart of the process does to its store): every game's hot state is gone."""
    if settings.redis_url is None:
        await live.store.close()
        return
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{settings.redis_prefix}live:*")]
        assert keys
        await client.delete(*keys)
    finally:
        await client.aclose()


async def _answer(live: LiveEngine, game: Game, player: Player, choice: Any) -> str:
    definition = await live.definition(game.id)
    state = await live.store.state(game.id)
    assert state is not None
    question = definition.questions[state.qi].id
    outcome = await live.submit(definition, player.id, question, choice, None)
    return outcome.submitted.outcome


async def recomputed(platform: Platform, game: Game) -> dict[str, int]:
    """Each player's score from the persisted answers alone (kicked players are out)."""
    game_id = uuid.UUID(game.id)
    async with platform.sessions() as session:
        players = (
            await session.scalars(select(LivePlayer).where(LivePlayer.game_id == game_id))
        ).all()
        answers = (
            await session.scalars(select(LiveAnswer).where(LiveAnswer.game_id == game_id))
        ).all()
    scores = {str(p.id): 0 for p in players if not p.name_key.startswith("kicked:")}
    for answer in answers:
        if str(answer.player_id) in scores:
            scores[str(answer.player_id)] += answer.points
    return scores


async def test_a_game_goes_on_after_its_hot_state_is_lost(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    settings: Settings,
    live_server: str,
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE, TRUE_FALSE, TEXT)
    ada, bea, cy, dee = [await join(client, game, name) for name in ("Ada", "Bea", "Cy", "Dee")]
    live = engine(app)
    await host(client, game, "start")
    await run_timers(app, clock, 3)
    for player, choice in ((ada, 1), (bea, 0), (cy, 1), (dee, 1)):
        clock.advance(2)
        assert await _answer(live, game, player, choice) == "accepted"
    revealed = await live.store.state(game.id)
    assert revealed is not None
    assert revealed.status == "reveal", "everyone answered: the question closed"
    kicked = await client.post(
        f"/api/v1/games/{game.id}/players/{dee.id}/kick", headers=teacher.headers
    )
    assert kicked.status_code == 200, kicked.text
    await host(client, game, "next")
    clock.advance(1)
    assert await _answer(live, game, ada, 0) == "accepted"  # true/false: right
    clock.advance(1)
    assert await _answer(live, game, bea, 1) == "accepted"  # wrong
    before = await live.store.standings(game.id)
    before_state = await live.store.state(game.id)
    assert before_state is not None
    before_streak = await live.store.streak(game.id, ada.id)
    assert before_streak is not None

    await lose_hot_state(live, settings)
    assert await live.store.state(game.id) is None
    restores = Counter[bool]()
    restore = live.store.restore

    async def counted(*args: Any, **kwargs: Any) -> bool:
        restores[done := await restore(*args, **kwargs)] += 1
        return done

    live.store.restore = counted  # type: ignore[method-assign]
    states = await asyncio.gather(*(live.state(game.id) for _ in range(8)))
    assert restores[True] == 1, "one rebuild however many ask at once"
    state = states[0]
    assert state is not None
    assert all(other is not None and other.qs == state.qs for other in states)
    assert (state.status, state.qi, state.players, state.answered) == ("question", 1, 3, 2)
    assert (state.qs, state.qe) == (before_state.qs, before_state.qe), "same question clock"
    assert state.seq > before_state.seq, "event ids never go back"
    assert await live.store.standings(game.id) == before, "scores intact"
    assert await live.store.kicked(game.id, dee.id)
    assert await live.store.streak(game.id, ada.id) == before_streak

    # A player coming back from before the loss gets a snapshot of the rebuilt game.
    ada_ws = await open_socket(player_url(live_server, game, ada, before_state.seq))
    snapshot = (await ada_ws.next("snapshot"))["payload"]
    assert snapshot["status"] == "question"
    assert snapshot["question"]["index"] == 1
    assert snapshot["you"]["answeredCurrent"] is True
    assert snapshot["you"]["score"] == dict(before)[ada.id]
    assert snapshot["you"]["streak"] == int(before_streak.split(b":")[0]) == 2

    # The open question goes on: the first answer still wins, the last one closes it.
    assert await _answer(live, game, ada, 1) == "duplicate"
    clock.advance(1)
    assert await _answer(live, game, cy, 0) == "accepted"
    revealed = await ada_ws.next("question_revealed")
    assert revealed["eventId"] > before_state.seq
    assert revealed["payload"]["distribution"] == [2, 1]
    result = (await ada_ws.next("answer_result"))["payload"]
    assert result["correct"] is True
    assert result["newScore"] == dict(before)[ada.id] + result["awardedPoints"] > 0

    # And the next question works.
    view = await host(client, game, "next")
    assert (view["status"], view["questionIndex"]) == ("question", 2)
    for player, text in ((ada, "zebra"), (bea, "horse"), (cy, " Zebra ")):
        clock.advance(3)
        assert await _answer(live, game, player, text) == "accepted"
    assert (await host(client, game, "next"))["status"] == "ended"
    final = (await ada_ws.next("quiz_ended"))["payload"]["finalLeaderboard"]
    expected = await recomputed(platform, game)
    assert {entry["participantId"]: entry["score"] for entry in final} == expected
    assert expected[cy.id] > 0 == expected[bea.id], "all wrong scores nothing"
    async with platform.sessions() as session:
        saved = (
            await session.scalars(
                select(LivePlayer).where(LivePlayer.game_id == uuid.UUID(game.id))
            )
        ).all()
    assert {str(p.id): p.final_score for p in saved if str(p.id) in expected} == expected
    await ada_ws.connection.close()


async def test_a_lost_lobby_comes_back_and_an_ended_game_stays_over(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform, settings: Settings
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    lobby = await make_game(client, teacher)
    over = await make_game(client, teacher)
    ada = await join(client, lobby, "Ada")
    await host(client, over, "end")
    live = engine(app)
    await lose_hot_state(live, settings)
    bea = await join(client, lobby, "Bea")
    retaken = await client.post(
        f"/api/v1/quizzes/{lobby.code}/join", json={"participantName": "ada"}
    )
    assert (retaken.status_code, retaken.json()["code"]) == (409, "name_taken")
    assert await live.store.roster(lobby.id) == {ada.id: "Ada", bea.id: "Bea"}
    view = (await client.get(f"/api/v1/games/{lobby.id}", headers=teacher.headers)).json()
    assert (view["status"], view["players"]) == ("lobby", 2)
    assert await live.state(over.id) is None
    gone = await client.post(f"/api/v1/quizzes/{over.code}/join", json={"participantName": "Cy"})
    assert (gone.status_code, gone.json()["code"]) == (404, "game_not_found")


async def test_a_question_nobody_answered_yet_stays_open_after_the_loss(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    settings: Settings,
) -> None:
    """The open question is recorded as it opens, so a rebuild goes on with it, on its
    own clock, even before its first answer: neither the previous question nor a fresh
    clock comes back."""
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE, TRUE_FALSE)
    ada, bea = [await join(client, game, name) for name in ("Ada", "Bea")]
    live = engine(app)
    await host(client, game, "start")
    await run_timers(app, clock, 3)
    for index, answers in enumerate(((ada, 1), (bea, 0)) for _ in range(2)):
        opened = await live.store.state(game.id)
        assert opened is not None
        assert (opened.status, opened.qi) == ("question", index)
        clock.advance(2)
        await lose_hot_state(live, settings)
        rebuilt = await live.state(game.id)
        assert rebuilt is not None
        assert (rebuilt.status, rebuilt.qi, rebuilt.answered) == ("question", index, 0)
        assert (rebuilt.qs, rebuilt.qe) == (opened.qs, opened.qe), "the same question clock"
        for player, choice in answers:
            assert await _answer(live, game, player, choice) == "accepted"
        closed = await live.store.state(game.id)
        assert closed is not None
        assert (closed.status, closed.qi) == ("reveal", index)
        if index == 0:
            view = await host(client, game, "next")
            assert (view["status"], view["questionIndex"]) == ("question", 1)
    assert dict(await live.store.standings(game.id)) == await recomputed(platform, game)
