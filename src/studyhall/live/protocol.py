"""The live quiz wire format: ``{type, eventId, payload}`` JSON frames, encoded once.

A game event is encoded by the node that made it and travels as those bytes through
pub/sub; every node writes the same bytes to its sockets. The only per-player part,
``you`` (rank and score) in ``leaderboard_changed`` and ``quiz_ended``, is spliced onto
the end of the payload, so personalising a frame costs a bytes concatenation, not an
encode. ``payload`` is therefore always the last member of a frame.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

# Events that go into the game's log and to every player.
PLAYER_JOINED = "player_joined"
PLAYER_KICKED = "player_kicked"
"""To the kicked player's own connections: ``error {reason:"kicked"}``, then they close."""
COUNTDOWN = "countdown"
NEW_QUESTION = "new_question"
HOST_QUESTION = "host_question"
"""The whole question for the host's screen, after ``new_question`` when the quiz shows
questions on the host's screen only (players' ``new_question`` then has no texts)."""
QUESTION_REVEALED = "question_revealed"
LEADERBOARD_CHANGED = "leaderboard_changed"
ANSWER_COUNT = "answer_count"
PLAYER_COUNT = "player_count"
QUIZ_ENDED = "quiz_ended"
# Replies to one player.
SNAPSHOT = "snapshot"
ANSWER_RECEIVED = "answer_received"
ANSWER_RESULT = "answer_result"
LEADERBOARD_DATA = "leaderboard_data"
HEARTBEAT_ACK = "heartbeat_ack"
ERROR = "error"

PERSONAL_YOU = frozenset({LEADERBOARD_CHANGED, QUIZ_ENDED})
HOST_ONLY = frozenset({PLAYER_JOINED, ANSWER_COUNT, HOST_QUESTION})
"""Per join and per tick of answers: sent to every player they would cost O(players²)
in a filling lobby. Players get the coalesced ``player_count`` (once per tick) instead.
``host_question`` holds what players must not see."""

_encoder = msgspec.json.Encoder()


class Frame(msgspec.Struct):
    type: str
    eventId: int  # the wire name
    payload: Any


class _Header(msgspec.Struct):
    type: str
    eventId: int


_header_decoder = msgspec.json.Decoder(_Header)


class ClientMessage(msgspec.Struct):
    type: str
    payload: dict[str, Any] = {}


client_decoder = msgspec.json.Decoder(ClientMessage)


def encode(kind: str, event_id: int, payload: Any) -> bytes:
    return _encoder.encode(Frame(kind, event_id, payload))


def bundle(frames: list[bytes]) -> bytes:
    """Frames that travel as one pub/sub message. A frame is compact JSON, which never
    holds a raw newline, so a newline separates them."""
    return b"\n".join(frames)


def unbundle(message: bytes) -> list[bytes]:
    return message.split(b"\n")


def header(frame: bytes) -> tuple[str, int]:
    """The type and event id of an encoded frame (the payload is skipped, not decoded)."""
    decoded = _header_decoder.decode(frame)
    return decoded.type, decoded.eventId


def with_you(frame: bytes, rank: int | None, score: int) -> bytes:
    """The frame with ``"you": {rank, score}`` added to its payload."""
    you = _encoder.encode({"rank": rank, "score": score})
    return frame[:-2] + b',"you":' + you + b"}}"


def error(event_id: int, reason: str, details: dict[str, Any] | None = None) -> bytes:
    return encode(ERROR, event_id, {"reason": reason, "details": details or {}})


def iso(millis: int) -> str:
    """A server time in ms as ISO 8601 UTC with milliseconds (what clients parse)."""
    moment = datetime.fromtimestamp(millis / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ranked(standings: list[tuple[str, float]]) -> list[tuple[str, int, int]]:
    """``(player, score, rank)`` from the highest score; equal scores share a rank."""
    out: list[tuple[str, int, int]] = []
    previous: int | None = None
    rank = 0
    for position, (player, raw) in enumerate(standings, start=1):
        score = int(raw)
        if score != previous:
            rank, previous = position, score
        out.append((player, score, rank))
    return out
