"""The hot state of running games, where every change is one atomic step.

Scaled deployments keep it in Redis and every step is one Lua script, so any node may
take any answer or fire any timer and two of them never interleave. The embedded
deployment keeps it in this process, where every step is a method that never awaits:
the event loop runs it to completion before anything else touches the game, which makes
the game's one owner lock-free. Both give exactly the same answers (one contract test
suite drives both through the deployments).

Per game: a state hash (status, current question index ``qi`` with its server start and
end ``qs``/``qe`` in ms, the next timer ``deadline``, the event counter ``seq``, the
player and answer counts, and the ``dirty`` flag the leaderboard coalescer takes), the
players' names, the scores (a sorted set), each player's streak, each question's
answers (first one wins, ``HSETNX``) and points still to apply at the reveal, the
bounded event log that reconnecting players replay, the timer lease, and the claim of
the node rebuilding a game Redis lost (``live.rebuild``). A burst of joins is added in
one step (``add_players``), however many players it holds.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.typing import EncodableT
from sortedcontainers import SortedList

from studyhall.platform.hotstore import SharedPipeline

SubmitOutcome = Literal["accepted", "duplicate", "closed", "unknown_player"]
LOG_TTL_SECONDS = 24 * 3600.0
"""A game's keys expire a day after they were last written (a game never ended by its
host does not stay in Redis for ever)."""
FINISHED_GAMES_KEPT = 200
PLAYER_COUNT_EVERY_MS = 1000
"""Players learn the player count at most once a second: a lobby filling with thousands
costs each of them a frame a second, not one per join."""
"""The embedded store keeps this many ended games for late readers, then forgets the oldest."""


@dataclass(frozen=True, slots=True)
class GameState:
    status: str
    qi: int
    qs: int
    qe: int
    deadline: int
    seq: int
    players: int
    answered: int
    total: int = 0
    """Answers accepted in the whole game."""
    errors: int = 0
    """Answers and messages refused in the whole game."""


@dataclass(frozen=True, slots=True)
class Joined:
    """What one ``add_players`` step did, player by player (in the order given)."""

    event_ids: list[int]
    """Each one's ``player_joined`` id; 0 when already in, ``GAME_FULL`` when refused."""
    counts: list[int]
    """The player count right after each one was added (or refused)."""
    countdown_event_id: int
    """The id of ``countdown`` when this step started the lobby's countdown, else 0."""


GAME_FULL = -1


@dataclass(frozen=True, slots=True)
class GameImage:
    """A game's hot state as rebuilt from the database (``live.rebuild``); the answers
    and held points are those of the current question (``state["qi"]``), the only one
    still open to answers."""

    state: dict[str, int | str]
    names: dict[str, str]
    scores: dict[str, int]
    streaks: dict[str, str]
    answers: dict[str, bytes]
    pending: dict[str, int]
    kicked: list[str]


@dataclass(frozen=True, slots=True)
class Submitted:
    outcome: SubmitOutcome
    record: bytes | None
    """The stored answer: this one when accepted, the first one for a duplicate."""
    answered: int
    players: int
    score: int
    event_id: int
    """The game's latest event id when the answer was decided."""


@dataclass(frozen=True, slots=True)
class Kicked:
    event_id: int
    """The id of ``player_kicked``; 0 when the player had been kicked already."""
    players: int


@dataclass(frozen=True, slots=True)
class Updates:
    leaderboard_event: int
    count_event: int
    answered: int
    players: int
    players_event: int = 0
    """A new player count (players learn it from this, not from every join)."""


class GameStore(Protocol):
    async def create(self, game_id: str, ttl_seconds: float) -> None: ...

    async def state(self, game_id: str) -> GameState | None: ...

    async def streak(self, game_id: str, player_id: str) -> bytes | None: ...

    async def state_and_streak(
        self, game_id: str, player_id: str
    ) -> tuple[GameState | None, bytes | None]:
        """Both of the above in one round trip: what scoring an answer reads first."""

    async def add_players(
        self,
        game_id: str,
        players: list[tuple[str, str]],
        *,
        auto_start_at: int,
        threshold: int,
        max_players: int | None,
    ) -> Joined | None:
        """Add ``(player id, name)`` pairs in order, each at most once, refusing those
        past ``max_players``; an ``auto_start_at`` above 0 starts the lobby's countdown
        to it once the game has more than ``threshold`` players. None when the game is
        unknown or over."""

    async def remove_players(self, game_id: str, players: list[str]) -> None:
        """Undo ``add_players`` for players whose join was not committed after all."""

    async def transition(
        self,
        game_id: str,
        *,
        expect: tuple[str, ...],
        expect_qi: int | None,
        apply_pending: int | None,
        fields: dict[str, int | str],
    ) -> int:
        """Compare-and-set: when the status is one of ``expect`` (and the question index
        is ``expect_qi`` if given), apply question ``apply_pending``'s held points to the
        scores, set ``fields`` and take the next event id; 0 when the game had moved on."""

    async def submit(
        self,
        game_id: str,
        *,
        qi: int,
        qs: int,
        player_id: str,
        now_ms: int,
        record: bytes,
        points: int,
        streak: str,
        immediate: bool,
        ttl_seconds: float,
    ) -> Submitted:
        """Record a player's first answer to question ``qi`` (started at ``qs``) if it is
        still open at ``now_ms``; points count at once when ``immediate``, else at the reveal."""

    async def kick(self, game_id: str, player_id: str) -> Kicked | None:
        """Take a player out of the game: name, score, streak and (if they answered the
        open question) its answer count go, and they are marked kicked. Idempotent; None
        when the game is over or unknown or never had this player."""

    async def kicked(self, game_id: str, player_id: str) -> bool: ...

    async def count_error(self, game_id: str) -> None:
        """One more refused answer or message (for the operators' dashboard)."""

    async def roster(self, game_id: str) -> dict[str, str]:
        """Every player's name, by participant id."""

    async def take_updates(self, game_id: str, now_ms: int) -> Updates:
        """Event ids for a leaderboard change and a new answer count, when there are any."""

    async def standings(self, game_id: str) -> list[tuple[str, float]]:
        """Every player from the highest score (ties by member bytes, descending)."""

    async def top(self, game_id: str, count: int) -> list[tuple[str, float]]:
        """The first ``count`` of ``standings`` (without reading everyone's)."""

    async def standing(self, game_id: str, player_id: str) -> tuple[int, int] | None:
        """A player's ``(rank, score)``: equal scores share a rank, as in ``standings``."""

    async def names(self, game_id: str, players: list[str]) -> dict[str, str]:
        """The names of these players (a leaderboard's top reads only its own)."""

    async def answers(self, game_id: str, qi: int) -> dict[str, bytes]: ...

    async def append(self, game_id: str, events: list[tuple[int, bytes]], keep: int) -> None:
        """Log ``(event id, frame)`` pairs, keeping the latest ``keep``."""

    async def log_after(self, game_id: str, after: int) -> tuple[list[bytes], int | None]:
        """Logged frames with a higher id, in order, and the oldest id the log still has."""

    async def lease(self, game_id: str, node: str, ttl_seconds: float) -> bool:
        """Take or renew the game's timer lease; False while another node holds it."""

    async def active(self) -> list[str]: ...

    async def claim_rebuild(self, game_id: str, node: str, ttl_seconds: float) -> bool:
        """Take the right to rebuild a lost game (one node at a time); False while
        another node holds it."""

    async def restore(self, game_id: str, image: GameImage, ttl_seconds: float) -> bool:
        """Put a rebuilt game in place (and among the active ones) unless the game has a
        state already; releases the rebuild claim."""

    async def finish(self, game_id: str, ttl_seconds: float) -> None:
        """Stop running the game's timers; keep its state a while for late readers."""

    async def close(self) -> None: ...


def _state(raw: dict[str, Any]) -> GameState | None:
    if not raw:
        return None

    def number(name: str) -> int:
        return int(raw.get(name) or 0)

    status = raw["status"]
    return GameState(
        status=status.decode() if isinstance(status, bytes) else status,
        qi=number("qi"),
        qs=number("qs"),
        qe=number("qe"),
        deadline=number("deadline"),
        seq=number("seq"),
        players=number("players"),
        answered=number("answered"),
        total=number("total"),
        errors=number("errors"),
    )


def fresh_state() -> dict[str, Any]:
    return {
        "status": "lobby",
        "qi": -1,
        "qs": 0,
        "qe": 0,
        "deadline": 0,
        "seq": 0,
        "players": 0,
        "answered": 0,
        "counted": 0,
        "pcounted": 0,
        "pcounted_at": 0,
        "dirty": 0,
        "total": 0,
        "errors": 0,
    }


# --- in-process -------------------------------------------------------------------------------


class Ranking:
    """One game's scores, also kept in Redis's sorted-set order (score, then player id),
    so the top and a player's rank cost a logarithmic step, not a pass over every player
    (each connect reads both: a scan would make a filling lobby quadratic)."""

    __slots__ = ("_by_player", "_ordered")

    def __init__(self, scores: dict[str, float] | None = None) -> None:
        self._by_player: dict[str, float] = {}
        self._ordered: SortedList[tuple[float, str]] = SortedList()
        for player_id, score in (scores or {}).items():
            self.set(player_id, score)

    def get(self, player_id: str) -> float | None:
        return self._by_player.get(player_id)

    def set(self, player_id: str, score: float) -> None:
        self.remove(player_id)
        self._by_player[player_id] = score
        self._ordered.add((score, player_id))

    def add(self, player_id: str, points: int) -> None:
        self.set(player_id, self._by_player[player_id] + points)

    def remove(self, player_id: str) -> None:
        old = self._by_player.pop(player_id, None)
        if old is not None:
            self._ordered.remove((old, player_id))

    def highest(self, count: int | None = None) -> list[tuple[str, float]]:
        """``(player, score)`` from the highest, as Redis's ``ZREVRANGE`` gives them."""
        first = 0 if count is None else max(len(self._ordered) - count, 0)
        return [(player, score) for score, player in reversed(self._ordered[first:])]

    def above(self, score: float) -> int:
        """How many players score more than ``score``."""
        higher: int = self._ordered.bisect_left((math.nextafter(score, math.inf), ""))
        return len(self._ordered) - higher


class _MemoryGame:
    __slots__ = ("answers", "kicked", "log", "names", "pending", "scores", "state", "streaks")

    def __init__(self) -> None:
        self.state: dict[str, Any] = fresh_state()
        self.names: dict[str, str] = {}
        self.scores = Ranking()
        self.streaks: dict[str, bytes] = {}
        self.answers: dict[int, dict[str, bytes]] = {}
        self.pending: dict[int, dict[str, int]] = {}
        self.log: list[tuple[int, bytes]] = []
        self.kicked: set[str] = set()


class MemoryGameStore:
    """One process's games. No method awaits, so each step is atomic on the event loop."""

    def __init__(self) -> None:
        self._games: dict[str, _MemoryGame] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()

    async def create(self, game_id: str, ttl_seconds: float) -> None:
        self._games.setdefault(game_id, _MemoryGame())

    async def state(self, game_id: str) -> GameState | None:
        game = self._games.get(game_id)
        return None if game is None else _state(game.state)

    async def streak(self, game_id: str, player_id: str) -> bytes | None:
        game = self._games.get(game_id)
        return None if game is None else game.streaks.get(player_id)

    async def state_and_streak(
        self, game_id: str, player_id: str
    ) -> tuple[GameState | None, bytes | None]:
        return await self.state(game_id), await self.streak(game_id, player_id)

    async def add_players(
        self,
        game_id: str,
        players: list[tuple[str, str]],
        *,
        auto_start_at: int,
        threshold: int,
        max_players: int | None,
    ) -> Joined | None:
        game = self._games.get(game_id)
        if game is None or game.state["status"] == "ended":
            return None
        state = game.state
        event_ids: list[int] = []
        counts: list[int] = []
        countdown = 0
        for player_id, name in players:
            if player_id in game.names:
                event_ids.append(0)
            elif max_players is not None and state["players"] >= max_players:
                event_ids.append(GAME_FULL)
            else:
                game.names[player_id] = name
                game.scores.set(player_id, 0.0)
                state["players"] += 1
                state["seq"] += 1
                event_ids.append(state["seq"])
                starts = state["status"] == "lobby" and auto_start_at > 0
                if starts and state["players"] > threshold:
                    state["status"], state["deadline"] = "countdown", auto_start_at
                    state["seq"] += 1
                    countdown = state["seq"]
            counts.append(state["players"])
        return Joined(event_ids, counts, countdown)

    async def remove_players(self, game_id: str, players: list[str]) -> None:
        game = self._games.get(game_id)
        if game is None:
            return
        for player_id in players:
            if game.names.pop(player_id, None) is not None:
                game.scores.remove(player_id)
                game.state["players"] -= 1

    async def transition(
        self,
        game_id: str,
        *,
        expect: tuple[str, ...],
        expect_qi: int | None,
        apply_pending: int | None,
        fields: dict[str, int | str],
    ) -> int:
        game = self._games.get(game_id)
        if game is None or game.state["status"] not in expect:
            return 0
        state = game.state
        if expect_qi is not None and state["qi"] != expect_qi:
            return 0
        if apply_pending is not None:
            for player_id, points in game.pending.pop(apply_pending, {}).items():
                if player_id in game.names:  # not kicked meanwhile
                    game.scores.add(player_id, points)
            state["dirty"] = 1
        state.update(fields)
        state["seq"] += 1
        return int(state["seq"])

    async def submit(
        self,
        game_id: str,
        *,
        qi: int,
        qs: int,
        player_id: str,
        now_ms: int,
        record: bytes,
        points: int,
        streak: str,
        immediate: bool,
        ttl_seconds: float,
    ) -> Submitted:
        game = self._games.get(game_id)
        if game is None:
            return Submitted("closed", None, 0, 0, 0, 0)
        state = game.state
        answers = game.answers.setdefault(qi, {})

        def outcome(kind: SubmitOutcome, stored: bytes | None) -> Submitted:
            score = int(game.scores.get(player_id) or 0)
            return Submitted(kind, stored, state["answered"], state["players"], score, state["seq"])

        if player_id in answers:
            return outcome("duplicate", answers[player_id])
        if (
            state["status"] != "question"
            or state["qi"] != qi
            or state["qs"] != qs
            or now_ms > state["qe"]
        ):
            return outcome("closed", None)
        if player_id not in game.names:
            return outcome("unknown_player", None)
        answers[player_id] = record
        if immediate:
            game.scores.add(player_id, points)
            state["dirty"] = 1
        else:
            game.pending.setdefault(qi, {})[player_id] = points
        if streak:
            game.streaks[player_id] = streak.encode()
        state["answered"] += 1
        state["total"] += 1
        return outcome("accepted", record)

    async def kick(self, game_id: str, player_id: str) -> Kicked | None:
        game = self._games.get(game_id)
        if game is None or game.state["status"] == "ended":
            return None
        state = game.state
        if player_id in game.kicked:
            return Kicked(0, state["players"])
        if game.names.pop(player_id, None) is None:
            return None
        game.kicked.add(player_id)
        game.scores.remove(player_id)
        game.streaks.pop(player_id, None)
        if state["status"] == "question" and player_id in game.answers.get(state["qi"], {}):
            state["answered"] -= 1
        state["players"] -= 1
        state["dirty"] = 1
        state["seq"] += 1
        return Kicked(state["seq"], state["players"])

    async def kicked(self, game_id: str, player_id: str) -> bool:
        game = self._games.get(game_id)
        return game is not None and player_id in game.kicked

    async def roster(self, game_id: str) -> dict[str, str]:
        game = self._games.get(game_id)
        return {} if game is None else dict(game.names)

    async def count_error(self, game_id: str) -> None:
        game = self._games.get(game_id)
        if game is not None:
            game.state["errors"] += 1

    async def take_updates(self, game_id: str, now_ms: int) -> Updates:
        game = self._games.get(game_id)
        if game is None:
            return Updates(0, 0, 0, 0, 0)
        state = game.state
        leaderboard = count = 0
        if state["dirty"]:
            state["dirty"] = 0
            state["seq"] += 1
            leaderboard = state["seq"]
        if state["status"] == "question" and state["answered"] != state["counted"]:
            state["counted"] = state["answered"]
            state["seq"] += 1
            count = state["seq"]
        players = 0
        if (
            state["players"] != state["pcounted"]
            and now_ms - state["pcounted_at"] >= PLAYER_COUNT_EVERY_MS
        ):
            state["pcounted"], state["pcounted_at"] = state["players"], now_ms
            state["seq"] += 1
            players = state["seq"]
        return Updates(leaderboard, count, state["answered"], state["players"], players)

    async def standings(self, game_id: str) -> list[tuple[str, float]]:
        game = self._games.get(game_id)
        if game is None:
            return []
        return game.scores.highest()

    async def top(self, game_id: str, count: int) -> list[tuple[str, float]]:
        game = self._games.get(game_id)
        if game is None:
            return []
        return game.scores.highest(count)

    async def standing(self, game_id: str, player_id: str) -> tuple[int, int] | None:
        game = self._games.get(game_id)
        score = None if game is None else game.scores.get(player_id)
        if game is None or score is None:
            return None
        return 1 + game.scores.above(score), int(score)

    async def names(self, game_id: str, players: list[str]) -> dict[str, str]:
        game = self._games.get(game_id)
        known = {} if game is None else game.names
        return {player: known[player] for player in players if player in known}

    async def answers(self, game_id: str, qi: int) -> dict[str, bytes]:
        game = self._games.get(game_id)
        return {} if game is None else dict(game.answers.get(qi, {}))

    async def append(self, game_id: str, events: list[tuple[int, bytes]], keep: int) -> None:
        game = self._games.get(game_id)
        if game is None:
            return
        # Ids are taken before frames are appended, so two may arrive out of order.
        for event in events:
            heapq.heappush(game.log, event)
        if len(game.log) > keep:
            game.log = heapq.nlargest(keep, game.log)
            heapq.heapify(game.log)

    async def log_after(self, game_id: str, after: int) -> tuple[list[bytes], int | None]:
        game = self._games.get(game_id)
        if game is None or not game.log:
            return [], None
        ordered = sorted(game.log)
        return [frame for event_id, frame in ordered if event_id > after], ordered[0][0]

    async def lease(self, game_id: str, node: str, ttl_seconds: float) -> bool:
        """One process runs every timer of its games: the lease is always its own."""
        return game_id in self._games

    async def active(self) -> list[str]:
        return [game_id for game_id, game in self._games.items() if game.state["status"] != "ended"]

    async def claim_rebuild(self, game_id: str, node: str, ttl_seconds: float) -> bool:
        """One process: nobody else rebuilds, and its rebuild does not await the store."""
        return True

    async def restore(self, game_id: str, image: GameImage, ttl_seconds: float) -> bool:
        if game_id in self._games:
            return False
        game = self._games[game_id] = _MemoryGame()
        game.state.update(image.state)
        game.names = dict(image.names)
        game.scores = Ranking({player: float(score) for player, score in image.scores.items()})
        game.streaks = {player: streak.encode() for player, streak in image.streaks.items()}
        qi = int(image.state["qi"])
        game.answers[qi] = dict(image.answers)
        game.pending[qi] = dict(image.pending)
        game.kicked = set(image.kicked)
        return True

    async def close(self) -> None:
        self._games.clear()

    async def finish(self, game_id: str, ttl_seconds: float) -> None:
        self._finished[game_id] = None
        while len(self._finished) > FINISHED_GAMES_KEPT:
            old, _ = self._finished.popitem(last=False)
            self._games.pop(old, None)


# --- Redis ------------------------------------------------------------------------------------

_ADD_PLAYERS = """
local st = redis.call('HGET', KEYS[1], 'status')
if (not st) or st == 'ended' then return nil end
local s = redis.call('HMGET', KEYS[1], 'players', 'seq')
local count, seq = tonumber(s[1]), tonumber(s[2])
local starts, threshold, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {0}
local added = 0
for i = 4, #ARGV, 2 do
  local event = 0
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then
    event = 0
  elseif max > 0 and count >= max then
    event = -1
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    redis.call('ZADD', KEYS[3], 0, ARGV[i])
    count = count + 1
    seq = seq + 1
    added = added + 1
    event = seq
    if st == 'lobby' and starts > 0 and count > threshold then
      st = 'countdown'
      seq = seq + 1
      out[1] = seq
      redis.call('HSET', KEYS[1], 'status', 'countdown', 'deadline', ARGV[1])
    end
  end
  out[#out + 1] = event
  out[#out + 1] = count
end
if added > 0 then
  redis.call('HSET', KEYS[1], 'players', count, 'seq', seq)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[2], ttl)
    redis.call('PEXPIRE', KEYS[3], ttl)
  end
end
return out
"""

_REMOVE_PLAYERS = """
local removed = 0
for i = 1, #ARGV do
  if redis.call('HDEL', KEYS[2], ARGV[i]) == 1 then
    redis.call('ZREM', KEYS[3], ARGV[i])
    removed = removed + 1
  end
end
if removed > 0 then redis.call('HINCRBY', KEYS[1], 'players', -removed) end
return removed
"""

_RESTORE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[9])
  return 0
end
local image = cjson.decode(ARGV[1])
local ttl = ARGV[2]
local function hash(key, fields)
  local flat = {}
  for field, value in pairs(fields) do
    flat[#flat + 1] = field
    flat[#flat + 1] = value
  end
  for i = 1, #flat, 1000 do
    redis.call('HSET', key, unpack(flat, i, math.min(i + 999, #flat)))
  end
  if #flat > 0 then redis.call('PEXPIRE', key, ttl) end
end
hash(KEYS[1], image.state)
hash(KEYS[2], image.names)
hash(KEYS[4], image.streaks)
hash(KEYS[5], image.answers)
hash(KEYS[6], image.pending)
for player, score in pairs(image.scores) do redis.call('ZADD', KEYS[3], score, player) end
if next(image.scores) then redis.call('PEXPIRE', KEYS[3], ttl) end
for _, player in ipairs(image.kicked) do redis.call('SADD', KEYS[7], player) end
if #image.kicked > 0 then redis.call('PEXPIRE', KEYS[7], ttl) end
redis.call('SADD', KEYS[8], ARGV[3])
redis.call('DEL', KEYS[9])
return 1
"""

_TRANSITION = """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 0 end
local allowed = false
for expected in string.gmatch(ARGV[1], '[^,]+') do
  if expected == st then allowed = true end
end
if not allowed then return 0 end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'qi') ~= ARGV[2] then return 0 end
if ARGV[3] == '1' then
  local pending = redis.call('HGETALL', KEYS[3])
  for i = 1, #pending, 2 do
    if redis.call('HEXISTS', KEYS[4], pending[i]) == 1 then  -- not kicked meanwhile
      redis.call('ZINCRBY', KEYS[2], pending[i + 1], pending[i])
    end
  end
  redis.call('DEL', KEYS[3])
  redis.call('HSET', KEYS[1], 'dirty', '1')
end
if #ARGV > 3 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
return redis.call('HINCRBY', KEYS[1], 'seq', 1)
"""

_SUBMIT = """
local s = redis.call('HMGET', KEYS[1], 'status', 'qi', 'qs', 'qe', 'seq', 'players', 'answered')
local function reply(kind, record)
  local score = redis.call('ZSCORE', KEYS[3], ARGV[2]) or '0'
  local now = redis.call('HMGET', KEYS[1], 'answered', 'seq')
  return {kind, record or '', tonumber(now[1] or '0'), tonumber(s[6] or '0'),
          tonumber(score), tonumber(now[2] or '0')}
end
if not s[1] then return {'closed', '', 0, 0, 0, 0} end
local first = redis.call('HGET', KEYS[4], ARGV[2])
if first then return reply('duplicate', first) end
if s[1] ~= 'question' or s[2] ~= ARGV[1] or s[3] ~= ARGV[9]
   or tonumber(ARGV[3]) > tonumber(s[4]) then
  return reply('closed', nil)
end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then return reply('unknown_player', nil) end
redis.call('HSET', KEYS[4], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[4], ARGV[8])
if ARGV[7] == '1' then
  redis.call('ZINCRBY', KEYS[3], ARGV[5], ARGV[2])
  redis.call('HSET', KEYS[1], 'dirty', '1')
else
  redis.call('HSET', KEYS[5], ARGV[2], ARGV[5])
  redis.call('PEXPIRE', KEYS[5], ARGV[8])
end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[6], ARGV[2], ARGV[6])
  redis.call('PEXPIRE', KEYS[6], ARGV[8])
end
redis.call('HINCRBY', KEYS[1], 'answered', 1)
redis.call('HINCRBY', KEYS[1], 'total', 1)
return reply('accepted', ARGV[4])
"""

_TAKE_UPDATES = """
local s = redis.call('HMGET', KEYS[1], 'dirty', 'answered', 'counted', 'players', 'status',
                     'pcounted', 'pcounted_at')
if not s[5] then return {0, 0, 0, 0, 0} end
local board = 0
local count = 0
if s[1] == '1' then
  redis.call('HSET', KEYS[1], 'dirty', '0')
  board = redis.call('HINCRBY', KEYS[1], 'seq', 1)
end
if s[5] == 'question' and s[2] ~= s[3] then
  redis.call('HSET', KEYS[1], 'counted', s[2])
  count = redis.call('HINCRBY', KEYS[1], 'seq', 1)
end
local players = 0
if s[4] ~= s[6] and tonumber(ARGV[1]) - tonumber(s[7] or '0') >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'pcounted', s[4], 'pcounted_at', ARGV[1])
  players = redis.call('HINCRBY', KEYS[1], 'seq', 1)
end
return {board, count, tonumber(s[2] or '0'), tonumber(s[4] or '0'), players}
"""

_KICK = """
local s = redis.call('HMGET', KEYS[1], 'status', 'qi', 'players')
if (not s[1]) or s[1] == 'ended' then return {-1, 0} end
if s[2] ~= ARGV[2] then return {-2, 0} end
if redis.call('SISMEMBER', KEYS[5], ARGV[1]) == 1 then return {0, tonumber(s[3])} end
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return {-1, 0} end
redis.call('SADD', KEYS[5], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[5], ttl) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
if s[1] == 'question' and redis.call('HEXISTS', KEYS[6], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'answered', -1)
end
local players = redis.call('HINCRBY', KEYS[1], 'players', -1)
redis.call('HSET', KEYS[1], 'dirty', '1')
return {redis.call('HINCRBY', KEYS[1], 'seq', 1), players}
"""

_COUNT_ERROR = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'errors', 1) end
"""

_STANDING = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return nil end
return {redis.call('ZCOUNT', KEYS[1], '(' .. score, '+inf') + 1, score}
"""

_LEASE = """
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisGameStore:
    """Games shared by every node through Redis; keys live under the deployment's prefix."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._answers = SharedPipeline(client)
        """The answer path's reads and scripts: a burst shares round trips."""
        self._prefix = f"{prefix}live:"
        self._add_players = client.register_script(_ADD_PLAYERS)
        self._remove_players = client.register_script(_REMOVE_PLAYERS)
        self._restore = client.register_script(_RESTORE)
        self._transition = client.register_script(_TRANSITION)
        self._submit = client.register_script(_SUBMIT)
        self._take_updates = client.register_script(_TAKE_UPDATES)
        self._lease = client.register_script(_LEASE)
        self._kick = client.register_script(_KICK)
        self._count_error = client.register_script(_COUNT_ERROR)
        self._standing = client.register_script(_STANDING)

    def _key(self, game_id: str, part: str) -> str:
        # The hash tag keeps one game's keys in one Redis Cluster slot (scripts need that).
        return f"{self._prefix}{{{game_id}}}:{part}"

    def _game_keys(self, game_id: str) -> list[str]:
        parts = ("state", "names", "scores", "streaks", "log", "kicked")
        return [self._key(game_id, part) for part in parts]

    async def create(self, game_id: str, ttl_seconds: float) -> None:
        state_key = self._key(game_id, "state")
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hsetnx(state_key, "status", "lobby")
            pipe.hset(state_key, mapping={k: v for k, v in fresh_state().items() if k != "status"})
            pipe.pexpire(state_key, _ms(ttl_seconds))
            pipe.sadd(f"{self._prefix}active", game_id)
            await pipe.execute()

    async def state(self, game_id: str) -> GameState | None:
        raw = cast(dict[bytes, bytes], await self._client.hgetall(self._key(game_id, "state")))
        return _state({key.decode(): value for key, value in raw.items()})

    async def streak(self, game_id: str, player_id: str) -> bytes | None:
        return cast(bytes | None, await self._client.hget(self._key(game_id, "streaks"), player_id))

    async def state_and_streak(
        self, game_id: str, player_id: str
    ) -> tuple[GameState | None, bytes | None]:

        def queue(pipe: Pipeline) -> None:
            pipe.hgetall(self._key(game_id, "state"))
            pipe.hget(self._key(game_id, "streaks"), player_id)

        raw, streak = await self._answers.run(queue)
        state = _state({key.decode(): value for key, value in raw.items()})
        return state, cast(bytes | None, streak)

    async def add_players(
        self,
        game_id: str,
        players: list[tuple[str, str]],
        *,
        auto_start_at: int,
        threshold: int,
        max_players: int | None,
    ) -> Joined | None:
        flat: list[str] = []
        for player_id, name in players:
            flat += [player_id, name]
        reply = await self._add_players(
            keys=self._player_keys(game_id),
            args=[auto_start_at, threshold, max_players or 0, *flat],
        )
        if reply is None:
            return None
        numbers = [int(value) for value in cast(list[int], reply)]
        return Joined(numbers[1::2], numbers[2::2], numbers[0])

    async def remove_players(self, game_id: str, players: list[str]) -> None:
        if players:
            await self._remove_players(keys=self._player_keys(game_id), args=players)

    def _player_keys(self, game_id: str) -> list[str]:
        return [self._key(game_id, part) for part in ("state", "names", "scores")]

    async def transition(
        self,
        game_id: str,
        *,
        expect: tuple[str, ...],
        expect_qi: int | None,
        apply_pending: int | None,
        fields: dict[str, int | str],
    ) -> int:
        flat: list[int | str] = []
        for name, value in fields.items():
            flat += [name, value]
        pending = self._key(game_id, f"pending:{apply_pending if apply_pending is not None else 0}")
        event_id = await self._transition(
            keys=[
                self._key(game_id, "state"),
                self._key(game_id, "scores"),
                pending,
                self._key(game_id, "names"),
            ],
            args=[
                ",".join(expect),
                "" if expect_qi is None else expect_qi,
                "0" if apply_pending is None else "1",
                *flat,
            ],
        )
        return int(event_id)

    async def submit(
        self,
        game_id: str,
        *,
        qi: int,
        qs: int,
        player_id: str,
        now_ms: int,
        record: bytes,
        points: int,
        streak: str,
        immediate: bool,
        ttl_seconds: float,
    ) -> Submitted:

        def queue(pipe: Pipeline) -> None:
            keys = [
                self._key(game_id, "state"),
                self._key(game_id, "names"),
                self._key(game_id, "scores"),
                self._key(game_id, f"answers:{qi}"),
                self._key(game_id, f"pending:{qi}"),
                self._key(game_id, "streaks"),
            ]
            args: list[EncodableT] = [qi, player_id, now_ms, record, points, streak]
            args += ["1" if immediate else "0", _ms(ttl_seconds), qs]
            # Loaded before the batch if Redis lacks it (redis-py types this set as sync
            # scripts, though the asyncio pipeline holds and loads asyncio ones).
            pipe.scripts.add(self._submit)  # type: ignore[arg-type]
            pipe.evalsha(self._submit.sha, len(keys), *keys, *args)

        (reply,) = await self._answers.run(queue)
        kind, stored, answered, players, score, event_id = reply
        return Submitted(
            outcome=cast(SubmitOutcome, kind.decode()),
            record=stored or None,
            answered=int(answered),
            players=int(players),
            score=int(score),
            event_id=int(event_id),
        )

    async def kick(self, game_id: str, player_id: str) -> Kicked | None:
        while True:
            state = await self.state(game_id)
            if state is None:
                return None
            # The open question's answers decide the answer count; the script checks
            # that question is still the current one, else this reads the state again.
            event_id, players = cast(
                list[int],
                await self._kick(
                    keys=[
                        self._key(game_id, "state"),
                        self._key(game_id, "names"),
                        self._key(game_id, "scores"),
                        self._key(game_id, "streaks"),
                        self._key(game_id, "kicked"),
                        self._key(game_id, f"answers:{state.qi}"),
                    ],
                    args=[player_id, state.qi],
                ),
            )
            if event_id == -1:
                return None
            if event_id >= 0:
                return Kicked(event_id, players)

    async def kicked(self, game_id: str, player_id: str) -> bool:
        return bool(await self._client.sismember(self._key(game_id, "kicked"), player_id))

    async def count_error(self, game_id: str) -> None:
        await self._count_error(keys=[self._key(game_id, "state")])

    async def roster(self, game_id: str) -> dict[str, str]:
        raw = cast(dict[bytes, bytes], await self._client.hgetall(self._key(game_id, "names")))
        return {key.decode(): value.decode() for key, value in raw.items()}

    async def take_updates(self, game_id: str, now_ms: int) -> Updates:
        board, count, answered, players, players_event = cast(
            list[int],
            await self._take_updates(
                keys=[self._key(game_id, "state")], args=[now_ms, PLAYER_COUNT_EVERY_MS]
            ),
        )
        return Updates(board, count, answered, players, players_event)

    async def standings(self, game_id: str) -> list[tuple[str, float]]:
        raw = await self._client.zrevrange(self._key(game_id, "scores"), 0, -1, withscores=True)
        return [(member.decode(), score) for member, score in cast(list[tuple[bytes, float]], raw)]

    async def top(self, game_id: str, count: int) -> list[tuple[str, float]]:
        key = self._key(game_id, "scores")
        raw = await self._client.zrevrange(key, 0, count - 1, withscores=True)
        return [(member.decode(), score) for member, score in cast(list[tuple[bytes, float]], raw)]

    async def standing(self, game_id: str, player_id: str) -> tuple[int, int] | None:
        found = await self._standing(keys=[self._key(game_id, "scores")], args=[player_id])
        if not found:
            return None
        rank, score = cast(list[Any], found)
        return int(rank), int(float(score))

    async def names(self, game_id: str, players: list[str]) -> dict[str, str]:
        if not players:
            return {}
        raw = cast(
            list[bytes | None], await self._client.hmget(self._key(game_id, "names"), players)
        )
        return {player: name.decode() for player, name in zip(players, raw, strict=True) if name}

    async def answers(self, game_id: str, qi: int) -> dict[str, bytes]:
        raw = cast(
            dict[bytes, bytes], await self._client.hgetall(self._key(game_id, f"answers:{qi}"))
        )
        return {key.decode(): value for key, value in raw.items()}

    async def append(self, game_id: str, events: list[tuple[int, bytes]], keep: int) -> None:
        key = self._key(game_id, "log")
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {frame: event_id for event_id, frame in events})
            pipe.zremrangebyrank(key, 0, -keep - 1)
            pipe.pexpire(key, _ms(LOG_TTL_SECONDS))
            await pipe.execute()

    async def log_after(self, game_id: str, after: int) -> tuple[list[bytes], int | None]:
        key = self._key(game_id, "log")
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(key, f"({after}", "+inf")
            pipe.zrange(key, 0, 0, withscores=True)
            frames, oldest = await pipe.execute()
        return list(frames), int(oldest[0][1]) if oldest else None

    async def lease(self, game_id: str, node: str, ttl_seconds: float) -> bool:
        taken = await self._lease(keys=[self._key(game_id, "lease")], args=[node, _ms(ttl_seconds)])
        return bool(taken)

    async def active(self) -> list[str]:
        members = cast(set[bytes], await self._client.smembers(f"{self._prefix}active"))
        return sorted(member.decode() for member in members)

    async def claim_rebuild(self, game_id: str, node: str, ttl_seconds: float) -> bool:
        key = self._key(game_id, "rebuilding")
        return bool(await self._client.set(key, node, px=_ms(ttl_seconds), nx=True))

    async def restore(self, game_id: str, image: GameImage, ttl_seconds: float) -> bool:
        qi = image.state["qi"]
        document = {
            "state": {field: str(value) for field, value in image.state.items()},
            "names": image.names,
            "scores": {player: str(score) for player, score in image.scores.items()},
            "streaks": image.streaks,
            "answers": {player: record.decode() for player, record in image.answers.items()},
            "pending": {player: str(points) for player, points in image.pending.items()},
            "kicked": image.kicked,
        }
        restored = await self._restore(
            keys=[
                *self._player_keys(game_id),
                self._key(game_id, "streaks"),
                self._key(game_id, f"answers:{qi}"),
                self._key(game_id, f"pending:{qi}"),
                self._key(game_id, "kicked"),
                f"{self._prefix}active",
                self._key(game_id, "rebuilding"),
            ],
            args=[msgspec.json.encode(document), _ms(ttl_seconds), game_id],
        )
        return bool(restored)

    async def finish(self, game_id: str, ttl_seconds: float) -> None:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.srem(f"{self._prefix}active", game_id)
            for key in self._game_keys(game_id):
                pipe.pexpire(key, _ms(ttl_seconds))
            pipe.delete(self._key(game_id, "lease"))
            await pipe.execute()

    async def close(self) -> None:
        """Nothing of its own to release: the platform closes the shared client."""


def game_store(redis: Redis | None, prefix: str) -> GameStore:
    """Redis when the deployment has it, else this process. The client is the process's
    shared one (``Platform.redis``): its pool makes a burst wait for a free connection,
    and its outage breaker fails calls at once while Redis is down, so a live endpoint
    answers 503 ``hot_store_unavailable`` at once, and is back as soon as the rest is."""
    if redis is None:
        return MemoryGameStore()
    return RedisGameStore(redis, prefix)
