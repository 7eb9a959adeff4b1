"""All SQL of live quizzes."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import delete, select
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


async def add_players(session: AsyncSession, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert players (``LivePlayer`` columns) in one statement; returns the ids of those
    inserted, leaving out each whose ``name_key`` the game already has. Rows go in
    ``name_key`` order, so two batches racing for the same names lock them in the same
    order and never deadlock."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(LivePlayer)
        .values(sorted(rows, key=lambda row: (str(row["game_id"]), row["name_key"])))
        .on_conflict_do_nothing(index_elements=[LivePlayer.game_id, LivePlayer.name_key])
        .returning(LivePlayer.id)
    )
    return set((await session.scalars(statement)).all())


async def delete_players(session: AsyncSession, player_ids: Collection[uuid.UUID]) -> None:
    if player_ids:
        await session.execute(delete(LivePlayer).where(LivePlayer.id.in_(player_ids)))


async def players_of(session: AsyncSession, game_id: uuid.UUID) -> Sequence[LivePlayer]:
    """A game's players (kicked ones too), in the order they joined."""
    query = (
        select(LivePlayer)
        .where(LivePlayer.game_id == game_id)
        .order_by(LivePlayer.joined_at, LivePlayer.id)
    )
    return (await session.scalars(query)).all()


async def answers_of(session: AsyncSession, game_id: uuid.UUID) -> Sequence[LiveAnswer]:
    """Every answer given in a game, by question."""
    query = (
        select(LiveAnswer)
        .where(LiveAnswer.game_id == game_id)
        .order_by(LiveAnswer.question_index, LiveAnswer.id)
    )
    return (await session.scalars(query)).all()


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
