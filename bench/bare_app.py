"""The ceiling: a bare ASGI app answering the same shapes with no framework, auth or database.

HTTP: the bench sends a copy of a studyhall request (same method, path, headers and body)
with two more headers, ``x-bare-status`` and ``x-bare-bytes``; the app reads the whole
body and answers that status with a JSON body of that many bytes, the mean size of
studyhall's answers in the scenario. So each scenario's ceiling moves the same bytes.

WebSocket: every message is answered with an ``answer_received`` frame of studyhall's
shape, except ``{"type":"broadcast",...}``, which sends one ``new_question``-shaped frame
to every open socket, stamped with the wall-clock time the broadcast began (``t``).
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any

STATUS_HEADER = b"x-bare-status"
BYTES_HEADER = b"x-bare-bytes"
BROADCAST = '{"type":"broadcast"}'
ACK = (
    '{"type":"answer_received","eventId":0,"payload":'
    '{"questionId":"0192f4d2-6c1e-7c39-9d0a-1b2c3d4e5f60","duplicate":false}}'
)
_QUESTION = {
    "questionId": "0192f4d2-6c1e-7c39-9d0a-1b2c3d4e5f60",
    "index": 0,
    "count": 2,
    "type": "single",
    "text": "Load test question 1",
    "options": ["A", "B", "C", "D"],
    "timeLimitSeconds": 60,
    "points": "standard",
    "questionsOn": "players",
    "startTime": "2026-01-01T00:00:00.000Z",
    "endTime": "2026-01-01T00:01:00.000Z",
}
_sockets: set[Any] = set()


@functools.cache
def _body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (at least the 10 of its frame)."""
    return b'{"pad":"' + b"x" * max(size - 10, 0) + b'"}'


def _question_frame(started: float) -> str:
    return json.dumps({"type": "new_question", "eventId": 1, "t": started, "payload": _QUESTION})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _websocket(receive: Any, send: Any) -> None:
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    _sockets.add(send)
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == BROADCAST:
                frame = _question_frame(time.time())
                for peer in list(_sockets):
                    await peer({"type": "websocket.send", "text": frame})
            else:
                await send({"type": "websocket.send", "text": ACK})
    finally:
        _sockets.discard(send)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] == "websocket":
        await _websocket(receive, send)
        return
    status, size = 200, 0
    for name, value in scope["headers"]:
        if name == STATUS_HEADER:
            status = int(value)
        elif name == BYTES_HEADER:
            size = int(value)
    more = scope["method"] in ("POST", "PUT", "PATCH")
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = _body(size)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
