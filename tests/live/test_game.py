"""A whole game over real WebSocket connections, on both deployments."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import httpx

from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.helpers import make_person
from tests.live.helpers import (
    SINGLE,
    TEXT,
    TRUE_FALSE,
    host,
    join,
    make_game,
    open_socket,
    player_url,
    run_timers,
)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_whole_game_over_websockets(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    live_server: str,
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE, TRUE_FALSE, TEXT)
    ada = await join(client, game, "Ada")
    bea = await join(client, game, "Bea")
    ada_ws = await open_socket(player_url(live_server, game, ada))
    bea_ws = await open_socket(player_url(live_server, game, bea))
    host_ws = await open_socket(f"ws://{live_server}/ws?quizId={game.code}", teacher.headers)
    welcome = await ada_ws.next("snapshot")
    assert welcome["payload"]["status"] == "lobby"
    assert welcome["payload"]["you"]["name"] == "Ada"
    assert (await host_ws.next("snapshot"))["payload"]["players"] == 2

    await host(client, game, "start")
    countdown = await bea_ws.next("countdown")
    await run_timers(app, clock, countdown["payload"]["seconds"])
    question = await ada_ws.next("new_question")
    payload = question["payload"]
    assert payload["options"] == SINGLE["options"]
    assert "correctOptions" not in payload, "no key before the reveal"
    assert (_time(payload["endTime"]) - _time(payload["startTime"])).total_seconds() == 20

    clock.advance(2)
    await ada_ws.send(
        "answer_submission",
        {"questionId": payload["questionId"], "selectedOption": 1, "answeredAt": "1999-01-01"},
    )
    received = await ada_ws.next("answer_received")
    assert received["payload"] == {"questionId": payload["questionId"], "duplicate": False}
    assert "correct" not in received["payload"]
    clock.advance(3)
    await bea_ws.send(
        "answer_submission", {"questionId": payload["questionId"], "selectedOption": 0}
    )
    # Everyone answered: the question closes at once and is revealed.
    reveal = await host_ws.next("question_revealed")
    assert reveal["payload"]["correctOptions"] == [1]
    assert reveal["payload"]["distribution"] == [1, 1, 0]
    result = await ada_ws.next("answer_result")
    # classic: 100 + time bonus 50 * (1 - 2/20) = 45, no streak yet.
    assert result["payload"] == {
        "questionId": payload["questionId"],
        "answered": True,
        "correct": True,
        "awardedPoints": 145,
        "newScore": 145,
    }
    assert (await bea_ws.next("answer_result"))["payload"]["awardedPoints"] == 0
    board = await bea_ws.next("leaderboard_changed")
    assert [(e["name"], e["score"], e["rank"]) for e in board["payload"]["leaderboard"]] == [
        ("Ada", 145, 1),
        ("Bea", 0, 2),
    ]
    assert board["payload"]["you"] == {"rank": 2, "score": 0}

    await host(client, game, "next")
    second = (await ada_ws.next("new_question"))["payload"]
    await ada_ws.send(
        "answer_submission", {"questionId": second["questionId"], "selectedOption": True}
    )
    await ada_ws.next("answer_received")
    await run_timers(app, clock, 10.001)  # Bea never answers: closed on time
    result = await ada_ws.next(
        "answer_result", lambda m: m["payload"]["questionId"] == second["questionId"]
    )
    # double: 2 * (100 + 50) + streak bonus 10 for one correct answer before.
    assert result["payload"]["awardedPoints"] == 310
    bea_result = await bea_ws.next(
        "answer_result", lambda m: m["payload"]["questionId"] == second["questionId"]
    )
    assert bea_result["payload"]["answered"] is False

    await host(client, game, "next")
    third = (await bea_ws.next("new_question"))["payload"]
    await bea_ws.send(
        "answer_submission", {"questionId": third["questionId"], "selectedOption": " ZEBRA "}
    )
    await bea_ws.next("answer_received")
    await host(client, game, "end")
    ended = await ada_ws.next("quiz_ended")
    final = ended["payload"]["finalLeaderboard"]
    assert [(e["name"], e["score"]) for e in final] == [("Ada", 455), ("Bea", 150)]
    assert ended["payload"]["podium"] == final[:3]
    assert ended["payload"]["you"] == {"rank": 1, "score": 455}
    host_ended = await host_ws.next("quiz_ended")
    assert "you" not in host_ended["payload"]

    for socket in (ada_ws, bea_ws, host_ws):
        ids = socket.event_ids()
        assert ids == sorted(ids), "event ids never go back"
        await socket.connection.close()
    export = await client.get(f"/api/v1/games/{game.id}/export.csv", headers=teacher.headers)
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["name"], r["finalScore"], r["questionIndex"], r["points"]) for r in rows] == [
        ("Ada", "455", "0", "145"),
        ("Ada", "455", "1", "310"),
        ("Bea", "150", "0", "0"),
        ("Bea", "150", "2", "150"),
    ]
    assert rows[0]["clientAnsweredAt"] == "1999-01-01", "recorded, never used"
    assert rows[0]["responseMs"] == "2000", "the server's receive time counts"
