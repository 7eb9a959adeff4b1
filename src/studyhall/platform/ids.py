"""Identifiers: time-ordered UUIDs (version 7) so new rows land at the end of indexes."""

from __future__ import annotations

import secrets
import time
import uuid


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit millisecond timestamp, then random bits."""
    millis = time.time_ns() // 1_000_000
    rand_a = secrets.randbits(12)
    rand_b = secrets.randbits(62)
    value = (millis & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76 | rand_a << 64
    value |= 0b10 << 62 | rand_b
    return uuid.UUID(int=value)
