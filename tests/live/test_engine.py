"""The engine under load and at its edges: no lost or doubled answers, closed questions,
isolation between games, reconnects, the long-poll fallback and the timers."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from litestar import WebSocket
from sqlalchemy import select

from studyhall.config import Settings
from studyhall.live import protocol
from studyhall.live.engine import QuestionClosed, channel
from studyhall.live.hub import Listener, _Room
from studyhall.live.models import LiveAnswer, LiveGame, LivePlayer
from studyhall.live.scoring import classic_points
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from studyhall.platform.websockets import FrameWritingProtocol
from tests.helpers import alive, cyclic_collector_off, make_person, until_alive_at_most
from tests.live.helpers import (
    SINGLE,
    TEXT,
    TRUE_FALSE,
    WAIT_SECONDS,
    Game,
    Player,
    engine,
    host,
    join,
    make_game,
    open_socket,
    player_url,
    run_timers,
    runtime,
)

PLAYERS = 500


async def _open_first_question(
    client: httpx.AsyncClient, app: ObservedApp, clock: FakeClock, game: Game
) -> None:
    await host(client, game, "start")
    await run_timers(app, clock, 3)


async def _current_question(app: ObservedApp, game: Game) -> str:
    definition = await engine(app).definition(game.id)
    state = await engine(app).store.state(game.id)
    assert state is not None
    assert state.status == "question"
    return definition.questions[state.qi].id


async def test_500_players_answering_at_once_lose_nothing_and_score_once(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform, clock: FakeClock
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE, TRUE_FALSE)
    players = [
        await join(client, game, f"P{i:03d}", ip=f"10.1.{i // 250}.{i % 250}")
        for i in range(PLAYERS)
    ]
    live = engine(app)
    definition = await live.definition(game.id)
    await _open_first_question(client, app, clock, game)

    async def answer(player: Player, question_id: str, choice: Any) -> str:
        outcome = await live.submit(definition, player.id, question_id, choice, None)
        return outcome.submitted.outcome

    first = await _current_question(app, game)
    # Everyone answers twice in the same millisecond; the second answer differs.
    outcomes = await asyncio.gather(
        *(answer(p, first, i % 3) for i, p in enumerate(players)),
        *(answer(p, first, (i + 1) % 3) for i, p in enumerate(players)),
    )
    assert outcomes.count("accepted") == PLAYERS
    assert outcomes.count("duplicate") == PLAYERS
    state = await live.store.state(game.id)
    assert state is not None
    assert state.status == "reveal", "everyone answered: closed at once"

    await host(client, game, "next")
    clock.advance(3)
    second = await _current_question(app, game)
    half = players[: PLAYERS // 2]
    outcomes = await asyncio.gather(*(answer(p, second, i % 2 == 0) for i, p in enumerate(half)))
    assert set(outcomes) == {"accepted"}
    await host(client, game, "end")

    async with platform.sessions() as session:
        rows = (
            await session.scalars(
                select(LiveAnswer).where(LiveAnswer.game_id == uuid.UUID(game.id))
            )
        ).all()
        final = {
            str(p.id): (p.final_score, p.final_rank)
            for p in await session.scalars(
                select(LivePlayer).where(LivePlayer.game_id == uuid.UUID(game.id))
            )
        }
    assert len(rows) == PLAYERS + PLAYERS // 2
    # An independent recomputation from what was persisted, by the rules of seed 003.
    keys = {0: (SINGLE["correctOptions"][0], 1), 1: (0, 2)}
    recomputed = dict.fromkeys(final, 0)
    streaks = dict.fromkeys(final, 0)
    for row in sorted(rows, key=lambda r: r.question_index):
        key, factor = keys[row.question_index]
        player = str(row.player_id)
        correct = row.response == key
        if row.question_index == 1 and not any(
            r.player_id == row.player_id and r.question_index == 0 for r in rows
        ):
            streaks[player] = 0
        points = classic_points(
            correct=correct,
            response_seconds=row.response_ms / 1000,
            previous_streak=streaks[player],
            factor=factor,
        )
        assert (row.correct, row.points) == (correct, points)
        recomputed[player] += points
        streaks[player] = streaks[player] + 1 if correct else 0
    assert {player: score for player, (score, _) in final.items()} == recomputed
    top, everyone = await live.leaderboard(game.id)
    assert {player: score for player, (_, score) in everyone.items()} == recomputed
    assert top[0]["score"] == max(recomputed.values())
    # What a screen reads on its own (top, and one player's place) agrees with the whole.
    assert await live.top(game.id) == top
    for player in list(everyone)[::7]:
        assert await live.standing(game.id, player) == everyone[player]
    assert sum(1 for r in rows if r.question_index == 0 and r.response_ms == 0) == PLAYERS
    metrics = (await client.get("/metrics")).text
    assert "studyhall_answers_submitted_total" in metrics
    assert "studyhall_quiz_submission_latency_seconds_bucket" in metrics


async def test_answers_after_the_end_time_are_refused(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    live_server: str,
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE, TEXT)
    ada = await join(client, game, "Ada")
    await join(client, game, "Bea")
    socket = await open_socket(player_url(live_server, game, ada))
    await _open_first_question(client, app, clock, game)
    question = (await socket.next("new_question"))["payload"]
    clock.advance(20.001)  # past endTime, before any timer closed the question
    await socket.send(
        "answer_submission", {"questionId": question["questionId"], "selectedOption": 1}
    )
    refused = await socket.next("error")
    assert refused["payload"]["reason"] == "question_closed"
    await run_timers(app, clock, 0)
    result = await socket.next("answer_result")
    assert (result["payload"]["answered"], result["payload"]["awardedPoints"]) == (False, 0)
    await socket.send(
        "answer_submission", {"questionId": question["questionId"], "selectedOption": 1}
    )
    assert (await socket.next("error"))["payload"]["reason"] == "question_closed"
    await socket.send("answer_submission", {"questionId": "nope", "selectedOption": 1})
    assert (await socket.next("error"))["payload"]["reason"] == "unknown_question"
    await socket.send("whatever", {})
    assert (await socket.next("error"))["payload"]["reason"] == "unknown_message"
    await socket.connection.send("not json")
    assert (await socket.next("error"))["payload"]["reason"] == "malformed_message"
    await socket.send("heartbeat")
    await socket.next("heartbeat_ack")
    await socket.connection.close()


async def test_a_duplicate_answer_is_acknowledged_and_never_scored_twice(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    live_server: str,
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE, answerResult="immediate")
    ada = await join(client, game, "Ada")
    await join(client, game, "Bea")
    socket = await open_socket(player_url(live_server, game, ada))
    await _open_first_question(client, app, clock, game)
    question = (await socket.next("new_question"))["payload"]
    for choice in (1, 0, 1):
        await socket.send(
            "answer_submission", {"questionId": question["questionId"], "selectedOption": choice}
        )
    results = [(await socket.next("answer_result"))["payload"] for _ in range(3)]
    assert (
        results
        == [
            {
                "questionId": question["questionId"],
                "correct": True,
                "awardedPoints": 150,
                "newScore": 150,
            }
        ]
        * 3
    )
    over_http = await client.post(
        f"/api/v1/quizzes/{game.code}/answers",
        json={
            "participantId": ada.id,
            "resumeToken": ada.token,
            "questionId": question["questionId"],
            "selectedOption": 0,
        },
    )
    assert over_http.json() == {
        "questionId": question["questionId"],
        "accepted": True,
        "duplicate": True,
        "result": results[0],
    }
    _, everyone = await engine(app).leaderboard(game.id)
    assert everyone[ada.id] == (1, 150)
    await socket.connection.close()


async def test_events_of_one_game_never_reach_another(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    live_server: str,
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    first = await make_game(client, teacher, SINGLE)
    second = await make_game(client, teacher, TRUE_FALSE)
    ada = await join(client, first, "Ada")
    bea = await join(client, second, "Bea")
    await join(client, second, "Cy")
    ada_ws = await open_socket(player_url(live_server, first, ada))
    bea_ws = await open_socket(player_url(live_server, second, bea))
    forged = await open_socket(player_url(live_server, first, Player(bea.id, bea.token, "Bea")))
    assert (await forged.next("error"))["payload"]["reason"] == "unknown_participant"
    await _open_first_question(client, app, clock, second)
    question = (await bea_ws.next("new_question"))["payload"]
    await bea_ws.send(
        "answer_submission", {"questionId": question["questionId"], "selectedOption": True}
    )
    await host(client, second, "end")
    await bea_ws.next("quiz_ended")
    await _open_first_question(client, app, clock, first)
    mine = (await ada_ws.next("new_question"))["payload"]
    definition = await engine(app).definition(first.id)
    assert mine["questionId"] == definition.questions[0].id
    # Her own game's player count (one: her) may come whenever a tick runs.
    kinds = [m["type"] for m in ada_ws.seen if m["payload"] != {"players": 1}]
    assert kinds == ["snapshot", "countdown", "new_question"], "nothing of the other game"
    for socket in (ada_ws, bea_ws):
        await socket.connection.close()


async def test_a_game_socket_is_freed_without_the_cyclic_collector(
    client: httpx.AsyncClient, platform: Platform, live_server: str, deployment: str
) -> None:
    """Once closed, a played socket and a refused one leave nothing for the cyclic
    collector, nor does the game's room on this node once its last socket went."""
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE)
    ada = await join(client, game, "Ada")
    kinds: tuple[type, ...] = (WebSocket, FrameWritingProtocol, Listener)
    if deployment == "embedded":
        # With Redis, each new connection's handshake has redis-py handle the error
        # replies of Redis 7.0 to CLIENT SETINFO: its own cycle, holding the task that
        # connected, here the room's reader of its new subscription.
        kinds += (_Room,)
    with cyclic_collector_off():
        before = alive(*kinds)
        played = await open_socket(player_url(live_server, game, ada))
        await played.next("snapshot")
        stranger = Player(str(uuid.uuid4()), ada.token, "Stranger")
        refused = await open_socket(player_url(live_server, game, stranger))
        await refused.next("error")
        for socket in (played, refused):
            await socket.connection.close()
        left = await until_alive_at_most(before, *kinds)
    assert not left, f"still alive after their sockets closed: {left}"


async def test_a_reconnect_replays_what_was_missed_and_a_refresh_keeps_score_and_streak(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    live_server: str,
    settings: Settings,
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE, TRUE_FALSE, TEXT)
    ada = await join(client, game, "Ada")
    await join(client, game, "Bea")
    socket = await open_socket(player_url(live_server, game, ada))
    await _open_first_question(client, app, clock, game)
    question = (await socket.next("new_question"))["payload"]
    await socket.send(
        "answer_submission", {"questionId": question["questionId"], "selectedOption": 1}
    )
    await socket.next("answer_received")
    last_seen = socket.last_event_id
    await socket.connection.close()

    await host(client, game, "next")  # reveal while Ada is away
    await host(client, game, "next")  # and the next question
    back = await open_socket(player_url(live_server, game, ada, last_event_id=last_seen))
    revealed = await back.next("question_revealed")
    assert (await back.next("answer_result"))["payload"]["awardedPoints"] == 150
    again = (await back.next("new_question"))["payload"]
    assert again["index"] == 1
    replayed = [m["eventId"] for m in back.seen]
    assert replayed == sorted(replayed)
    assert replayed[0] > last_seen
    assert revealed["eventId"] > last_seen
    await back.send("answer_submission", {"questionId": again["questionId"], "selectedOption": 0})
    await back.next("answer_received")
    await back.connection.close()

    refreshed = await open_socket(player_url(live_server, game, ada))
    you = (await refreshed.next("snapshot"))["payload"]["you"]
    assert (you["name"], you["score"], you["streak"], you["answeredCurrent"]) == (
        "Ada",
        150,
        2,
        True,
    )
    await refreshed.connection.close()

    engine(app).settings = settings.with_overrides(live_event_log_size=2)
    for _ in range(3):
        await host(client, game, "next")
    gone = await open_socket(player_url(live_server, game, ada, last_event_id=last_seen))
    snapshot = (await gone.next("snapshot"))["payload"]
    assert snapshot["question"]["index"] == 2
    assert snapshot["you"]["score"] == 150 + 310
    await gone.connection.close()


async def test_the_long_poll_and_http_answers_play_the_same_game(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform, clock: FakeClock
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE)
    ada = await join(client, game, "Ada")
    await join(client, game, "Bea")
    await engine(app).tick()  # the player count goes out now, not during the wait below
    who = f"participantId={ada.id}&resumeToken={ada.token}"
    events = f"/api/v1/quizzes/{game.code}/events?{who}"
    first = (await client.get(f"{events}&wait=0")).json()
    assert [e["type"] for e in first["events"]] == ["snapshot"]
    after = first["lastEventId"]
    waiting = asyncio.create_task(client.get(f"{events}&after={after}&wait=10"))
    await asyncio.sleep(0.2)
    await host(client, game, "start")
    countdown = (await waiting).json()
    assert [e["type"] for e in countdown["events"]] == ["countdown"]
    await run_timers(app, clock, 3)
    polled = (await client.get(f"{events}&after={countdown['lastEventId']}&wait=0")).json()
    question = next(e for e in polled["events"] if e["type"] == "new_question")["payload"]
    body = {
        "participantId": ada.id,
        "resumeToken": ada.token,
        "questionId": question["questionId"],
        "selectedOption": 1,
    }
    answered = await client.post(f"/api/v1/quizzes/{game.code}/answers", json=body)
    assert answered.json() == {
        "questionId": question["questionId"],
        "accepted": True,
        "duplicate": False,
        "result": None,
    }
    bad_token = await client.post(
        f"/api/v1/quizzes/{game.code}/answers", json={**body, "resumeToken": "x"}
    )
    assert bad_token.status_code == 404
    await run_timers(app, clock, 20.001)
    late = await client.post(
        f"/api/v1/quizzes/{game.code}/answers", json={**body, "participantId": str(uuid.uuid4())}
    )
    assert late.status_code == 404
    polled = (await client.get(f"{events}&after={polled['lastEventId']}&wait=0")).json()
    kinds = [e["type"] for e in polled["events"]]
    assert "question_revealed" in kinds
    result = next(e for e in polled["events"] if e["type"] == "answer_result")["payload"]
    assert result["correct"] is True
    assert result["newScore"] == 150
    anonymous = await client.get(f"/api/v1/quizzes/{game.code}/events?wait=0")
    assert anonymous.status_code == 404


async def test_auto_start_and_auto_advance_play_a_game_by_themselves(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform, clock: FakeClock
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE, TRUE_FALSE, autoStart=True, autoAdvance=True)
    live = engine(app)
    for name in ("Ada", "Bea"):
        await join(client, game, name)
    await run_timers(app, clock, 60)
    assert (await live.store.state(game.id)).status == "lobby", "two players are not enough"  # type: ignore[union-attr]
    await join(client, game, "Cy")
    assert (await live.store.state(game.id)).status == "countdown"  # type: ignore[union-attr]
    await run_timers(app, clock, 5)
    assert (await live.store.state(game.id)).status == "question"  # type: ignore[union-attr]
    async with platform.sessions() as session:
        row = await session.get_one(LiveGame, uuid.UUID(game.id))
    assert (row.status, row.question_index) == ("running", 0), "started with no host's start"
    assert row.started_at is not None
    await run_timers(app, clock, 20.001)
    assert (await live.store.state(game.id)).status == "reveal"  # type: ignore[union-attr]
    await run_timers(app, clock, 5)
    state = await live.store.state(game.id)
    assert state is not None
    assert (state.status, state.qi) == ("question", 1)
    await run_timers(app, clock, 10.001)
    await run_timers(app, clock, 5)
    assert (await live.store.state(game.id)).status == "ended"  # type: ignore[union-attr]
    view = (await client.get(f"/api/v1/games/{game.id}", headers=teacher.headers)).json()
    assert view["status"] == "ended"


async def test_a_closed_question_refuses_the_engine_too(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform, clock: FakeClock
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE)
    ada = await join(client, game, "Ada")
    await join(client, game, "Bea")
    await _open_first_question(client, app, clock, game)
    question = await _current_question(app, game)
    await host(client, game, "next")
    definition = await engine(app).definition(game.id)
    try:
        await engine(app).submit(definition, ada.id, question, 1, None)
    except QuestionClosed:
        pass
    else:
        raise AssertionError("an answer to a closed question was taken")


async def test_a_leaderboard_change_reaches_only_those_it_concerns(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    live_server: str,
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE, answerResult="immediate")
    players = [await join(client, game, f"P{i:02d}") for i in range(12)]
    ada, bea, zed = players[0], players[1], players[11]
    ada_ws = await open_socket(player_url(live_server, game, ada))
    await ada_ws.next("snapshot")
    await _open_first_question(client, app, clock, game)
    question = await _current_question(app, game)
    live = engine(app)
    definition = await live.definition(game.id)
    for player, choice in ((ada, 1), (zed, 0), (bea, 1)):
        await live.submit(definition, player.id, question, choice, None)
        await live.tick()

    async def boards_logged() -> list[int]:
        frames, _ = await live.store.log_after(game.id, 0)
        headers = map(protocol.header, frames)
        return [event_id for kind, event_id in headers if kind == "leaderboard_changed"]

    # The background tick may have taken one of them and still be publishing it.
    async with asyncio.timeout(WAIT_SECONDS):
        while len(boards := await boards_logged()) < 3:
            await asyncio.sleep(0.01)
    assert len(boards) == 3
    seen = [(await ada_ws.next("leaderboard_changed"))["eventId"] for _ in range(2)]
    # Zed's wrong answer moved neither the top ten nor Ada: she never got that one.
    assert seen == [boards[0], boards[2]]
    await ada_ws.connection.close()


async def test_a_node_delivers_a_games_events_in_id_order(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher)
    ada = await join(client, game, "Ada")
    live = runtime(app)
    await live.engine.tick()  # its player count: no tick takes an id of those below
    listener = Listener(ada.id)
    await live.hub.attach(await live.engine.definition(game.id), listener)
    state = await live.engine.store.state(game.id)
    assert state is not None
    # Published the other way round (two nodes), and one id never published (a dead node).
    for event_id in (state.seq + 2, state.seq + 1, state.seq + 4):
        frame = protocol.encode("player_count", event_id, {"players": 1})
        await platform.pubsub.publish(channel(game.id), frame)
    async with asyncio.timeout(WAIT_SECONDS):
        got = [protocol.header(await listener.queue.get())[1] for _ in range(3)]
    assert got == [state.seq + 1, state.seq + 2, state.seq + 4]
    live.hub.detach(game.id, listener)
