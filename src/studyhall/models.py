"""Every domain's tables on one metadata, for Alembic and the schema-agreement test."""

from __future__ import annotations

from studyhall.identity import models as identity_models
from studyhall.platform import models as platform_models
from studyhall.platform.db import Base
from studyhall.questions import models as question_models

metadata = Base.metadata
MODEL_MODULES = (platform_models, identity_models, question_models)
