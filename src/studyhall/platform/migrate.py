"""Run Alembic migrations from code (``studyhall migrate``, ``serve`` on embedded, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from studyhall.config import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["settings"] = settings
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the database to ``revision``; safe to run on every start."""
    command.upgrade(alembic_config(settings), revision)
