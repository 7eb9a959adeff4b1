"""``studyhall loadtest live`` against a real server: every bot joins, answers and finishes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import cast

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.sync.server import ServerConnection, serve

from studyhall.cli import main
from studyhall.config import Settings
from studyhall.live.loadtest import KERNEL_STAMPS, LoadConfig, StampedConnection, run
from studyhall.live.models import LiveAnswer, LiveGame, LivePlayer
from studyhall.platform.auth import Role
from studyhall.platform.runtime import Platform
from tests.helpers import make_person

PLAYERS = 25
QUESTIONS = 2
BURST = 200


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Timers run on the tests' fake clock: no countdown, so the run's start opens the
    first question at once."""
    return settings.with_overrides(live_countdown_seconds=0)


async def test_the_load_test_plays_a_whole_game_and_measures_it(
    platform: Platform, live_server: str
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    config = LoadConfig(
        base=f"http://{live_server}",
        players=PLAYERS,
        questions=QUESTIONS,
        token=teacher.token,
        answer_window=0.2,
    )
    report = await run(config)
    assert (report.joined, report.connected, report.finished) == (PLAYERS,) * 3
    assert not report.errors, report.errors
    assert len(report.join.values) == PLAYERS
    assert len(report.ack.values) == PLAYERS * QUESTIONS, "every answer acknowledged once"
    assert len(report.fanout.values) == PLAYERS * QUESTIONS
    assert len(report.fanout_last.values) == QUESTIONS
    assert len(report.leaderboard.values) >= PLAYERS, "the first board reaches everyone"
    assert report.server_fanout is not None, "the server's own share, read from /metrics"
    assert 0 < report.server_fanout < max(report.fanout_last.values), "within the client's"
    async with platform.sessions() as session:
        game_id = await session.scalar(
            select(LiveGame.id)
            .join(LivePlayer, LivePlayer.game_id == LiveGame.id)
            .where(LivePlayer.name == "Bot 00000", LiveGame.host_id == teacher.id)
        )
        answers = await session.scalar(
            select(func.count()).select_from(LiveAnswer).where(LiveAnswer.game_id == game_id)
        )
        status = await session.scalar(select(LiveGame.status).where(LiveGame.id == game_id))
    assert answers == PLAYERS * QUESTIONS
    assert status == "ended"
    assert any(line.startswith("answer ack") for line in report.lines())


async def test_the_command_prints_the_percentiles(platform: Platform, live_server: str) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    arguments = ["loadtest", "live", "--players", "3", "--questions", "1"]
    arguments += ["--host", f"http://{live_server}", "--token", teacher.token]
    result = await asyncio.to_thread(CliRunner().invoke, main, [*arguments, "--answer-window", "0"])
    assert result.exit_code == 0, result.output
    assert "joined 3, connected 3, finished 3" in result.output
    assert "errors: none" in result.output
    refused = await asyncio.to_thread(
        CliRunner().invoke, main, ["loadtest", "live", "--players", "1", "--host", "http://x"]
    )
    assert refused.exit_code != 0
    assert "--token" in refused.output


@pytest.fixture
def replying_server() -> Iterator[tuple[str, threading.Event]]:
    """A WebSocket server on its own thread: it answers one message (``ping`` with
    ``pong``, ``burst`` with ``BURST`` numbered messages), then closes. The event is set
    once the reply is sent, so a test can block its own loop past that moment."""
    replied = threading.Event()

    def reply(connection: ServerConnection) -> None:
        if connection.recv() == "ping":
            connection.send("pong")
        else:
            for number in range(BURST):
                connection.send(str(number))
        replied.set()
        connection.close()

    with serve(reply, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}", replied
        server.shutdown()
        thread.join()


@pytest.mark.skipif(KERNEL_STAMPS is None, reason="no kernel receive stamps here")
async def test_a_frame_is_stamped_when_it_arrived_not_when_a_busy_client_read_it(
    replying_server: tuple[str, threading.Event],
) -> None:
    url, replied = replying_server
    connection = cast(StampedConnection, await connect(url, create_connection=StampedConnection))
    await connection.send("ping")
    # This client busy, its loop blocked, from before the reply arrives until after.
    replied.wait(10)
    time.sleep(0.2)
    unblocked = time.perf_counter()
    assert await connection.recv() == "pong"
    stamp = connection.arrival()
    assert stamp.arrived < unblocked <= stamp.read
    async with asyncio.timeout(10):  # the server's close is read through the same path
        await connection.wait_closed()


async def test_a_stamped_connection_that_pauses_for_a_full_queue_reads_on_after(
    replying_server: tuple[str, threading.Event],
) -> None:
    url, replied = replying_server
    connection = cast(
        StampedConnection,
        await connect(url, create_connection=StampedConnection, max_queue=4),
    )
    await connection.send("burst")
    replied.wait(10)  # every message sent before this client reads one: its queue fills
    async with asyncio.timeout(10):
        got = [int(await connection.recv()) for _ in range(BURST)]
        await connection.wait_closed()
    assert got == list(range(BURST))
