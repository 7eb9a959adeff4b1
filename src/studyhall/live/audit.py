"""The durable record of every accepted answer, written in group commits.

The hot store decides an answer (first one wins); this writes it to the database before
the player's acknowledgement goes out, so an acknowledged answer survives any process.
Answers that arrive while a commit is running wait for the next one, which then writes
them all with one statement: 500 players answering at once cost a few transactions, not
500. The unique key (player, question) makes a write repeated after a retry a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from studyhall.live.models import LiveAnswer
from studyhall.platform.db import json_text

BATCH_ROWS = 500
"""Rows per SQLite statement (PostgreSQL takes a batch as one set of arrays)."""

_SQLITE_INSERT = sqlite.insert(LiveAnswer).on_conflict_do_nothing(
    index_elements=[LiveAnswer.player_id, LiveAnswer.question_index]
)
# One statement text whatever the batch size, so PostgreSQL and asyncpg prepare it once
# (a VALUES list per size meant a new parse and prepare for most batches).
_COLUMNS = (
    ("game_id", "uuid"),
    ("player_id", "uuid"),
    ("question_index", "integer"),
    ("question_id", "text"),
    ("response", "json"),
    ("client_answered_at", "text"),
    ("received_at", "timestamptz"),
    ("response_ms", "integer"),
    ("correct", "boolean"),
    ("points", "integer"),
    ("streak", "integer"),
)
_POSTGRES_INSERT = text(
    f"""
    INSERT INTO live_answers ({", ".join(name for name, _ in _COLUMNS)})
    SELECT * FROM unnest({", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _COLUMNS)})
    ON CONFLICT (player_id, question_index) DO NOTHING
    """
)


def _as_arrays(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    arrays: dict[str, list[Any]] = {name: [row[name] for row in rows] for name, _ in _COLUMNS}
    arrays["response"] = [json_text(response) for response in arrays["response"]]
    return arrays


class AnswerAudit:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.create_task(self._run(), name="live-answer-audit")

    async def record(self, row: dict[str, Any]) -> None:
        """Return once ``row`` (LiveAnswer columns) is committed."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((row, done))
        self._idle.clear()
        self._wake.set()
        await done

    async def flush(self) -> None:
        """Wait until everything recorded so far is committed."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._waiting = self._waiting, []
            if batch:
                await self._write(batch)
            if not self._waiting:
                self._idle.set()

    async def _write(self, batch: list[tuple[dict[str, Any], asyncio.Future[None]]]) -> None:
        rows = [row for row, _ in batch]
        try:
            async with self._engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    await connection.execute(_POSTGRES_INSERT, _as_arrays(rows))
                else:
                    for start in range(0, len(rows), BATCH_ROWS):
                        await connection.execute(_SQLITE_INSERT, rows[start : start + BATCH_ROWS])
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    async def close(self) -> None:
        await self.flush()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
