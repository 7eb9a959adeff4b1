"""A connection's outbox: frames written at once or queued, always in the order given."""

from __future__ import annotations

import asyncio

from studyhall.live import protocol
from studyhall.live.hub import CLOSE, Listener
from studyhall.platform.websockets import text_frame

WAIT_SECONDS = 15.0


def _frame(event_id: int) -> bytes:
    return protocol.encode("player_count", event_id, {"players": event_id})


async def test_frames_go_out_in_order_whether_written_at_once_or_sent_by_the_writer() -> None:
    out: list[tuple[str, int]] = []
    refuse = False
    release = asyncio.Event()

    def write_now(wire: bytes) -> bool:
        if refuse:
            return False
        out.append(("now", protocol.header(wire[wire.index(b"{") :])[1]))
        return True

    async def send(frame: bytes) -> None:
        await release.wait()  # a socket slow to take it
        out.append(("sent", protocol.header(frame)[1]))

    listener = Listener("player")
    listener.put(_frame(1), 1)  # before the writer runs (its replay is still going out)
    writer = asyncio.create_task(listener.deliver(send, write_now))
    await asyncio.sleep(0)
    listener.put(_frame(2), 2)  # 1 is still being sent: 2 waits behind it
    release.set()
    async with asyncio.timeout(WAIT_SECONDS):
        while len(out) < 2:
            await asyncio.sleep(0)
    listener.put(_frame(3), 3, text_frame(_frame(3)))  # nothing before it: written at once
    refuse = True
    listener.put(_frame(4), 4)  # the socket's buffer is full: the writer sends it
    refuse = False
    listener.put(_frame(5), 5)  # 4 is still queued or being sent: 5 waits behind it
    listener.put(CLOSE, 5)  # the close always goes through the writer, after the rest
    async with asyncio.timeout(WAIT_SECONDS):
        await writer
    assert out == [("sent", 1), ("sent", 2), ("now", 3), ("sent", 4), ("sent", 5)]
    assert listener.latest == 5
    listener.put(_frame(6), 6)  # the writer has stopped: nothing is written any more
    assert out[-1] == ("sent", 5)


async def test_frames_of_one_event_go_out_in_one_write_or_queue_together() -> None:
    writes: list[bytes] = []
    refuse = False

    def write_now(wire: bytes) -> bool:
        if not refuse:
            writes.append(wire)
        return not refuse

    async def send(frame: bytes) -> None:
        pass

    listener = Listener("player")
    writer = asyncio.create_task(listener.deliver(send, write_now))
    await asyncio.sleep(0)
    reveal, result = _frame(7), protocol.encode("answer_result", 7, {"correct": True})
    listener.put_all([reveal, result], 7, [text_frame(reveal), text_frame(result)])
    assert writes == [text_frame(reveal) + text_frame(result)], "both in one write"
    refuse = True
    listener.put_all([_frame(8), _frame(9)], 9, [text_frame(_frame(8)), text_frame(_frame(9))])
    assert [listener.queue.get_nowait() for _ in range(2)] == [_frame(8), _frame(9)]
    assert listener.latest == 9
    listener.put(CLOSE, 9)
    async with asyncio.timeout(WAIT_SECONDS):
        await writer
