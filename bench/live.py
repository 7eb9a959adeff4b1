"""Live quiz scenarios (issue 5): many WebSocket players in one game on one app process.

Each deployment gets its own server on a fresh database (``bench.servers.serve``), its
join limit per IP lifted (every bot comes from this machine). A ladder of game sizes is
played by ``studyhall.live.loadtest`` (real WebSocket clients, all in this process on
the load generator's core, under uvloop): N players join at 200/s, connect, and answer
two questions, each within one second; the question closes on the last answer. Per size:

- join p95 (target < 150 ms);
- answer ack p99: ``answer_submission`` to ``answer_received`` (target < 100 ms at 2,000);
- one frame to every player: from a question's server ``startTime`` to the last player's
  receipt of its ``new_question`` (target < 100 ms at 5,000), and the server's own share,
  its time to write that frame to every socket;
- leaderboard after the close: from the last answer sent (the close follows it) to the
  last player's receipt of the coalesced ``leaderboard_changed`` (target < 250 ms at 2,000).

The largest size at which all four hold is the players-per-process figure.

The ceiling: the bare ASGI app (``bench/bare_app.py``) under the same uvicorn and
WebSocket implementation plays the same game without a framework, a game engine or a
store: N sockets of this process, one ``new_question``-shaped frame broadcast to all,
each socket answering at a random moment within one second and getting an
``answer_received``-shaped ack. Its frame to all and ack p99 beside studyhall's, as the
share of studyhall's time the bare app needs. Joins are HTTP and have no ceiling here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import msgspec
import uvloop
from websockets.asyncio.client import connect

from bench.bare_app import BROADCAST
from bench.ceiling import Ceiling, latency_share
from bench.servers import Server, serve, studyhall
from studyhall.live.loadtest import (
    CONNECT_CONCURRENCY,
    LoadConfig,
    LoadReport,
    Series,
    StampedConnection,
    raise_fd_limit,
    run,
)

TEACHER = ("live-bench@example.org", "live bench password")
FULL = (500, 1000, 2000, 5000)
QUICK = (200,)
QUESTIONS = 2
JOIN_RATE = 200.0
"""Joins offered per second: a class of 2,000 joining within ten seconds."""
JOIN_P95 = 0.150
ACK_P99 = 0.100
FRAME_LAST = 0.100
BOARD_LAST = 0.250
ANSWER_WINDOW = 1.0
ANSWER = (
    '{"type":"answer_submission","payload":'
    '{"questionId":"0192f4d2-6c1e-7c39-9d0a-1b2c3d4e5f60","selectedOption":2}}'
)


@dataclass
class LiveRun:
    players: int
    report: LoadReport

    @property
    def join_p95(self) -> float:
        return self.report.join.percentile(0.95)

    @property
    def ack_p99(self) -> float:
        return self.report.ack.percentile(0.99)

    @property
    def frame_last(self) -> float:
        return self.report.fanout_last.worst

    @property
    def frame_read_last(self) -> float:
        return self.report.fanout_read_last.worst

    @property
    def server_fanout(self) -> float:
        """The server's mean time to write ``new_question`` to every socket (NaN if unread)."""
        seconds = self.report.server_fanout
        return float("nan") if seconds is None else seconds

    @property
    def board_last(self) -> float:
        return self.report.leaderboard_last.worst

    @property
    def complete(self) -> bool:
        report = self.report
        return report.finished == self.players and not report.errors

    @property
    def holds(self) -> bool:
        return self.complete and (
            self.join_p95 < JOIN_P95
            and self.ack_p99 < ACK_P99
            and self.frame_last < FRAME_LAST
            and self.board_last < BOARD_LAST
        )


@dataclass
class LiveFigures:
    deployment: str
    runs: list[LiveRun]


@contextlib.contextmanager
def live_server(deployment: str, workdir: Path, **options: Path | None) -> Iterator[Server]:
    """``bench.servers.serve`` with the join limit lifted and room for many sockets."""
    raise_fd_limit()  # the server inherits this process's limit
    saved = os.environ.get("STUDYHALL_LIVE_JOIN_LIMIT_PER_IP")
    os.environ["STUDYHALL_LIVE_JOIN_LIMIT_PER_IP"] = "1000000"
    try:
        with serve(deployment, workdir, "live", **options) as server:
            yield server
    finally:
        if saved is None:
            os.environ.pop("STUDYHALL_LIVE_JOIN_LIMIT_PER_IP", None)
        else:
            os.environ["STUDYHALL_LIVE_JOIN_LIMIT_PER_IP"] = saved


def run_sizes(server: Server, sizes: tuple[int, ...]) -> LiveFigures:
    email, password = TEACHER
    subprocess.run(
        studyhall("user", "create", email, "--password", password, "--role", "teacher"),
        env=server.env,
        check=True,
        capture_output=True,
    )
    runs = []
    for players in sizes:
        config = LoadConfig(
            base=server.base,
            players=players,
            questions=QUESTIONS,
            email=email,
            password=password,
            join_rate=JOIN_RATE,
        )
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            report = runner.run(run(config))
        runs.append(LiveRun(players, report))
        print(f"{server.deployment:9} live game of {players} players")
        for line in report.lines():
            print(f"{'':9} {line}")
    return LiveFigures(server.deployment, runs)


@dataclass(frozen=True)
class BareGame:
    """The bare WebSocket app's figures for a game of ``players``."""

    players: int
    frame_last: float
    """Worst, over the questions, of the last socket's receipt of the broadcast."""
    ack: Series


async def _bare_question(
    sockets: list[StampedConnection], moments: random.Random, ack: Series
) -> float:
    """One question of a bare game: the last socket's receipt of the broadcast."""
    arrivals: list[float] = []

    async def play(socket: StampedConnection) -> None:
        frame = msgspec.json.decode(await socket.recv())
        arrived = time.time() - (time.perf_counter() - socket.arrival().arrived)
        arrivals.append(arrived - frame["t"])
        await asyncio.sleep(moments.random() * ANSWER_WINDOW)
        sent = time.perf_counter()
        await socket.send(ANSWER)
        await socket.recv()
        ack.values.append(socket.arrival().arrived - sent)

    game = asyncio.gather(*(play(socket) for socket in sockets))
    await sockets[0].send(BROADCAST)
    await game
    return max(arrivals)


async def _bare_game(port: int, players: int) -> BareGame:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one() -> StampedConnection:
        async with gate:
            opened = await connect(
                f"ws://127.0.0.1:{port}/ws",
                open_timeout=60,
                max_queue=None,
                create_connection=StampedConnection,
            )
            return cast(StampedConnection, opened)

    sockets = await asyncio.gather(*(open_one() for _ in range(players)))
    moments = random.Random(7)
    ack = Series()
    try:
        frame_last = max([await _bare_question(sockets, moments, ack) for _ in range(QUESTIONS)])
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets))
    return BareGame(players, frame_last, ack)


def bare_game(ceiling: Ceiling, players: int) -> BareGame:
    """The bare app's game of ``players``, measured once per run."""

    def measure(port: int) -> BareGame:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            game = runner.run(_bare_game(port, players))
        print(
            f"bare ASGI websocket game of {players}: frame to all {_ms(game.frame_last)} ms, "
            f"ack p99 {_ms(game.ack.percentile(0.99))} ms"
        )
        return game

    return ceiling.cached(f"websocket game of {players}", measure)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _met(value: float, target: float) -> str:
    return "met" if value < target else "not met"


def section(figures: list[LiveFigures], header: str, ceiling: Ceiling) -> str:
    lines = [
        "## Live quiz: one game on one app process",
        "",
        header,
        "N WebSocket players (one asyncio client process on the load generator's core) join",
        f"at {JOIN_RATE:.0f}/s and play {QUESTIONS} single-choice questions, each answered by all",
        "within one second; the question closes on the last answer. Frame to all: a question's",
        "server `startTime` to the last player's `new_question`, stamped by the kernel when its",
        "bytes reached that player's socket. Read by client: until the one client process had",
        "read it from every socket. Server fan-out: the server's own time to write that frame",
        "to every socket (the mean over the questions, from its `/metrics`). Acks and boards",
        "are stamped by the kernel too.",
        "Leaderboard: the last answer sent to the last player's `leaderboard_changed`.",
        "Targets: join p95 < 150 ms, ack p99 < 100 ms and leaderboard < 250 ms at 2,000",
        "players, frame to all < 100 ms at 5,000.",
        "",
        "| deployment | players | finished | joins/s | join p95 ms | ack p50 ms | ack p99 ms "
        "| frame to all ms | read by client ms | server fan-out ms | leaderboard ms | errors "
        "| all four targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for figure in figures:
        for entry in figure.runs:
            report = entry.report
            errors = sum(report.errors.values())
            lines.append(
                f"| {figure.deployment} | {entry.players:,} | {report.finished:,} | "
                f"{report.joins_per_second:.0f} | {_ms(entry.join_p95)} | "
                f"{_ms(report.ack.percentile(0.5))} | {_ms(entry.ack_p99)} | "
                f"{_ms(entry.frame_last)} | {_ms(entry.frame_read_last)} | "
                f"{_ms(entry.server_fanout)} | "
                f"{_ms(entry.board_last)} | "
                f"{errors} | {'hold' if entry.holds else 'not all'} |"
            )
    lines += ["", "| deployment | target | at | figure ms | result |", "|---|---|---|---|---|"]
    for figure in figures:
        by_size = {entry.players: entry for entry in figure.runs}
        largest = max(by_size)
        at_2000 = by_size.get(2000, by_size[largest])
        at_5000 = by_size.get(5000, by_size[largest])
        checks = [
            ("join p95 < 150 ms", at_2000, at_2000.join_p95, JOIN_P95),
            ("ack p99 < 100 ms", at_2000, at_2000.ack_p99, ACK_P99),
            ("leaderboard < 250 ms after close", at_2000, at_2000.board_last, BOARD_LAST),
            ("frame to all < 100 ms", at_5000, at_5000.frame_last, FRAME_LAST),
            ("server fan-out to all < 100 ms", at_5000, at_5000.server_fanout, FRAME_LAST),
        ]
        for name, entry, value, target in checks:
            lines.append(
                f"| {figure.deployment} | {name} | {entry.players:,} | {_ms(value)} | "
                f"{_met(value, target) if entry.complete else 'not met (incomplete)'} |"
            )
        holding = [entry.players for entry in figure.runs if entry.holds]
        most = f"{max(holding):,}" if holding else "none of the sizes run"
        lines.append(f"| {figure.deployment} | players per process where all hold | {most} | | |")
    lines += [
        "",
        "Ceiling: the bare ASGI WebSocket app (no framework, game engine or store) under the",
        "same uvicorn plays the same game with as many sockets of the load client: one frame",
        "of `new_question`'s shape broadcast to all by a plain loop of awaited ASGI sends",
        "(the issue's naive loop; studyhall writes framed bytes straight to the sockets",
        "instead), each socket answering at a random moment within one second and acked with",
        "a frame of `answer_received`'s shape. Ratio: the bare time over studyhall's (1 would",
        "be the ceiling; above 1, studyhall is faster). Joins are HTTP requests offered at a",
        "fixed rate and have no ceiling here.",
        "",
        "| deployment | players | frame to all ms | bare ASGI ms | ratio | ack p99 ms "
        "| bare ASGI ms | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for figure in figures:
        for entry in figure.runs:
            bare = bare_game(ceiling, entry.players)
            bare_ack = bare.ack.percentile(0.99)
            lines.append(
                f"| {figure.deployment} | {entry.players:,} | {_ms(entry.frame_last)} | "
                f"{_ms(bare.frame_last)} | {latency_share(entry.frame_last, bare.frame_last)} | "
                f"{_ms(entry.ack_p99)} | {_ms(bare_ack)} | "
                f"{latency_share(entry.ack_p99, bare_ack)} |"
            )
    return "\n".join(lines) + "\n"
