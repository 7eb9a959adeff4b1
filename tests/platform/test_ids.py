"""Ids are UUIDv7 and strictly increasing within a process, even inside one millisecond."""

from __future__ import annotations

import itertools

from studyhall.platform.ids import new_id


def test_ids_are_version_7_and_strictly_increasing() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert all(identifier.version == 7 for identifier in ids)
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert len({identifier.int & ((1 << 62) - 1) for identifier in ids}) == len(ids)
