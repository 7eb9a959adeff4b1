"""A small HTTP/1.1 load generator on raw asyncio streams, pinned to its own core.

Two modes:
- ``fixed_rate``: requests are scheduled at a fixed arrival rate and latency is
  measured from each request's *scheduled* time, so a stalled server shows up as
  latency instead of silently lowering the offered load (no coordinated omission).
- ``saturate``: every connection sends back-to-back for a while; the figure is
  the throughput the server sustains.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def encode(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body or self.method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


RequestSource = Request | Callable[[int], Request]
"""One request sent again and again, or the ``n``-th request of a run (unique keys, users)."""


def _payloads(source: RequestSource, host: str) -> Callable[[int], bytes]:
    if isinstance(source, Request):
        payload = source.encode(host)
        return lambda _index: payload
    return lambda index: source(index).encode(host)


@dataclass
class Result:
    latencies: list[float]
    errors: int
    elapsed: float
    statuses: Counter[int] = field(default_factory=Counter)
    """How many responses had each status code (to tell a 429 from a 503)."""
    received: int = 0
    """Response body bytes, all responses together."""

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    @property
    def ok_throughput(self) -> float:
        """Answered requests per second, not counting 4xx/5xx."""
        ok = len(self.latencies) - self.errors
        return ok / self.elapsed if self.elapsed else 0.0

    @property
    def mean_body_bytes(self) -> int:
        """The mean response body size: what a bare handler of the same shape must send."""
        return self.received // len(self.latencies) if self.latencies else 0

    @property
    def usual_status(self) -> int:
        return self.statuses.most_common(1)[0][0] if self.statuses else 200

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> tuple[int, int]:
    """Send one request and read its whole response; returns the status code and the
    body's length."""
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status, length


async def fixed_rate(
    host: str, port: int, request: RequestSource, *, rate: float, seconds: float, connections: int
) -> Result:
    payload = _payloads(request, f"{host}:{port}")
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    schedule = [start + index / rate for index in range(total)]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = received = 0

    async def connection(offset: int) -> None:
        nonlocal errors, received
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for index in range(offset, total, connections):
                due = schedule[index]
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                status, length = await _exchange(reader, writer, payload(index))
                received += length
                statuses[status] += 1
                if status >= 400:
                    errors += 1
                latencies.append(time.perf_counter() - due)
        finally:
            writer.close()

    await asyncio.gather(*(connection(offset) for offset in range(connections)))
    return Result(latencies, errors, time.perf_counter() - start, statuses, received)


async def saturate(
    host: str, port: int, request: RequestSource, *, seconds: float, connections: int
) -> Result:
    payload = _payloads(request, f"{host}:{port}")
    numbers = itertools.count()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = received = 0
    start = time.perf_counter()
    stop_at = start + seconds

    async def connection() -> None:
        nonlocal errors, received
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < stop_at:
                sent = time.perf_counter()
                status, length = await _exchange(reader, writer, payload(next(numbers)))
                received += length
                statuses[status] += 1
                if status >= 400:
                    errors += 1
                latencies.append(time.perf_counter() - sent)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return Result(latencies, errors, time.perf_counter() - start, statuses, received)
