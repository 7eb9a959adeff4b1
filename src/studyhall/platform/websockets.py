"""WebSocket frames written straight to a socket, for fan-out to thousands of sockets.

Through ASGI, each copy of a live game's event costs a task wake-up, the framework's
``send``, the server's framing and a write: tens of µs, so one frame to 5,000 sockets
of a node takes hundreds of ms. ``studyhall serve`` therefore runs uvicorn's sans-I/O
WebSocket protocol with one addition, the ASGI extension ``studyhall.frame_writer``: a
function that writes an already framed message to the socket at once and says whether
it could. It cannot when the connection is not open or the peer stopped reading (the
write buffer is above its high-water mark); the caller then uses the ordinary awaited
``send``, which waits for the buffer to drain. A server's frames are not masked, so one
event's wire bytes are the same for every socket and are framed once.

Under any other server the extension is absent and everything goes through ``send``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from litestar import WebSocket
from litestar.connection.base import empty_receive, empty_send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

EXTENSION = "studyhall.frame_writer"

FrameWriter = Callable[[bytes], bool]
"""Writes one framed message now; False when it must go through the awaited send."""


def text_frame(message: bytes) -> bytes:
    """``message`` (UTF-8 text) as one unmasked, unfragmented WebSocket text frame."""
    return Frame(Opcode.TEXT, message).serialize(mask=False)


def let_go(socket: WebSocket[Any, Any, Any]) -> None:
    """Call when a WebSocket handler is done with ``socket``. Litestar's wrapped receive
    and send refer back to the socket (a cycle) and hold the server's own, and through
    them the whole connection: left as they are, every closed connection waits for a
    full collection, which grows with them and pauses the process while it walks them."""
    socket.receive = empty_receive
    socket.send = empty_send


def frame_writer(scope: Mapping[str, Any]) -> FrameWriter | None:
    """The connection's writer, when its server offers one."""
    offered = scope.get("extensions", {}).get(EXTENSION)
    return offered["write"] if offered else None


class FrameWritingProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol offering ``studyhall.frame_writer``."""

    async def run_asgi(self) -> None:
        extensions = self.scope["extensions"]
        extensions[EXTENSION] = {"write": self.write_frame}
        try:
            await super().run_asgi()
        finally:
            # The scope held this protocol through its writer: a cycle that only a full
            # collection would free, with the whole connection behind it.
            del extensions[EXTENSION]

    def write_frame(self, wire: bytes) -> bool:
        if (
            self.conn.state is not State.OPEN
            or self.close_sent
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(wire)
        return True


class UpgradeReleasingHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, letting go of its parser when it hands the connection to
    the WebSocket protocol. The parser holds the protocol's callbacks; uvicorn breaks that
    cycle when a connection is lost, which an upgraded connection's HTTP protocol never
    hears of. Each WebSocket would otherwise leave it for the full collection: garbage
    that piles up over games, and a pause of hundreds of ms when it is finally walked."""

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        self.parser = None  # type: ignore[assignment]


SERVER_OPTIONS: dict[str, Any] = {
    "http": UpgradeReleasingHttpProtocol,
    "ws": FrameWritingProtocol,
    "ws_per_message_deflate": False,
}
"""uvicorn settings of every studyhall server. Without ``permessage-deflate``: the
client offers it, and accepting it would compress every frame once per socket."""
