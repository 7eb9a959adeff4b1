"""The ceiling: a bare ASGI app answering the same shapes with no framework, auth or database.

``GET`` answers like ``/api/v1/me``; ``PUT`` reads the whole body and answers like an
answer save (``200 {"saved":true}``), so the save scenario has a ceiling of its own shape.
"""

from __future__ import annotations

from typing import Any

_BODY = (
    b'{"id":"0192f4d2-6c1e-7c39-9d0a-1b2c3d4e5f60",'
    b'"email":"bench@example.org","name":"Bench","role":"student"}'
)
_SAVED = b'{"saved":true}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = _BODY
    if scope["method"] == "PUT":
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        body = _SAVED
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
