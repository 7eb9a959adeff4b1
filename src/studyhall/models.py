"""Every domain's tables on one metadata, for Alembic and the schema-agreement test."""

from __future__ import annotations

from typing import Any

from studyhall.content import models as content_models
from studyhall.exams import grading_models, integrity_models
from studyhall.exams import models as exam_models
from studyhall.identity import models as identity_models
from studyhall.leaderboards import models as leaderboard_models
from studyhall.live import models as live_models
from studyhall.payments import models as payment_models
from studyhall.platform import models as platform_models
from studyhall.platform.db import Base
from studyhall.questions import models as question_models

metadata = Base.metadata
MODEL_MODULES = (
    platform_models,
    identity_models,
    question_models,
    content_models,
    exam_models,
    grading_models,
    integrity_models,
    leaderboard_models,
    live_models,
    payment_models,
)


def include_in_schema_comparison(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's ``include_object``: leave out what migrations make by hand on purpose
    (full-text search tables and indexes), which no model describes."""
    unmodelled = reflected and compare_to is None
    return not (unmodelled and name in content_models.SEARCH_SCHEMA_OBJECTS)
