"""All question-bank SQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.questions.models import (
    BankShare,
    Question,
    QuestionBank,
    QuestionCategory,
    QuestionFile,
    QuestionTag,
    QuestionVersion,
)

# Rows per INSERT statement when importing: large files go in a few round trips.
INSERT_BATCH = 500


async def bank_by_id(session: AsyncSession, bank_id: uuid.UUID) -> QuestionBank | None:
    return await session.get(QuestionBank, bank_id)


async def is_shared_with(session: AsyncSession, bank_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    query = select(BankShare.user_id).where(
        BankShare.bank_id == bank_id, BankShare.user_id == user_id
    )
    return (await session.execute(query)).first() is not None


async def banks_visible_to(
    session: AsyncSession, user_id: uuid.UUID | None
) -> list[tuple[QuestionBank, int]]:
    """Banks owned by or shared with ``user_id`` (all banks for None), with question counts."""
    counts = (
        select(Question.bank_id, func.count().label("questions"))
        .group_by(Question.bank_id)
        .subquery()
    )
    query = (
        select(QuestionBank, func.coalesce(counts.c.questions, 0))
        .outerjoin(counts, counts.c.bank_id == QuestionBank.id)
        .order_by(QuestionBank.name, QuestionBank.id)
    )
    if user_id is not None:
        shared = select(BankShare.bank_id).where(BankShare.user_id == user_id)
        query = query.where(or_(QuestionBank.owner_id == user_id, QuestionBank.id.in_(shared)))
    return [(bank, int(count)) for bank, count in (await session.execute(query)).all()]


async def categories(session: AsyncSession, bank_id: uuid.UUID) -> Sequence[QuestionCategory]:
    query = (
        select(QuestionCategory)
        .where(QuestionCategory.bank_id == bank_id)
        .order_by(QuestionCategory.path)
    )
    return (await session.execute(query)).scalars().all()


async def insert_rows(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    """Plain multi-row INSERTs (no ORM bookkeeping) for imports of thousands of rows."""
    for start in range(0, len(rows), INSERT_BATCH):
        await session.execute(insert(table), rows[start : start + INSERT_BATCH])


_IS_CURRENT = and_(
    QuestionVersion.question_id == Question.id,
    QuestionVersion.version == Question.current_version,
)


def _current_versions() -> Select[Question, QuestionVersion]:
    return select(Question, QuestionVersion).join(QuestionVersion, _IS_CURRENT)


async def question_with_version(
    session: AsyncSession, question_id: uuid.UUID
) -> tuple[Question, QuestionVersion] | None:
    row = (
        await session.execute(_current_versions().where(Question.id == question_id))
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def current_version_ids(
    session: AsyncSession, question_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID, int]]:
    """Each question's current version id and number, in one query (no content: the
    content of a version comes from ``frozen``'s cache)."""
    if not question_ids:
        return {}
    query = (
        select(Question.id, QuestionVersion.id, QuestionVersion.version)
        .join(QuestionVersion, _IS_CURRENT)
        .where(Question.id.in_(set(question_ids)))
    )
    rows = (await session.execute(query)).all()
    return {question_id: (version_id, number) for question_id, version_id, number in rows}


async def mark_versions_seen(
    session: AsyncSession, version_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Set ``seen`` on those not seen yet and return their ids, locking them in id order
    first: concurrent callers then queue on the same first row instead of each holding
    rows the other wants (an UPDATE's own row order follows the plan and the table's
    layout)."""
    locked = (
        select(QuestionVersion.id)
        .where(QuestionVersion.id.in_(set(version_ids)), QuestionVersion.seen.is_(False))
        .order_by(QuestionVersion.id)
        .with_for_update()
    )
    marked = await session.execute(
        update(QuestionVersion)
        .where(QuestionVersion.id.in_(locked))
        .values(seen=True)
        .returning(QuestionVersion.id)
        .execution_options(synchronize_session=False)
    )
    return set(marked.scalars())


async def lock_version(session: AsyncSession, version_id: uuid.UUID) -> bool:
    """Whether the version is seen, read under its row lock (held to the end of the
    transaction): an edit and a start marking it seen take turns. A no-op UPDATE rather
    than ``SELECT ... FOR UPDATE`` so that SQLite, which starts its write transaction only
    at the first write, serialises it with the start's mark too."""
    query = (
        update(QuestionVersion)
        .where(QuestionVersion.id == version_id)
        .values(seen=QuestionVersion.seen)
        .returning(QuestionVersion.seen)
        .execution_options(synchronize_session=False)
    )
    return bool((await session.execute(query)).scalar_one())


async def list_questions(
    session: AsyncSession,
    bank_id: uuid.UUID,
    *,
    category_ids: Sequence[uuid.UUID] | None,
    tags: Sequence[str],
    kind: str | None,
    difficulty: str | None,
    limit: int | None,
    offset: int,
) -> list[tuple[Question, QuestionVersion]]:
    query = _current_versions().where(Question.bank_id == bank_id)
    if category_ids is not None:
        query = query.where(Question.category_id.in_(category_ids))
    for tag in tags:
        tagged = select(QuestionTag.question_id).where(QuestionTag.tag == tag)
        query = query.where(Question.id.in_(tagged))
    if kind is not None:
        query = query.where(QuestionVersion.kind == kind)
    if difficulty is not None:
        query = query.where(QuestionVersion.difficulty == difficulty)
    query = query.order_by(Question.created_at, Question.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [(question, version) for question, version in (await session.execute(query)).all()]


async def tags_of(
    session: AsyncSession, question_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = {}
    if not question_ids:
        return found
    query = (
        select(QuestionTag.question_id, QuestionTag.tag)
        .where(QuestionTag.question_id.in_(question_ids))
        .order_by(QuestionTag.tag)
    )
    for question_id, tag in (await session.execute(query)).all():
        found.setdefault(question_id, []).append(tag)
    return found


async def replace_tags(session: AsyncSession, question_id: uuid.UUID, tags: list[str]) -> None:
    await session.execute(delete(QuestionTag).where(QuestionTag.question_id == question_id))
    if tags:
        await insert_rows(
            session, QuestionTag, [{"question_id": question_id, "tag": tag} for tag in tags]
        )


async def file_by_id(session: AsyncSession, file_id: uuid.UUID) -> QuestionFile | None:
    return await session.get(QuestionFile, file_id)


async def files_of(
    session: AsyncSession, question_ids: Sequence[uuid.UUID]
) -> Sequence[QuestionFile]:
    if not question_ids:
        return []
    query = (
        select(QuestionFile)
        .where(QuestionFile.question_id.in_(question_ids))
        .order_by(QuestionFile.question_id, QuestionFile.filename)
    )
    return (await session.execute(query)).scalars().all()


async def files_of_bank(session: AsyncSession, bank_id: uuid.UUID) -> Sequence[QuestionFile]:
    query = (
        select(QuestionFile)
        .where(QuestionFile.bank_id == bank_id)
        .order_by(QuestionFile.question_id, QuestionFile.filename)
    )
    return (await session.execute(query)).scalars().all()


async def versions_with_banks(
    session: AsyncSession, version_ids: Sequence[uuid.UUID]
) -> list[tuple[QuestionVersion, uuid.UUID]]:
    """Exact versions (what an exam session froze), whatever the questions' current ones,
    each with its bank."""
    if not version_ids:
        return []
    query = (
        select(QuestionVersion, Question.bank_id)
        .join(Question, Question.id == QuestionVersion.question_id)
        .where(QuestionVersion.id.in_(set(version_ids)))
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]
