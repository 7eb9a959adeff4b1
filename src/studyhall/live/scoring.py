"""Live quiz scoring: pure functions of what the server measured, nothing else.

``classic`` is seed 003: 100 for a correct answer, a time bonus of up to 50 that falls
linearly to 0 over the first 20 s, and a streak bonus of 10 for every correct answer in
a row before this one, at most 100. ``speed`` is Kahoot's rule: the question's points
times ``1 - (response time / time limit) / 2``, full points when answered within 0.5 s.
A question's ``points`` (none, standard, double) multiplies the base and time parts; the
streak bonus rewards the run, not the question, so it is not doubled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Scoring = Literal["classic", "speed"]
PointsLevel = Literal["none", "standard", "double"]

POINT_FACTORS: dict[str, int] = {"none": 0, "standard": 1, "double": 2}

CLASSIC_BASE = 100
CLASSIC_TIME_BONUS = 50
CLASSIC_TIME_WINDOW_SECONDS = 20.0
CLASSIC_STREAK_STEP = 10
CLASSIC_STREAK_CAP = 100
SPEED_BASE = 1000
SPEED_FULL_POINTS_SECONDS = 0.5


def classic_points(
    *, correct: bool, response_seconds: float, previous_streak: int, factor: int
) -> int:
    """Points of one answer under ``classic``; a wrong or unscored answer earns 0."""
    if not correct or factor == 0:
        return 0
    elapsed = min(max(response_seconds, 0.0), CLASSIC_TIME_WINDOW_SECONDS)
    time_bonus = round(CLASSIC_TIME_BONUS * (1 - elapsed / CLASSIC_TIME_WINDOW_SECONDS))
    streak_bonus = min(CLASSIC_STREAK_STEP * max(previous_streak, 0), CLASSIC_STREAK_CAP)
    return factor * (CLASSIC_BASE + time_bonus) + streak_bonus


def speed_points(
    *, correct: bool, response_seconds: float, limit_seconds: float, factor: int
) -> int:
    """Points of one answer under ``speed``; at the time limit a correct answer keeps half."""
    if not correct or factor == 0:
        return 0
    base = SPEED_BASE * factor
    if response_seconds <= SPEED_FULL_POINTS_SECONDS:
        return base
    share = min(response_seconds / limit_seconds, 1.0)
    return math.floor(base * (1 - share / 2) + 0.5)


@dataclass(frozen=True, slots=True)
class Award:
    points: int
    streak: int
    """The player's run of correct scored answers after this one."""


def award(
    scoring: Scoring,
    *,
    correct: bool | None,
    response_seconds: float,
    limit_seconds: float,
    factor: int,
    previous_streak: int,
) -> Award:
    """Points and the new streak for one answer. ``correct`` is None for an unscored
    question (a poll, or points ``none``), which neither extends nor breaks a streak."""
    if correct is None or factor == 0:
        return Award(points=0, streak=previous_streak)
    if scoring == "classic":
        points = classic_points(
            correct=correct,
            response_seconds=response_seconds,
            previous_streak=previous_streak,
            factor=factor,
        )
    else:
        points = speed_points(
            correct=correct,
            response_seconds=response_seconds,
            limit_seconds=limit_seconds,
            factor=factor,
        )
    return Award(points=points, streak=previous_streak + 1 if correct else 0)
