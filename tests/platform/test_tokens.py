"""Access tokens are judged by the platform's clock, never the wall clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
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


def _token(clock: FakeClock, *, secret: str = SECRET, ttl_seconds: int = 600) -> str:
    return issue_access_token(
        secret=secret, clock=clock, user_id=uuid.uuid4(), generation=1, ttl_seconds=ttl_seconds
    )


def test_a_token_read_before_still_expires_by_the_platform_clock() -> None:
    clock = FakeClock(datetime(2099, 1, 1, tzinfo=UTC))
    token = _token(clock)
    first = read_access_token(token, secret=SECRET, clock=clock)
    clock.advance(599)
    assert read_access_token(token, secret=SECRET, clock=clock) == first
    clock.advance(1)
    with pytest.raises(NotAuthenticated, match="expired"):
        read_access_token(token, secret=SECRET, clock=clock)


def test_a_token_is_verified_once_while_it_is_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(datetime(2099, 1, 1, tzinfo=UTC))
    token = _token(clock)
    decoded = 0
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        nonlocal decoded
        decoded += 1
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    for _ in range(5):
        read_access_token(token, secret=SECRET, clock=clock)
    assert decoded == 1


def test_a_tampered_token_is_refused_after_the_genuine_one_was_read() -> None:
    clock = FakeClock(datetime(2099, 1, 1, tzinfo=UTC))
    token = _token(clock)
    genuine = read_access_token(token, secret=SECRET, clock=clock)
    header, payload, signature = token.split(".")
    forged_payload = jwt.encode(
        {"sub": str(uuid.uuid4()), "gen": 1, "exp": 4_102_444_800, "aud": "studyhall"},
        "attacker-" + "y" * 32,
    ).split(".")[1]
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    for tampered in (f"{header}.{forged_payload}.{signature}", f"{header}.{payload}.{flipped}"):
        for _ in range(2):  # a refusal is not remembered either
            with pytest.raises(NotAuthenticated, match="not valid"):
                read_access_token(tampered, secret=SECRET, clock=clock)
    assert read_access_token(token, secret=SECRET, clock=clock) == genuine


def test_a_token_read_under_one_secret_is_refused_under_another() -> None:
    clock = FakeClock(datetime(2099, 1, 1, tzinfo=UTC))
    token = _token(clock)
    read_access_token(token, secret=SECRET, clock=clock)
    with pytest.raises(NotAuthenticated, match="not valid"):
        read_access_token(token, secret=SECRET + "-rotated", clock=clock)
    other = _token(clock, secret=SECRET + "-rotated")
    read_access_token(other, secret=SECRET + "-rotated", clock=clock)
    with pytest.raises(NotAuthenticated, match="not valid"):
        read_access_token(other, secret=SECRET, clock=clock)
