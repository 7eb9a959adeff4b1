"""``studyhall loadtest live``: many real WebSocket players in one game of a running server.

A teacher's token creates a quiz and a game through the API. N players join over HTTP
(scheduled at a fixed rate; latency counts from each join's scheduled time, so a slow
server shows as latency rather than as a slower offered load) and each opens its socket
right after its join, so the lobby fills while earlier players are connected. The run's
own host then starts the game (the server's countdown opens the first question) and
opens each later question with ``next``; every player answers at a random
moment within ``answer_window`` seconds, and the question closes when the last answer
lands. Measured, with the client's monotonic clock:

- join: the join request's latency;
- ack: from sending ``answer_submission`` to its ``answer_received``/``answer_result``;
- fan-out: from the server's ``startTime`` of a question to each player's receipt of
  ``new_question`` (one frame to every player; the server's clock is mapped onto the
  client's with a few heartbeats, exact when both run on one machine);
- leaderboard: from the last answer sent (the question closes on it, so this bounds the
  close from below and the figure from above) to each player's receipt of the coalesced
  ``leaderboard_changed`` that follows.

Every receipt is stamped with the moment its bytes reached this machine's socket, as the
kernel saw it where the kernel stamps received data (Linux; elsewhere the moment this
client read them). All players are sockets of this one asyncio process, which reads
thousands of sockets on one core: a stamp taken when the client got round to a socket
would measure the client's queue, not the server's delivery. The moment the client had
read ``new_question`` from every socket is reported beside it. The server's own share of
a question's fan-out is read from its ``/metrics`` (the mean time its hub took to give
``new_question`` to every local socket), when that endpoint answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import platform
import random
import resource
import socket
import struct
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

import httpx
import msgspec
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import DATA_OPCODES, Frame
from websockets.protocol import Event

SETTLE_SECONDS = 1.0
"""After the last reveal, how long a question's leaderboard frames are waited for."""
CONNECT_CONCURRENCY = 100
JOIN_CONCURRENCY = 100
JOIN_POOLS = 10
"""httpx clients the joins are spread over, ``JOIN_CONCURRENCY / JOIN_POOLS`` connections
each. A pool's bookkeeping per request grows with its connections times its waiting
requests: one pool of 100 took most of this client's core at 5,000 players."""
PHASE_TIMEOUT = 120.0

_decode = msgspec.json.Decoder()


class LoadTestError(Exception):
    """The run could not go on (the server refused a setup step)."""


@dataclass(frozen=True)
class LoadConfig:
    base: str
    """``http://host:port`` of the server."""
    players: int
    questions: int = 3
    token: str | None = None
    email: str | None = None
    password: str | None = None
    answer_window: float = 1.0
    join_rate: float = 500.0
    time_limit: int = 60
    answer_result: str = "reveal"


@dataclass
class Series:
    """Latencies in seconds."""

    values: list[float] = field(default_factory=list)

    def percentile(self, fraction: float) -> float:
        if not self.values:
            return float("nan")
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    @property
    def worst(self) -> float:
        return max(self.values) if self.values else float("nan")

    def line(self, name: str) -> str:
        p50, p95, p99 = (self.percentile(f) * 1000 for f in (0.5, 0.95, 0.99))
        return (
            f"{name:12} n={len(self.values):6d}  p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  "
            f"p99 {p99:8.1f} ms  max {self.worst * 1000:8.1f} ms"
        )


@dataclass
class LoadReport:
    players: int
    questions: int
    joined: int = 0
    connected: int = 0
    finished: int = 0
    """Players that received ``quiz_ended``."""
    join: Series = field(default_factory=Series)
    connect: Series = field(default_factory=Series)
    ack: Series = field(default_factory=Series)
    fanout: Series = field(default_factory=Series)
    fanout_last: Series = field(default_factory=Series)
    """Per question: the last player's receipt of ``new_question``."""
    fanout_read_last: Series = field(default_factory=Series)
    """Per question: when this client had read ``new_question`` from every socket."""
    leaderboard: Series = field(default_factory=Series)
    leaderboard_last: Series = field(default_factory=Series)
    """Per question: the last player's receipt of the leaderboard after the close."""
    server_fanout: float | None = None
    """The server's mean time to give ``new_question`` to every local socket."""
    errors: Counter[str] = field(default_factory=Counter)
    join_seconds: float = 0.0
    """From the first join's scheduled time to the last join's answer."""

    @property
    def joins_per_second(self) -> float:
        return self.joined / self.join_seconds if self.join_seconds else 0.0

    def lines(self) -> list[str]:
        return [
            f"players {self.players}: joined {self.joined}, connected {self.connected}, "
            f"finished {self.finished}; {self.questions} questions",
            f"joins/s      {self.joins_per_second:.0f} (all joins in {self.join_seconds:.1f} s)",
            self.join.line("join"),
            self.connect.line("connect"),
            self.ack.line("answer ack"),
            self.fanout.line("question"),
            self.fanout_last.line("  last"),
            self.fanout_read_last.line("  last read"),
            self.leaderboard.line("leaderboard"),
            self.leaderboard_last.line("  last"),
            "server fan-out of new_question: "
            + (
                "no /metrics"
                if self.server_fanout is None
                else f"{self.server_fanout * 1000:.1f} ms (mean, from /metrics)"
            ),
            "errors: " + (", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"),
        ]


@dataclass
class _Question:
    index: int
    question_id: str
    options: int
    start_server: float
    """``startTime`` on the server's clock, in seconds."""


class Stamp(NamedTuple):
    """When one message reached this client, on its ``perf_counter`` clock."""

    arrived: float
    """When its last bytes reached this machine's socket: the kernel's receive time where
    the kernel stamps received data (Linux), else the time they were read."""
    read: float
    """When this client read them from the socket."""


KERNEL_STAMPS = (
    35 if sys.platform == "linux" and platform.machine() in {"x86_64", "aarch64"} else None
)
"""``SO_TIMESTAMPNS`` as Linux numbers it on these machines (its generic socket headers);
Python's ``socket`` module does not name it."""
_STAMP_SPACE = socket.CMSG_SPACE(struct.calcsize("@ll"))
_READ_SIZE = 256 * 1024


class StampedConnection(ClientConnection):
    """A client connection that notes when each message's bytes arrived and were read.

    With thousands of sockets in one client process, the client reads a socket some
    time after its bytes arrived: a broadcast's last reader measures the client as much
    as the server. Where the kernel stamps received data, this connection reads its
    socket itself with ``recvmsg`` (through a duplicate of the transport's socket, whose
    own reading is paused) and keeps the kernel's stamp: the moment the frame was
    delivered to this player, whatever this client was doing then."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arrived_at = self._read_at = 0.0
        self._stamps: deque[Stamp] = deque()
        self._stamped: socket.socket | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        own = transport.get_extra_info("socket")
        if KERNEL_STAMPS is None or own is None:
            return
        self._stamped = socket.socket(fileno=os.dup(own.fileno()))
        self._stamped.setsockopt(socket.SOL_SOCKET, KERNEL_STAMPS, 1)
        self.transport.pause_reading()
        # Flow control (a full message queue pauses reading) now pauses this reader.
        self.recv_messages.pause = self._pause_stamped
        self.recv_messages.resume = self._resume_stamped
        self._resume_stamped()

    def _pause_stamped(self) -> None:
        if self._stamped is not None:
            self.loop.remove_reader(self._stamped.fileno())

    def _resume_stamped(self) -> None:
        if self._stamped is not None:
            self.loop.add_reader(self._stamped.fileno(), self._read_stamped)

    def _read_stamped(self) -> None:
        assert self._stamped is not None
        try:
            data, ancillary, _, _ = self._stamped.recvmsg(_READ_SIZE, _STAMP_SPACE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._stop_stamping()
            self.transport.abort()
            return
        self._read_at = self._arrived_at = time.perf_counter()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == KERNEL_STAMPS:
                seconds, nanoseconds = struct.unpack("@ll", value)
                ago = time.time() - (seconds + nanoseconds / 1e9)
                self._arrived_at = self._read_at - ago
        if data:
            self.data_received(data)
            return
        self._stop_stamping()  # the peer's end of the stream, handled as the transport does
        self.eof_received()
        self.transport.close()  # websockets never keeps a half-closed connection open

    def _stop_stamping(self) -> None:
        if self._stamped is not None:
            self._pause_stamped()
            self._stamped.close()
            self._stamped = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_stamping()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._stamped is None:  # read by the transport: no kernel stamp
            self._read_at = self._arrived_at = time.perf_counter()
        super().data_received(data)

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and event.fin and event.opcode in DATA_OPCODES:
            self._stamps.append(Stamp(self._arrived_at, self._read_at))
        super().process_event(event)

    def arrival(self) -> Stamp:
        """When the message just taken by ``recv`` (or iteration) arrived."""
        return self._stamps.popleft()


class _Player:
    """One bot: joins, connects, answers every question, records what it saw."""

    def __init__(self, run: _Run, number: int) -> None:
        self.run = run
        self.name = f"Bot {number:05d}"
        self.number = number
        self.participant_id = ""
        self.token = ""
        self.joined_at = 0.0
        self.socket: StampedConnection | None = None
        self.snapshot = asyncio.Event()
        self.sent: dict[str, float] = {}
        self.acked: set[str] = set()
        self.revealed: dict[int, float] = {}
        self.boards: list[float] = []
        self.ended = asyncio.Event()
        self.heartbeats: asyncio.Queue[tuple[float, float]] = asyncio.Queue()

    async def join(self, http: httpx.AsyncClient, due: float, limit: asyncio.Semaphore) -> None:
        """``limit``: requests in flight, at most the client's connections; more would wait
        in httpx's pool, whose bookkeeping grows with the wait and starves this client."""
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        ip = f"10.{self.number >> 16 & 255}.{self.number >> 8 & 255}.{self.number & 255}"
        try:
            async with limit:
                response = await http.post(
                    f"/api/v1/quizzes/{self.run.code}/join",
                    json={"participantName": self.name},
                    headers={"X-Forwarded-For": ip},
                )
        except httpx.HTTPError as exc:  # a server too slow to answer: counted, not fatal
            self.run.report.errors[f"join {type(exc).__name__}"] += 1
            return
        if response.status_code != 200:
            self.run.report.errors[f"join {response.status_code}"] += 1
            return
        self.joined_at = time.perf_counter()
        self.run.report.join.values.append(self.joined_at - due)
        body = response.json()
        self.participant_id, self.token = body["participantId"], body["resumeToken"]

    async def connect(self, limit: asyncio.Semaphore) -> None:
        async with limit:
            started = time.perf_counter()
            query = (
                f"quizId={self.run.code}&participantId={self.participant_id}"
                f"&resumeToken={self.token}"
            )
            try:
                opened = await connect(
                    f"{self.run.ws_base}/ws?{query}",
                    open_timeout=60,
                    max_queue=None,
                    create_connection=StampedConnection,
                )
                self.socket = cast(StampedConnection, opened)
            except (OSError, TimeoutError) as exc:
                self.run.report.errors[f"connect {type(exc).__name__}"] += 1
                return
            self.run.tasks.add(asyncio.create_task(self.read()))
            await self.snapshot.wait()
            self.run.report.connect.values.append(time.perf_counter() - started)

    async def read(self) -> None:
        assert self.socket is not None
        try:
            async for raw in self.socket:
                self.on_message(self.socket.arrival(), _decode.decode(raw))
        except Exception as exc:  # a dropped connection ends this player's run
            self.run.report.errors[f"socket {type(exc).__name__}"] += 1

    def on_message(self, stamp: Stamp, message: dict[str, Any]) -> None:
        kind, payload = message["type"], message["payload"]
        run = self.run
        now = stamp.arrived
        if kind == "snapshot":
            self.snapshot.set()
        elif kind == "new_question":
            question = run.question(payload)
            run.report.fanout.values.append(now - run.to_local(question.start_server))
            run.arrived(question.index, stamp)
            run.tasks.add(asyncio.create_task(self.answer(question)))
        elif kind == "answer_received" or (kind == "answer_result" and "answered" not in payload):
            # An ``answer_result`` sent at the reveal (it has ``answered``) is no ack.
            self.ack(now, payload)
        elif kind == "question_revealed":
            self.revealed[payload["index"]] = now
            run.reveal(payload["index"])
        elif kind == "leaderboard_changed":
            self.boards.append(now)
        elif kind == "heartbeat_ack":
            self.heartbeats.put_nowait((now, protocol_seconds(payload["serverTime"])))
        elif kind == "quiz_ended":
            self.ended.set()
            run.changed.set()
        elif kind == "error":
            run.report.errors[f"error {payload.get('reason')}"] += 1

    def ack(self, now: float, payload: dict[str, Any]) -> None:
        question_id = payload.get("questionId", "")
        sent = self.sent.get(question_id)
        if sent is not None and question_id not in self.acked:
            self.acked.add(question_id)
            self.run.report.ack.values.append(now - sent)
            self.run.acknowledged(question_id)

    async def answer(self, question: _Question) -> None:
        await asyncio.sleep(self.run.random.random() * self.run.config.answer_window)
        assert self.socket is not None
        message = {
            "type": "answer_submission",
            "payload": {
                "questionId": question.question_id,
                "selectedOption": self.run.random.randrange(question.options),
            },
        }
        self.sent[question.question_id] = time.perf_counter()
        try:
            await self.socket.send(msgspec.json.encode(message).decode())
        except Exception as exc:
            self.run.report.errors[f"send {type(exc).__name__}"] += 1


def protocol_seconds(iso: str) -> float:
    """A server time (ISO 8601, ``Z``) in seconds since the epoch."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class _Run:
    def __init__(self, config: LoadConfig, report: LoadReport) -> None:
        self.config = config
        self.report = report
        self.random = random.Random(7)
        self.code = ""
        self.ws_base = "ws" + config.base.removeprefix("http").rstrip("/")
        self.offset = 0.0
        """Server clock (epoch seconds) minus this client's perf_counter."""
        self.tasks: set[asyncio.Task[None]] = set()
        self.questions: dict[int, _Question] = {}
        self.arrivals: dict[int, list[Stamp]] = {}
        self.acks: Counter[str] = Counter()
        self.reveals: Counter[int] = Counter()
        self.changed = asyncio.Event()

    def to_local(self, server_seconds: float) -> float:
        return server_seconds - self.offset

    def question(self, payload: dict[str, Any]) -> _Question:
        index = payload["index"]
        if index not in self.questions:
            self.questions[index] = _Question(
                index,
                payload["questionId"],
                len(payload.get("options") or [0, 1]),
                protocol_seconds(payload["startTime"]),
            )
        return self.questions[index]

    def arrived(self, index: int, stamp: Stamp) -> None:
        self.arrivals.setdefault(index, []).append(stamp)
        self.changed.set()

    def acknowledged(self, question_id: str) -> None:
        self.acks[question_id] += 1
        self.changed.set()

    def reveal(self, index: int) -> None:
        self.reveals[index] += 1
        self.changed.set()

    async def until(self, done: Callable[[], bool], what: str) -> None:
        """Wait for ``done``, re-checked whenever a player saw something."""
        deadline = time.perf_counter() + PHASE_TIMEOUT
        while not done():
            if time.perf_counter() > deadline:
                raise LoadTestError(f"timed out waiting for {what}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self.changed.wait()


async def _token(http: httpx.AsyncClient, config: LoadConfig) -> str:
    if config.token:
        return config.token
    if not (config.email and config.password):
        raise LoadTestError("give --token, or --email and --password of a teacher")
    response = await http.post(
        "/api/v1/auth/token", json={"email": config.email, "password": config.password}
    )
    if response.status_code != 200:
        raise LoadTestError(f"sign-in refused: {response.status_code} {response.text}")
    return str(response.json()["accessToken"])


def _quiz(config: LoadConfig) -> dict[str, Any]:
    questions = [
        {
            "type": "single",
            "text": f"Load test question {index + 1}",
            "options": ["A", "B", "C", "D"],
            "correctOptions": [index % 4],
            "timeLimitSeconds": config.time_limit,
        }
        for index in range(config.questions)
    ]
    return {
        "title": f"Load test, {config.players} players",
        "answerResult": config.answer_result,
        "questions": questions,
    }


async def _checked(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 300:
        raise LoadTestError(f"{what}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


async def _clock_offset(player: _Player) -> float:
    """The server's clock minus ours, from the heartbeat with the shortest round trip."""
    assert player.socket is not None
    best: tuple[float, float] | None = None
    for _ in range(5):
        sent = time.perf_counter()
        await player.socket.send('{"type":"heartbeat","payload":{}}')
        received, server = await asyncio.wait_for(player.heartbeats.get(), 30)
        trip = received - sent
        if best is None or trip < best[0]:
            best = (trip, server - (sent + received) / 2)
    assert best is not None
    return best[1]


def raise_fd_limit() -> None:
    """As many sockets as the hard limit allows (one per player, plus some)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def run(config: LoadConfig) -> LoadReport:
    """Play one whole game with ``config.players`` bots and measure it. The client's
    cyclic garbage collector is off meanwhile: with thousands of sockets' objects alive,
    a full collection stalls every bot for as long as it takes, and that stall would be
    measured as the server's latency."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return await _run(config)
    finally:
        if collecting:
            gc.enable()


async def _run(config: LoadConfig) -> LoadReport:
    raise_fd_limit()
    report = LoadReport(config.players, config.questions)
    state = _Run(config, report)
    per_pool = JOIN_CONCURRENCY // JOIN_POOLS
    limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
    async with contextlib.AsyncExitStack() as stack:
        pools = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=config.base, timeout=60, limits=limits)
            )
            for _ in range(JOIN_POOLS)
        ]
        http = pools[0]
        headers = {"Authorization": f"Bearer {await _token(http, config)}"}
        quiz = await _checked(
            await http.post("/api/v1/quizzes", json=_quiz(config), headers=headers), "quiz"
        )
        game = await _checked(
            await http.post(f"/api/v1/quizzes/{quiz['id']}/games", headers=headers), "game"
        )
        state.code, game_id = game["joinCode"], game["gameId"]
        players = [_Player(state, number) for number in range(config.players)]
        # Every pool's connections opened first: the first joins would otherwise pay for
        # this client's TCP connects, which are no part of the server's join.
        await asyncio.gather(*(pool.get("/healthz") for pool in pools for _ in range(per_pool)))
        begin = time.perf_counter() + 0.05
        joining = asyncio.Semaphore(JOIN_CONCURRENCY)
        connecting = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def arrive(player: _Player, due: float) -> None:
            """Join, then connect at once, as a phone does: the lobby fills live."""
            await player.join(pools[player.number % JOIN_POOLS], due, joining)
            if player.participant_id:
                await player.connect(connecting)

        await asyncio.gather(
            *(arrive(p, begin + i / config.join_rate) for i, p in enumerate(players))
        )
        report.join_seconds = max([0.0, *(p.joined_at - begin for p in players)])
        report.joined = sum(1 for player in players if player.participant_id)
        players = [player for player in players if player.socket is not None]
        report.connected = len(players)
        if not players:
            raise LoadTestError("no player could join and connect")
        state.offset = await _clock_offset(players[0])
        fanned_before = await _question_fanouts(http)
        try:
            await _play(http, headers, game_id, state, players)
            fanned_after = await _question_fanouts(http)
            if fanned_before and fanned_after and fanned_after[1] > fanned_before[1]:
                seconds, count = (a - b for a, b in zip(fanned_after, fanned_before, strict=True))
                report.server_fanout = seconds / count
        finally:
            for player in players:
                if player.socket is not None:
                    await player.socket.close()
            for task in state.tasks:
                task.cancel()
            await asyncio.gather(*state.tasks, return_exceptions=True)
        report.finished = sum(1 for player in players if player.ended.is_set())
    return report


async def _question_fanouts(http: httpx.AsyncClient) -> tuple[float, float] | None:
    """The server's total seconds and count of ``new_question`` fan-outs so far."""
    try:
        response = await http.get("/metrics")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name == "studyhall_live_fanout_duration_seconds":
            for sample in family.samples:
                if sample.labels.get("kind") == "new_question":
                    totals[sample.name.rsplit("_", 1)[1]] = sample.value
    return totals.get("sum", 0.0), totals.get("count", 0.0)  # none before the first


async def _next(
    http: httpx.AsyncClient, headers: dict[str, str], game_id: str, step: tuple[str, int]
) -> None:
    """The host's ``next`` from ``step`` (guarded: a retry never skips a reveal)."""
    response = await http.post(
        f"/api/v1/games/{game_id}/next",
        params={"fromStatus": step[0], "fromQuestion": step[1]},
        headers=headers,
    )
    await _checked(response, "next")


async def _measure_question(state: _Run, players: list[_Player], index: int) -> None:
    """Wait out one question (everyone answers, so it closes on the last answer)."""
    report = state.report
    await state.until(lambda: len(state.arrivals.get(index, [])) >= len(players), "question")
    question = state.questions[index]
    started = state.to_local(question.start_server)
    arrivals = state.arrivals[index]
    report.fanout_last.values.append(max(stamp.arrived for stamp in arrivals) - started)
    report.fanout_read_last.values.append(max(stamp.read for stamp in arrivals) - started)
    await state.until(lambda: state.acks[question.question_id] >= len(players), "acks")
    closed_by = max(player.sent[question.question_id] for player in players)
    await state.until(lambda: state.reveals[index] >= len(players), "reveal")
    await asyncio.sleep(SETTLE_SECONDS)
    firsts = [
        min(at for at in player.boards if at >= closed_by)
        for player in players
        if any(at >= closed_by for at in player.boards)
    ]
    report.leaderboard.values += [at - closed_by for at in firsts]
    if firsts:
        report.leaderboard_last.values.append(max(firsts) - closed_by)


async def _play(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    game_id: str,
    state: _Run,
    players: list[_Player],
) -> None:
    # As a host does: start (the server's countdown, then the first question), then next.
    await _checked(await http.post(f"/api/v1/games/{game_id}/start", headers=headers), "start")
    for index in range(state.config.questions):
        if index:
            await _next(http, headers, game_id, ("reveal", index - 1))
        await _measure_question(state, players, index)
    last = ("reveal", state.config.questions - 1)
    await _next(http, headers, game_id, last)  # after the last reveal: the end
    await state.until(lambda: all(player.ended.is_set() for player in players), "the end")
