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

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from studyhall.live.models import LiveAnswer

BATCH_ROWS = 500


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
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(LiveAnswer).on_conflict_do_nothing(
            index_elements=[LiveAnswer.player_id, LiveAnswer.question_index]
        )
        try:
            async with self._engine.begin() as connection:
                for start in range(0, len(batch), BATCH_ROWS):
                    rows = [row for row, _ in batch[start : start + BATCH_ROWS]]
                    await connection.execute(statement, rows)
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
