"""Identifiers: time-ordered UUIDs (version 7) so new rows land at the end of indexes.

Within one millisecond the 12-bit ``rand_a`` field is a counter (RFC 9562, method 1),
so ids made by one process are strictly increasing: rows inserted in a loop (an
import) sort by id in the order they were made.
"""

from __future__ import annotations

import functools
import secrets
import threading
import time
import uuid

_lock = threading.Lock()
_last_millis = 0
_counter = 0
_COUNTER_MAX = 0xFFF


def new_id() -> uuid.UUID:
    """A UUIDv7: 48-bit millisecond timestamp, 12-bit counter, 62 random bits."""
    global _last_millis, _counter
    with _lock:
        millis = time.time_ns() // 1_000_000
        if millis > _last_millis:
            _last_millis, _counter = millis, secrets.randbits(8)
        elif _counter < _COUNTER_MAX:
            _counter += 1
        else:  # 4096 ids in one millisecond: borrow the next one
            _last_millis, _counter = _last_millis + 1, 0
        millis, counter = _last_millis, _counter
    value = (millis & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76 | counter << 64
    value |= 0b10 << 62 | secrets.randbits(62)
    return uuid.UUID(int=value)


@functools.lru_cache(maxsize=65_536)
def parse_id(text: str) -> uuid.UUID:
    """``uuid.UUID(text)``, remembered: the ids inside stored JSON (a session's question
    and version ids) repeat across every session of an exam, and a submit burst parsed
    each of them once per session and question."""
    return uuid.UUID(text)
