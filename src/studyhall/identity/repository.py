"""All identity SQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.identity.models import Cohort, CohortMember, Notification, User, WebSession


class DuplicateRow(Exception):
    """A unique key refused the insert (the row exists already)."""


async def _insert(session: AsyncSession, row: object) -> None:
    """Insert in a savepoint so a unique-key clash leaves the transaction usable."""
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise DuplicateRow(str(exc.orig)) from exc


async def add_user(session: AsyncSession, user: User) -> None:
    await _insert(session, user)


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email))
    return result.scalar_one_or_none()


async def list_users(
    session: AsyncSession, *, role: str | None, limit: int, offset: int
) -> Sequence[User]:
    query = select(User).order_by(User.created_at, User.id).limit(limit).offset(offset)
    if role is not None:
        query = query.where(User.role == role)
    return (await session.execute(query)).scalars().all()


async def set_password(
    session: AsyncSession, user_id: uuid.UUID, password_hash: str, now: datetime
) -> int:
    """Store the new hash and bump the token generation; returns the new generation."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            password_hash=password_hash,
            token_generation=User.token_generation + 1,
            updated_at=now,
        )
        .returning(User.token_generation)
    )
    return int(result.scalar_one())


async def add_web_session(session: AsyncSession, web_session: WebSession) -> None:
    session.add(web_session)
    await session.flush()


async def web_session_user(
    session: AsyncSession, token_hash: str, now: datetime
) -> tuple[User, datetime] | None:
    """The user of a live session, and when the session expires."""
    query = (
        select(User, WebSession.expires_at)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.token_hash == token_hash, WebSession.expires_at > now)
    )
    row = (await session.execute(query)).one_or_none()
    return None if row is None else (row[0], row[1])


async def delete_web_session(session: AsyncSession, token_hash: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


async def delete_other_web_sessions(
    session: AsyncSession, user_id: uuid.UUID, keep_token_hash: str | None
) -> None:
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep_token_hash is not None:
        query = query.where(WebSession.token_hash != keep_token_hash)
    await session.execute(query)


async def add_cohort(session: AsyncSession, cohort: Cohort) -> None:
    await _insert(session, cohort)


async def cohort_by_id(session: AsyncSession, cohort_id: uuid.UUID) -> Cohort | None:
    return await session.get(Cohort, cohort_id)


async def cohorts_with_counts(
    session: AsyncSession, *, owner_id: uuid.UUID | None, member_id: uuid.UUID | None
) -> list[tuple[Cohort, int]]:
    """Cohorts (optionally only those owned by, or containing, a user) with member counts."""
    counts = (
        select(CohortMember.cohort_id, func.count().label("members"))
        .group_by(CohortMember.cohort_id)
        .subquery()
    )
    query = (
        select(Cohort, func.coalesce(counts.c.members, 0))
        .outerjoin(counts, counts.c.cohort_id == Cohort.id)
        .order_by(Cohort.name, Cohort.id)
    )
    if owner_id is not None:
        query = query.where(Cohort.owner_id == owner_id)
    if member_id is not None:
        query = query.where(
            Cohort.id.in_(select(CohortMember.cohort_id).where(CohortMember.user_id == member_id))
        )
    rows = (await session.execute(query)).all()
    return [(cohort, int(count)) for cohort, count in rows]


async def cohort_members(
    session: AsyncSession, cohort_id: uuid.UUID
) -> list[tuple[User, datetime]]:
    query = (
        select(User, CohortMember.added_at)
        .join(CohortMember, CohortMember.user_id == User.id)
        .where(CohortMember.cohort_id == cohort_id)
        .order_by(User.name, User.id)
    )
    return [(user, added_at) for user, added_at in (await session.execute(query)).all()]


async def is_cohort_member(session: AsyncSession, cohort_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    query = select(CohortMember.user_id).where(
        CohortMember.cohort_id == cohort_id, CohortMember.user_id == user_id
    )
    return (await session.execute(query)).first() is not None


async def cohort_members_among(
    session: AsyncSession, cohort_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these users belong to the cohort, in one query."""
    query = select(CohortMember.user_id).where(
        CohortMember.cohort_id == cohort_id, CohortMember.user_id.in_(set(user_ids))
    )
    return set((await session.execute(query)).scalars())


async def add_cohort_member(session: AsyncSession, member: CohortMember) -> bool:
    """Add a member; False when already there (adding twice is harmless)."""
    try:
        await _insert(session, member)
    except DuplicateRow:
        return False
    return True


async def remove_cohort_member(
    session: AsyncSession, cohort_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    result = await session.execute(
        delete(CohortMember).where(
            CohortMember.cohort_id == cohort_id, CohortMember.user_id == user_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def notifications_for(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int
) -> Sequence[Notification]:
    query = (
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()
