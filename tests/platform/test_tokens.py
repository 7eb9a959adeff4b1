"""Access tokens are judged by the platform's clock, never the wall clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from studyhall.platform.auth import issue_access_token, read_access_token
from studyhall.platform.clock import FakeClock
from studyhall.platform.errors import NotAuthenticated

SECRET = "token-test-secret-" + "x" * 30


def test_a_token_issued_by_a_clock_ahead_of_the_wall_clock_is_valid() -> None:
    clock = FakeClock(datetime(2099, 1, 1, tzinfo=UTC))
    user_id = uuid.uuid4()
    token = issue_access_token(
        secret=SECRET, clock=clock, user_id=user_id, generation=3, ttl_seconds=600
    )
    claims = read_access_token(token, secret=SECRET, clock=clock)
    assert (claims.user_id, claims.generation) == (user_id, 3)


def test_a_token_expires_by_the_platform_clock() -> None:
    clock = FakeClock(datetime(2099, 1, 1, tzinfo=UTC))
    token = issue_access_token(
        secret=SECRET, clock=clock, user_id=uuid.uuid4(), generation=1, ttl_seconds=600
    )
    clock.advance(600)
    with pytest.raises(NotAuthenticated):
        read_access_token(token, secret=SECRET, clock=clock)
