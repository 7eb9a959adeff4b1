"""Models and migrations agree, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from studyhall.config import Settings
from studyhall.models import include_in_schema_comparison, metadata
from studyhall.platform.db import create_engine
from studyhall.platform.migrate import alembic_config, upgrade
from tests.conftest import base_settings
from tests.services import scratch_postgres


def _differences(settings: Settings) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "include_object": include_in_schema_comparison},
        )
        return list(compare_metadata(context, metadata))

    async def run() -> list[Any]:
        engine = create_engine(settings)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _round_trip(settings: Settings) -> None:
    """Every downgrade works and the schema comes back identical."""
    command.downgrade(alembic_config(settings), "base")
    upgrade(settings)
    assert _differences(settings) == []


def test_sqlite_migrations_match_the_models(tmp_path: Path) -> None:
    settings = base_settings(tmp_path)
    upgrade(settings)
    assert _differences(settings) == []
    # Running the migrations again is a no-op (serve migrates on every start).
    upgrade(settings)
    _round_trip(settings)


@pytest.mark.services
async def test_postgres_migrations_match_the_models(tmp_path: Path) -> None:
    async with scratch_postgres("migrations") as url:
        settings = base_settings(tmp_path, database_url=url)
        await asyncio.to_thread(upgrade, settings)
        assert await asyncio.to_thread(_differences, settings) == []
        await asyncio.to_thread(_round_trip, settings)
