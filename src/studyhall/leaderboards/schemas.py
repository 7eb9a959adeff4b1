"""Wire types of the leaderboard API (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec


class EntryOut(msgspec.Struct, rename="camel", kw_only=True):
    """One student's place: a display name, never an email."""

    rank: int
    user_id: uuid.UUID
    display_name: str
    score: float
    percentage: float
    submitted_at: datetime


class LeaderboardOut(msgspec.Struct, rename="camel", kw_only=True):
    """``top``: the first N; ``me``: the caller's own entry (None without a final result);
    ``around``: with ``around=me``, up to 5 entries either side of the caller and the
    caller, in order."""

    exam_id: uuid.UUID
    exam_title: str
    attempt_policy: str
    cohort_id: uuid.UUID | None
    total: int
    top: list[EntryOut]
    me: EntryOut | None
    around: list[EntryOut]
