"""Joining a live game, in group commits (``platform/batching.py``).

A class joins within seconds. One transaction and one hot-store step per join queue up
behind each other, so here a join is checked on its own (rate limit per address, name,
word list) and then waits for this process's next batch, which does per game:

- one read of the game's state (none when this node knows the code);
- one ``INSERT ... ON CONFLICT DO NOTHING`` of the batch's players: a name an earlier
  commit holds stays taken, and of two players of one batch picking the same name the
  first in the queue wins it (409 ``name_taken`` for the other);
- one atomic hot-store step that adds them and refuses those past the game's player
  limit (409 ``game_full``; their rows are deleted before the commit), so no batch and no
  other node overshoots the limit;
- the commit, then one publication of all their ``player_joined`` events (and the
  lobby's ``countdown`` when they started it). If the commit fails, the hot store
  forgets them again and each of them gets a 503 to retry.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from studyhall.live import repository
from studyhall.live.engine import LiveEngine
from studyhall.live.schemas import JoinOut
from studyhall.live.service import live_game, resume_token
from studyhall.live.store import GAME_FULL, Joined
from studyhall.platform.auth import Actor
from studyhall.platform.batching import GroupCommit
from studyhall.platform.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    RateLimited,
    ServiceUnavailable,
    transient_outage,
)
from studyhall.platform.ids import new_id

logger = logging.getLogger("studyhall.live")

MAX_NAME = 30
JOIN_WINDOW_SECONDS = 60
MAX_BATCH = 256
# Digits and symbols people put in for letters to slip a word past a list.
_LOOKALIKES = str.maketrans("013457$@", "oieastsa")


class NameTaken(Conflict):
    code = "name_taken"
    title = "Someone in this game already has that name"


class NameNotAllowed(InvalidInput):
    code = "name_not_allowed"
    title = "That name is not allowed"


class InvalidName(InvalidInput):
    code = "invalid_name"
    title = "The name must be 1 to 30 characters"


class GameFull(Conflict):
    code = "game_full"
    title = "The game has as many players as it allows"


def _blocked(name: str, blocked: frozenset[str]) -> bool:
    folded = name.casefold().translate(_LOOKALIKES)
    words = re.findall(r"[^\W_]+", folded)
    return any(word in blocked for word in words) or "".join(words) in blocked


@functools.lru_cache(maxsize=4)
def blocked_names(raw: str) -> frozenset[str]:
    """The setting's word list, parsed once rather than on every join."""
    return frozenset(word.strip().casefold() for word in raw.split(",") if word.strip())


@dataclass(frozen=True, slots=True)
class JoinRequest:
    join_code: str
    name: str
    """As shown: inner runs of spaces folded to one."""
    user_id: uuid.UUID | None
    client_ip: str


Outcome = JoinOut | Exception


def _failure() -> Exception:
    return ServiceUnavailable("The join could not be completed; retry")


class Joins:
    """One per process: the batched joins of every game."""

    def __init__(self, engine: LiveEngine) -> None:
        self._engine = engine
        self._commits: GroupCommit[JoinRequest, JoinOut] = GroupCommit(
            self._batch, name="live-joins", max_batch=MAX_BATCH, failure=_failure
        )

    async def join(
        self, join_code: str, name: str, *, client_ip: str, actor: Actor | None
    ) -> JoinOut:
        """Join the live game with this code under a name no other player of it has."""
        engine = self._engine
        settings = engine.settings
        decision = await engine.platform.limiter.hit(
            f"live:join:{client_ip}",
            limit=settings.live_join_limit_per_ip,
            window_seconds=JOIN_WINDOW_SECONDS,
        )
        if not decision.allowed:
            raise RateLimited(decision.retry_after)
        shown = " ".join(name.split())
        if not 1 <= len(shown) <= MAX_NAME:
            raise InvalidName()
        if _blocked(shown, blocked_names(settings.live_blocked_names)):
            raise NameNotAllowed()
        user_id = actor.user_id if actor else None
        return await self._commits.submit(JoinRequest(join_code, shown, user_id, client_ip[:64]))

    async def close(self) -> None:
        await self._commits.close()

    async def _batch(self, requests: list[JoinRequest]) -> list[JoinOut | BaseException]:
        """Each game's joins on their own: one game's failure is not another's."""
        by_code: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            by_code.setdefault(request.join_code, []).append(index)
        outcomes: dict[int, Outcome] = {}
        for code, indices in by_code.items():
            group = [requests[index] for index in indices]
            results: list[Outcome]
            try:
                results = await self._join_game(code, group)
            except DomainError as exc:
                results = [copy.copy(exc) for _ in group]
            except Exception as exc:
                outage = transient_outage(exc)
                if outage is None:
                    logger.exception("live joins to %s: a batch of %d failed", code, len(group))
                results = [copy.copy(outage) if outage else _failure() for _ in group]
            outcomes.update(zip(indices, results, strict=True))
        return [outcomes[index] for index in range(len(requests))]

    async def _join_game(self, code: str, requests: list[JoinRequest]) -> list[Outcome]:
        """One game's share of a batch (see the module's docstring)."""
        engine = self._engine
        outcomes: list[Outcome] = [NameTaken() for _ in requests]
        rows: dict[int, dict[str, Any]] = {}
        now = engine.clock.now()
        joined: Joined | None = None
        try:
            async with engine.platform.sessions.begin() as session:
                game_id, state = await live_game(session, engine, code)
                game = await engine.definition(str(game_id))
                if game.max_players is not None and state.players >= game.max_players:
                    return [GameFull() for _ in requests]
                names: set[str] = set()
                for index, request in enumerate(requests):
                    key = request.name.casefold()
                    if key not in names:  # else the first of the batch has it
                        names.add(key)
                        rows[index] = {
                            "id": new_id(),
                            "game_id": game_id,
                            "name": request.name,
                            "name_key": key,
                            "user_id": request.user_id,
                            "client_ip": request.client_ip,
                            "joined_at": now,
                        }
                inserted = await repository.add_players(session, list(rows.values()))
                added = [index for index, row in rows.items() if row["id"] in inserted]
                players = [(str(rows[index]["id"]), rows[index]["name"]) for index in added]
                auto_start_at = engine.auto_start_at(game)
                joined = await engine.add_players(game, players, auto_start_at)
                event_ids = dict(zip(added, joined.event_ids, strict=True))
                full = [rows[index]["id"] for index in added if event_ids[index] == GAME_FULL]
                await repository.delete_players(session, full)
        except BaseException:
            if joined is not None:  # the commit failed: take them out of the game again
                new = [
                    player
                    for (player, _), event_id in zip(players, joined.event_ids, strict=True)
                    if event_id > 0
                ]
                with contextlib.suppress(Exception):
                    await engine.store.remove_players(game.game_id, new)
            raise
        try:
            await engine.announce_joins(game, players, joined, auto_start_at)
        except Exception as exc:  # they are in; the host's screen shows them on its next snapshot
            logger.warning("live game %s: joins not announced (%s)", game.game_id, exc)
        for index in added:
            outcomes[index] = (
                GameFull() if event_ids[index] == GAME_FULL else self._joined(code, rows[index])
            )
        return outcomes

    def _joined(self, code: str, row: dict[str, Any]) -> JoinOut:
        game_id, player_id = str(row["game_id"]), str(row["id"])
        return JoinOut(
            quiz_id=code,
            game_id=row["game_id"],
            participant_id=row["id"],
            resume_token=resume_token(self._engine.settings.secret_key, game_id, player_id),
        )
