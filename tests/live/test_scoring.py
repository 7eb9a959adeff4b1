"""Scoring is a pure function of what the server measured (seed 003 and Kahoot's rule)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from studyhall.live.scoring import award, classic_points, speed_points

seconds = st.floats(min_value=0, max_value=240, allow_nan=False)
streaks = st.integers(min_value=0, max_value=1000)
factors = st.sampled_from([1, 2])


def test_classic_follows_seed_003() -> None:
    assert classic_points(correct=True, response_seconds=0, previous_streak=0, factor=1) == 150
    assert classic_points(correct=True, response_seconds=10, previous_streak=0, factor=1) == 125
    assert classic_points(correct=True, response_seconds=20, previous_streak=0, factor=1) == 100
    assert classic_points(correct=True, response_seconds=60, previous_streak=0, factor=1) == 100
    assert classic_points(correct=True, response_seconds=20, previous_streak=3, factor=1) == 130
    assert classic_points(correct=True, response_seconds=20, previous_streak=50, factor=1) == 200
    assert classic_points(correct=True, response_seconds=0, previous_streak=1, factor=2) == 310
    assert classic_points(correct=False, response_seconds=0, previous_streak=9, factor=1) == 0
    assert classic_points(correct=True, response_seconds=0, previous_streak=9, factor=0) == 0


def test_speed_follows_kahoot() -> None:
    assert speed_points(correct=True, response_seconds=0.5, limit_seconds=20, factor=1) == 1000
    assert speed_points(correct=True, response_seconds=10, limit_seconds=20, factor=1) == 750
    assert speed_points(correct=True, response_seconds=20, limit_seconds=20, factor=1) == 500
    assert speed_points(correct=True, response_seconds=99, limit_seconds=20, factor=1) == 500
    assert speed_points(correct=True, response_seconds=10, limit_seconds=20, factor=2) == 1500
    assert speed_points(correct=False, response_seconds=0, limit_seconds=20, factor=1) == 0


@given(seconds, seconds, streaks, factors)
def test_classic_never_rewards_slowness_and_stays_in_bounds(
    early: float, late: float, streak: int, factor: int
) -> None:
    early, late = min(early, late), max(early, late)
    fast = classic_points(
        correct=True, response_seconds=early, previous_streak=streak, factor=factor
    )
    slow = classic_points(
        correct=True, response_seconds=late, previous_streak=streak, factor=factor
    )
    assert fast >= slow
    assert factor * 100 <= slow <= fast <= factor * 150 + 100


@given(seconds, streaks, streaks, factors)
def test_a_longer_streak_never_earns_less(at: float, one: int, two: int, factor: int) -> None:
    low, high = min(one, two), max(one, two)
    assert classic_points(
        correct=True, response_seconds=at, previous_streak=high, factor=factor
    ) - classic_points(
        correct=True, response_seconds=at, previous_streak=low, factor=factor
    ) in range(0, 101)


@given(seconds, seconds, st.integers(min_value=5, max_value=240), factors)
def test_speed_is_monotonic_and_keeps_at_least_half(
    early: float, late: float, limit: int, factor: int
) -> None:
    early, late = min(early, late), max(early, late)
    fast = speed_points(correct=True, response_seconds=early, limit_seconds=limit, factor=factor)
    slow = speed_points(correct=True, response_seconds=late, limit_seconds=limit, factor=factor)
    assert 500 * factor <= slow <= fast <= 1000 * factor


@given(st.sampled_from(["classic", "speed"]), st.booleans() | st.none(), seconds, streaks)
def test_a_wrong_answer_breaks_the_streak_and_a_poll_leaves_it(
    scoring: str, correct: bool | None, at: float, streak: int
) -> None:
    given_award = award(
        scoring,  # type: ignore[arg-type]
        correct=correct,
        response_seconds=at,
        limit_seconds=240,
        factor=1,
        previous_streak=streak,
    )
    if correct is None:
        assert (given_award.points, given_award.streak) == (0, streak)
    elif correct:
        assert given_award.points > 0
        assert given_award.streak == streak + 1
    else:
        assert (given_award.points, given_award.streak) == (0, 0)
