"""The embedded store's kept-sorted scores answer as a full sort of every player would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from studyhall.live.store import Ranking

PLAYERS = st.sampled_from([f"p{number}" for number in range(8)])
STEPS = st.lists(
    st.tuples(st.sampled_from(["set", "add", "remove"]), PLAYERS, st.integers(-50, 150)),
    max_size=60,
)


@given(STEPS, st.integers(0, 10))
def test_the_ranking_matches_a_full_sort(steps: list[tuple[str, str, int]], count: int) -> None:
    ranking = Ranking()
    model: dict[str, float] = {}
    for action, player, points in steps:
        if action == "set":
            ranking.set(player, float(points))
            model[player] = float(points)
        elif action == "add" and player in model:
            ranking.add(player, points)
            model[player] += points
        elif action == "remove":
            ranking.remove(player)
            model.pop(player, None)
    # Redis's ZREVRANGE order: score descending, equal scores by member descending.
    expected = sorted(model.items(), key=lambda item: (item[1], item[0]), reverse=True)
    assert ranking.highest() == expected
    assert ranking.highest(count) == expected[:count]
    for player, score in model.items():
        assert ranking.get(player) == score
        assert ranking.above(score) == sum(1 for other in model.values() if other > score)
    assert ranking.get("nobody") is None
