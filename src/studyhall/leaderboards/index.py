"""The ranked index behind each leaderboard: Redis sorted sets when the deployment has
Redis, an in-process index otherwise; one interface, the same order, both rebuilt from
``exam_standings``.

Order. A board lists higher scores first, then earlier submits. The sorted-set score is
the standing's score itself (an exact double), and the member is
``<16 digits: 10^16-1 minus the submit time in microseconds><user id hex>``: among equal
scores a higher member comes first in reverse order, which is the earlier submit, and the
user id settles the (practically impossible) exact tie the same way on every node.

Updates. Each board keeps, per student, ``version|score|member|maxScore`` in a hash, so an
update replaces the student's old member and is applied only if its version is newer:
updates that arrive out of order, twice, or from a reader healing its own entry never
move a standing backwards.

Builds. A build takes a per-board lock, reads the database, and swaps the new contents
in. Updates that land while it runs are applied to the live board *and* queued; the swap
replays the queue, so nothing committed after the database was read is lost.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast

from redis.asyncio import Redis
from sortedcontainers import SortedList

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_TIME_CEILING = 10**16 - 1  # microseconds: good until the year 2286
BUILD_LOCK_SECONDS = 60.0
KEY_TTL_SECONDS = 7 * 24 * 3600  # a board nobody touched for a week is rebuilt when read
_LOAD_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Board:
    """One exam's board, or the part of it that one cohort's students make up."""

    exam_id: uuid.UUID
    cohort_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Standing:
    """What a board holds for one student."""

    user_id: uuid.UUID
    score: float
    max_score: float
    submitted_at: datetime
    version: int

    @property
    def member(self) -> str:
        micros = (self.submitted_at - _EPOCH) // _MICROSECOND
        return f"{_TIME_CEILING - micros:016d}{self.user_id.hex}"

    def encode(self) -> str:
        return f"{self.version}|{self.score!r}|{self.member}|{self.max_score!r}"

    @classmethod
    def decode(cls, value: str) -> Standing:
        version, score, member, max_score = value.split("|")
        micros = _TIME_CEILING - int(member[:16])
        return cls(
            user_id=uuid.UUID(member[16:]),
            score=float(score),
            max_score=float(max_score),
            submitted_at=_EPOCH + micros * _MICROSECOND,
            version=int(version),
        )


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int  # 1 for the top
    standing: Standing


@dataclass(frozen=True, slots=True)
class BoardView:
    """A read of one board: ``built_at`` is None when it was never built (or was lost)."""

    built_at: float | None
    total: int
    top: list[Ranked]
    me: Ranked | None = None
    around: list[Ranked] = field(default_factory=list)


def _ranked(values: Sequence[str], first_rank: int) -> list[Ranked]:
    return [Ranked(first_rank + i, Standing.decode(value)) for i, value in enumerate(values)]


def _view(
    built_at: float | None,
    total: int,
    top: Sequence[str],
    around: Sequence[str],
    around_start: int,
    user: uuid.UUID | None,
) -> BoardView:
    window = _ranked(around, around_start + 1)
    me = next((item for item in window if item.standing.user_id == user), None)
    return BoardView(built_at, total, _ranked(top, 1), me, window)


class LeaderboardIndex(Protocol):
    async def apply(self, boards: Sequence[Board], standing: Standing) -> bool:
        """Put the standing on each board unless it holds this version or a newer one;
        True when any board changed."""

    async def begin_build(self, board: Board, token: str) -> bool:
        """Take the board's build lock; False while another build holds it."""

    async def finish_build(
        self, board: Board, token: str, standings: Sequence[Standing], built_at: float
    ) -> bool:
        """Swap in ``standings`` plus every update queued since :meth:`begin_build`;
        False (and nothing changed) when the lock was lost meanwhile."""

    async def abort_build(self, board: Board, token: str) -> None: ...

    async def read(
        self, board: Board, *, top: int, user: uuid.UUID | None, radius: int
    ) -> BoardView:
        """The first ``top`` entries and, if ``user`` is on the board, the ``radius``
        entries either side of them."""


# --- in-process ------------------------------------------------------------------------------


class _MemoryBoard:
    """Entries ordered by (score, member) ascending, Redis's order, read from the end."""

    __slots__ = ("building", "built_at", "ordered", "pending", "standings")

    def __init__(self) -> None:
        self.ordered = SortedList()
        self.standings: dict[uuid.UUID, Standing] = {}
        self.built_at: float | None = None
        self.building: str | None = None
        self.pending: list[Standing] = []

    def upsert(self, standing: Standing) -> bool:
        current = self.standings.get(standing.user_id)
        if current is not None:
            if current.version >= standing.version:
                return False
            self.ordered.remove((current.score, current.member))
        self.ordered.add((standing.score, standing.member))
        self.standings[standing.user_id] = standing
        return True

    def replace(self, standings: Sequence[Standing]) -> None:
        self.ordered = SortedList((item.score, item.member) for item in standings)
        self.standings = {item.user_id: item for item in standings}

    def values(self, start: int, stop: int) -> list[str]:
        """Encoded entries from reverse position ``start`` to ``stop`` inclusive."""
        size = len(self.ordered)
        stop = min(stop, size - 1)
        if start > stop:
            return []
        window = self.ordered.islice(size - 1 - stop, size - start, reverse=True)
        return [self.standings[uuid.UUID(member[16:])].encode() for _score, member in window]

    def rank_of(self, user: uuid.UUID) -> int | None:
        standing = self.standings.get(user)
        if standing is None:
            return None
        index = cast(int, self.ordered.index((standing.score, standing.member)))
        return len(self.ordered) - 1 - index


class MemoryLeaderboardIndex:
    """The embedded deployment's index. No method awaits, so each runs whole before any
    other coroutine sees the boards. At most ``max_boards`` are kept, the least recently
    used leaving first (a board that left is rebuilt when read again)."""

    def __init__(self, max_boards: int = 500) -> None:
        self._boards: OrderedDict[Board, _MemoryBoard] = OrderedDict()
        self._max_boards = max_boards

    def _board(self, board: Board) -> _MemoryBoard:
        found = self._boards.get(board)
        if found is None:
            found = self._boards[board] = _MemoryBoard()
            while len(self._boards) > self._max_boards:
                self._boards.popitem(last=False)
        else:
            self._boards.move_to_end(board)
        return found

    async def apply(self, boards: Sequence[Board], standing: Standing) -> bool:
        changed = False
        for board in boards:
            target = self._board(board)
            if target.building is not None:
                target.pending.append(standing)
            changed = target.upsert(standing) or changed
        return changed

    async def begin_build(self, board: Board, token: str) -> bool:
        target = self._board(board)
        if target.building is not None:
            return False
        target.building = token
        target.pending = []
        return True

    async def finish_build(
        self, board: Board, token: str, standings: Sequence[Standing], built_at: float
    ) -> bool:
        target = self._boards.get(board)
        if target is None or target.building != token:
            return False
        target.replace(standings)
        for standing in target.pending:
            target.upsert(standing)
        target.building = None
        target.pending = []
        target.built_at = built_at
        return True

    async def abort_build(self, board: Board, token: str) -> None:
        target = self._boards.get(board)
        if target is not None and target.building == token:
            target.building = None
            target.pending = []

    async def read(
        self, board: Board, *, top: int, user: uuid.UUID | None, radius: int
    ) -> BoardView:
        target = self._board(board)
        rank = target.rank_of(user) if user is not None else None
        start = max(rank - radius, 0) if rank is not None else 0
        around = target.values(start, rank + radius) if rank is not None else []
        return _view(
            target.built_at, len(target.ordered), target.values(0, top - 1), around, start, user
        )


# --- Redis ------------------------------------------------------------------------------------

_UPSERT = """
local function upsert(z, h, user, value)
  local version, score, member = string.match(value, '^(%d+)|([^|]+)|([^|]+)|')
  local current = redis.call('HGET', h, user)
  if current then
    local old_version, _, old_member = string.match(current, '^(%d+)|([^|]+)|([^|]+)|')
    if tonumber(old_version) >= tonumber(version) then return 0 end
    redis.call('ZREM', z, old_member)
  end
  redis.call('ZADD', z, score, member)
  redis.call('HSET', h, user, value)
  return 1
end
"""

# KEYS: per board z, h, building, pending. ARGV: user, value, ttl ms.
_APPLY = (
    _UPSERT
    + """
local changed = 0
for i = 1, #KEYS, 4 do
  if redis.call('EXISTS', KEYS[i + 2]) == 1 then
    redis.call('RPUSH', KEYS[i + 3], ARGV[1] .. ' ' .. ARGV[2])
    redis.call('PEXPIRE', KEYS[i + 3], ARGV[3])
  end
  changed = changed + upsert(KEYS[i], KEYS[i + 1], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
  redis.call('PEXPIRE', KEYS[i + 1], ARGV[3])
end
return changed
"""
)

# KEYS: z, h, building, pending, meta, new z, new h. ARGV: token, built_at, ttl ms.
_FINISH = (
    _UPSERT
    + """
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  redis.call('DEL', KEYS[6], KEYS[7])
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
if redis.call('EXISTS', KEYS[6]) == 1 then redis.call('RENAME', KEYS[6], KEYS[1]) end
if redis.call('EXISTS', KEYS[7]) == 1 then redis.call('RENAME', KEYS[7], KEYS[2]) end
for _, item in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do
  local user, value = string.match(item, '^(%S+) (.+)$')
  upsert(KEYS[1], KEYS[2], user, value)
end
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('SET', KEYS[5], ARGV[2], 'PX', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
"""
)

# KEYS: building, new z, new h. ARGV: token.
_ABORT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('DEL', KEYS[2], KEYS[3])
return 0
"""

# KEYS: z, h, meta. ARGV: top, user hex ('' for none), radius.
_READ = """
local top = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local around, start = {}, 0
if ARGV[2] ~= '' then
  local mine = redis.call('HGET', KEYS[2], ARGV[2])
  if mine then
    local member = string.match(mine, '^%d+|[^|]+|([^|]+)|')
    local rank = redis.call('ZREVRANK', KEYS[1], member)
    if rank then
      start = math.max(rank - tonumber(ARGV[3]), 0)
      around = redis.call('ZREVRANGE', KEYS[1], start, rank + tonumber(ARGV[3]))
    end
  end
end
local users = {}
for _, member in ipairs(top) do users[#users + 1] = string.sub(member, 17) end
for _, member in ipairs(around) do users[#users + 1] = string.sub(member, 17) end
local values = {}
if #users > 0 then values = redis.call('HMGET', KEYS[2], unpack(users)) end
return {redis.call('GET', KEYS[3]) or '', redis.call('ZCARD', KEYS[1]), #top, start, values}
"""


def _millis(seconds: float) -> int:
    return round(seconds * 1000)


class RedisLeaderboardIndex:
    """The scaled deployment's index: every board's keys share one hash tag (the exam), so
    the scripts that touch several of them also run on a Redis Cluster."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._apply = client.register_script(_APPLY)
        self._finish = client.register_script(_FINISH)
        self._abort = client.register_script(_ABORT)
        self._read = client.register_script(_READ)

    def _key(self, board: Board, part: str) -> str:
        scope = board.cohort_id.hex if board.cohort_id else "all"
        return f"{self._prefix}lb:{{{board.exam_id.hex}}}:{scope}:{part}"

    def _new(self, board: Board, token: str) -> tuple[str, str]:
        return self._key(board, f"new:{token}:z"), self._key(board, f"new:{token}:h")

    async def apply(self, boards: Sequence[Board], standing: Standing) -> bool:
        keys = [
            self._key(board, part) for board in boards for part in ("z", "h", "building", "pending")
        ]
        args: list[str | int] = [standing.user_id.hex, standing.encode(), _millis(KEY_TTL_SECONDS)]
        return bool(await self._apply(keys=keys, args=args))

    async def begin_build(self, board: Board, token: str) -> bool:
        taken = await self._client.set(
            self._key(board, "building"), token, nx=True, px=_millis(BUILD_LOCK_SECONDS)
        )
        return bool(taken)

    async def finish_build(
        self, board: Board, token: str, standings: Sequence[Standing], built_at: float
    ) -> bool:
        new_z, new_h = self._new(board, token)
        async with self._client.pipeline(transaction=False) as pipe:
            for start in range(0, len(standings), _LOAD_CHUNK):
                chunk = standings[start : start + _LOAD_CHUNK]
                pipe.zadd(new_z, {item.member: item.score for item in chunk})
                pipe.hset(new_h, mapping={item.user_id.hex: item.encode() for item in chunk})
            pipe.pexpire(new_z, _millis(BUILD_LOCK_SECONDS))
            pipe.pexpire(new_h, _millis(BUILD_LOCK_SECONDS))
            await pipe.execute()
        keys = [
            *(self._key(board, part) for part in ("z", "h", "building", "pending", "meta")),
            new_z,
            new_h,
        ]
        args: list[str | int] = [token, repr(built_at), _millis(KEY_TTL_SECONDS)]
        return bool(await self._finish(keys=keys, args=args))

    async def abort_build(self, board: Board, token: str) -> None:
        await self._abort(
            keys=[self._key(board, "building"), *self._new(board, token)], args=[token]
        )

    async def read(
        self, board: Board, *, top: int, user: uuid.UUID | None, radius: int
    ) -> BoardView:
        keys = [self._key(board, part) for part in ("z", "h", "meta")]
        built, total, top_count, start, raw = cast(
            list[object],
            await self._read(keys=keys, args=[top, user.hex if user else "", radius]),
        )
        values = [value.decode() for value in cast(list[bytes], raw)]
        count = cast(int, top_count)
        return _view(
            float(cast(bytes, built)) if built else None,
            cast(int, total),
            values[:count],
            values[count:],
            cast(int, start),
            user,
        )
