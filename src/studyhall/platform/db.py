"""One schema, two engines: SQLite (WAL) embedded, PostgreSQL (asyncpg) scaled."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Column, DateTime, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from studyhall.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 5000


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Binder = Callable[[Any], Any]


def _unchanged(value: Any) -> Any:
    return value


@functools.cache
def column_binders(dialect: Dialect, columns: Sequence[Column[Any]]) -> list[Binder]:
    """Each column's own bind conversion (UUID hex, datetime text, JSON text), for
    hand-written batch statements that must store exactly what the ORM stores and
    reads back. ``columns`` is a tuple (the cache key)."""
    return [
        column.type.dialect_impl(dialect).bind_processor(dialect) or _unchanged
        for column in columns
    ]


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def json_text(value: Any) -> str:
    """JSON as the engines store it; also for hand-written batch statements (arrays of
    ``json`` on PostgreSQL)."""
    return _json_encoder.encode(value).decode()


_json_encoder = msgspec.json.Encoder()


# JSON columns (a session's questions, each saved answer) are read on every submit;
# msgspec decodes them several times faster than the standard library.
_JSON = {"json_serializer": json_text, "json_deserializer": msgspec.json.decode}


def create_engine(settings: Settings) -> AsyncEngine:
    """The engine for ``settings.database_url``, tuned for its dialect; SQL parameters
    (password hashes, emails) are kept out of logs and error messages."""
    if settings.is_sqlite:
        path = settings.database_url.split(":///", 1)[-1]
        if path and path != ":memory:":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(settings.database_url, hide_parameters=True, **_JSON)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        pool_timeout=5,
        hide_parameters=True,
        connect_args={"timeout": 5, "command_timeout": 30},
        **_JSON,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def unit_of_work(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed before the response is sent, else rolled back."""
    async with session_factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
