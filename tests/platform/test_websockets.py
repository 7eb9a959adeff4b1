"""Frames written straight to the socket (``studyhall.frame_writer``) under real uvicorn."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from websockets.asyncio.client import connect

from studyhall.platform.websockets import (
    FrameWriter,
    FrameWritingProtocol,
    frame_writer,
    text_frame,
)
from tests.helpers import alive, cyclic_collector_off, on_port, until_alive_at_most

WAIT_SECONDS = 15.0
BIG = 256 * 1024


async def _accepted(scope: dict[str, Any], receive: Any, send: Any) -> FrameWriter:
    """Accept the WebSocket; its frame writer, which ``studyhall serve`` always offers."""
    await receive()
    await send({"type": "websocket.accept"})
    write = frame_writer(scope)
    assert write is not None
    return write


def _message(number: int, size: int = 0) -> bytes:
    return json.dumps({"n": number, "pad": "x" * size}).encode()


async def test_direct_frames_and_awaited_sends_arrive_in_the_order_written() -> None:
    after_close: list[bool] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        write = await _accepted(scope, receive, send)
        assert write(text_frame(_message(1)))
        await send({"type": "websocket.send", "text": _message(2).decode()})
        assert write(text_frame(_message(3)))
        while (await receive())["type"] != "websocket.disconnect":
            pass
        after_close.append(write(text_frame(_message(4))))

    async with on_port(app) as address, connect(f"ws://{address}/") as socket:
        async with asyncio.timeout(WAIT_SECONDS):
            got = [json.loads(await socket.recv())["n"] for _ in range(3)]
        assert got == [1, 2, 3]
        assert socket.response is not None
        assert "sec-websocket-extensions" not in socket.response.headers, "no per-socket deflate"
    async with asyncio.timeout(WAIT_SECONDS):
        while not after_close:
            await asyncio.sleep(0.01)
    assert after_close == [False], "a closed connection takes no more frames"


async def test_a_peer_that_stops_reading_gets_the_rest_through_the_awaited_send() -> None:
    """Once the write buffer is full, the writer refuses, so a slow reader never makes
    the server buffer without bound; the awaited send then waits for the reader."""
    refused_after: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        write = await _accepted(scope, receive, send)
        written = 0
        while write(text_frame(_message(written, BIG))):
            written += 1
            assert written < 1000, "the writer never refused a peer that does not read"
        refused_after.append(written)
        await send({"type": "websocket.send", "text": _message(written, BIG).decode()})
        assert write(text_frame(_message(written + 1))), "drained: writes at once again"
        while (await receive())["type"] != "websocket.disconnect":
            pass

    async with on_port(app) as address, connect(f"ws://{address}/", max_size=None) as socket:
        async with asyncio.timeout(WAIT_SECONDS):
            while not refused_after:
                await asyncio.sleep(0.01)
            got = [json.loads(await socket.recv())["n"] for _ in range(refused_after[0] + 2)]
    assert got == list(range(refused_after[0] + 2))


async def test_a_closed_connection_is_freed_without_the_cyclic_collector() -> None:
    """A closed connection's objects go when their last reference does. Left in cycles,
    they piled up over games until a full collection walked them all: measured, 557,000
    objects and a 500 ms pause of the process after 8,500 players."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        write = await _accepted(scope, receive, send)
        assert write(text_frame(_message(1)))
        while (await receive())["type"] != "websocket.disconnect":
            pass

    kinds = (FrameWritingProtocol, HttpToolsProtocol)
    with cyclic_collector_off():
        async with on_port(app) as address:
            before = alive(*kinds)
            for _ in range(3):
                async with connect(f"ws://{address}/") as socket:
                    await socket.recv()
            left = await until_alive_at_most(before, *kinds)
    assert not left, f"still alive after their connections closed: {left}"


def test_other_servers_offer_no_writer() -> None:
    assert frame_writer({"type": "websocket", "extensions": {}}) is None
    assert frame_writer({"type": "websocket"}) is None
