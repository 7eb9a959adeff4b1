"""Warnings about a dependency that is down: once per window, with a count, no traceback."""

from __future__ import annotations

import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from studyhall.platform import logging as studyhall_logging
from studyhall.platform.logging import ThrottledWarning


def test_an_outage_warns_once_per_window_and_counts_the_rest(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(studyhall_logging.time, "monotonic", lambda: now[0])
    warn = ThrottledWarning(logging.getLogger("test.outage"), "cache down", every_seconds=10)
    with caplog.at_level(logging.WARNING, logger="test.outage"):
        for _ in range(50):
            warn(RedisConnectionError("refused"))
        now[0] += 10
        warn(RedisConnectionError("refused again"))
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "cache down: ConnectionError: refused (0 more since the last warning)",
        "cache down: ConnectionError: refused again (49 more since the last warning)",
    ]
    assert all(record.exc_info is None for record in caplog.records)
