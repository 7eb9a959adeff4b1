"""All SQL of live quizzes."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.live.models import LiveAnswer, LiveGame, LivePlayer, LiveQuiz, LiveQuizImage


async def quizzes_of(session: AsyncSession, owner_id: uuid.UUID | None) -> Sequence[LiveQuiz]:
    """An owner's quizzes, newest first; every quiz when ``owner_id`` is None."""
    query = select(LiveQuiz).order_by(LiveQuiz.created_at.desc(), LiveQuiz.id.desc())
    if owner_id is not None:
        query = query.where(LiveQuiz.owner_id == owner_id)
    return (await session.scalars(query)).all()


async def quiz_by_id(session: AsyncSession, quiz_id: uuid.UUID) -> LiveQuiz | None:
    return await session.get(LiveQuiz, quiz_id)


async def game_by_id(session: AsyncSession, game_id: uuid.UUID) -> LiveGame | None:
    return await session.get(LiveGame, game_id)


async def player_by_id(session: AsyncSession, player_id: uuid.UUID) -> LivePlayer | None:
    return await session.get(LivePlayer, player_id)


async def add_player(session: AsyncSession, **values: Any) -> bool:
    """Insert a player (``LivePlayer`` columns); False when the game already has one
    with this ``name_key``. One statement, no savepoint."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(LivePlayer)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[LivePlayer.game_id, LivePlayer.name_key])
        .returning(LivePlayer.id)
    )
    return (await session.execute(statement)).first() is not None


async def live_game_by_code(session: AsyncSession, code: str) -> LiveGame | None:
    return await session.scalar(select(LiveGame).where(LiveGame.live_code == code))


async def export_rows(
    session: AsyncSession, game_id: uuid.UUID
) -> Sequence[tuple[LivePlayer, LiveAnswer | None]]:
    """Every player with each of their answers (or one row without, for a silent player),
    by final rank, then name, then question."""
    query = (
        select(LivePlayer, LiveAnswer)
        .outerjoin(LiveAnswer, LiveAnswer.player_id == LivePlayer.id)
        .where(LivePlayer.game_id == game_id)
        .order_by(
            LivePlayer.final_rank.is_(None),
            LivePlayer.final_rank,
            LivePlayer.name_key,
            LiveAnswer.question_index,
        )
    )
    return [(player, answer) for player, answer in (await session.execute(query)).all()]


async def latest_game_by_code(session: AsyncSession, code: str) -> LiveGame | None:
    """The live game with this code, else the last one that had it (now over)."""
    live = await live_game_by_code(session, code)
    if live is not None:
        return live
    return await session.scalar(
        select(LiveGame)
        .where(LiveGame.join_code == code)
        .order_by(LiveGame.created_at.desc(), LiveGame.id.desc())
        .limit(1)
    )


async def add_image(session: AsyncSession, image: LiveQuizImage) -> None:
    session.add(image)
    await session.flush()


async def image_by_id(session: AsyncSession, image_id: uuid.UUID) -> LiveQuizImage | None:
    return await session.get(LiveQuizImage, image_id)


async def owned_image_ids(
    session: AsyncSession, owner_id: uuid.UUID, image_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these images exist and belong to ``owner_id``."""
    if not image_ids:
        return set()
    query = select(LiveQuizImage.id).where(
        LiveQuizImage.owner_id == owner_id, LiveQuizImage.id.in_(image_ids)
    )
    return set((await session.scalars(query)).all())
