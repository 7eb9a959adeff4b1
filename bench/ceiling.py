"""The ceiling of each scenario: ``bench/bare_app.py`` answering the scenario's own shape.

The bare app runs on the server core for the whole run. A scenario records its
:class:`Shape` (a request it sent, the status and mean body size it got back, its
connections); the shape is measured when a report asks for it, after every studyhall
server has stopped, once per run (the first deployment's shape stands for both).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from tests.processes import free_port, wait_until_healthy

from bench.bare_app import BYTES_HEADER, STATUS_HEADER
from bench.loadgen import Request, Result, saturate
from bench.servers import start, stop
from studyhall.live.loadtest import raise_fd_limit

T = TypeVar("T")


KEPT_UP = 0.9
"""A run that answered this share of its offered rate was held back by the offer."""


def share(throughput: float, bare: Result, *, offered: float | None = None) -> str:
    """The share of the ceiling a throughput keeps, to two significant digits. A run at a
    fixed ``offered`` rate that kept up with it shows only a lower bound: marked ``≥``."""
    if not bare.throughput:
        return "n/a"
    bound = "≥ " if offered is not None and throughput >= KEPT_UP * offered else ""
    return f"{bound}{throughput / bare.throughput:.2g}"


def latency_share(seconds: float, bare_seconds: float) -> str:
    """The same for a time: how much of studyhall's time the bare app would need."""
    return f"{bare_seconds / seconds:.2g}" if seconds else "n/a"


@dataclass(frozen=True)
class Shape:
    name: str
    """Names the shape in the run's cache, e.g. ``PUT answer save``."""
    request: Request
    status: int
    body_bytes: int
    connections: int

    @classmethod
    def of(cls, name: str, request: Request, seen: Result, connections: int) -> Shape:
        """The shape of a scenario whose run ``seen`` answered ``request`` and its like."""
        return cls(name, request, seen.usual_status, seen.mean_body_bytes, connections)

    def bare_request(self) -> Request:
        control = {
            STATUS_HEADER.decode(): str(self.status),
            BYTES_HEADER.decode(): str(self.body_bytes),
        }
        return replace(self.request, headers={**self.request.headers, **control})


class Ceiling:
    """The bare app of this run: closed-loop throughput per HTTP shape, and whatever else
    a scenario measures against it (``cached``), each measured once."""

    def __init__(self, port: int, seconds: float) -> None:
        self.port = port
        self.seconds = seconds
        self._measured: dict[str, Any] = {}

    def cached(self, key: str, measure: Callable[[int], T]) -> T:
        """``measure(port)`` the first time ``key`` is asked for, the same figure after."""
        if key not in self._measured:
            self._measured[key] = measure(self.port)
        found: T = self._measured[key]
        return found

    def http(self, shape: Shape) -> Result:
        """The bare app's saturated run of ``shape``, on the scenario's connections."""

        def measure(port: int) -> Result:
            result = asyncio.run(
                saturate(
                    "127.0.0.1",
                    port,
                    shape.bare_request(),
                    seconds=self.seconds,
                    connections=shape.connections,
                )
            )
            print(
                f"bare ASGI {shape.name:38} {result.throughput:8.0f} req/s "
                f"({shape.connections} connections, {shape.body_bytes} B answers)"
            )
            return result

        return self.cached(f"http {shape.name}", measure)


@contextlib.contextmanager
def bare_server(workdir: Path, seconds: float) -> Iterator[Ceiling]:
    """The bare app under uvicorn with studyhall's loop and HTTP parser, on the server core
    (with room for as many sockets as the biggest live game)."""
    raise_fd_limit()  # the bare app inherits this process's limit
    port = free_port()
    command = [
        *(sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(port)),
        *("--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"),
        *("--ws-per-message-deflate", "false"),  # as `studyhall serve` runs
    ]
    log = workdir / "bare.log"
    server = start(command, dict(os.environ), log)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", server, log)
        yield Ceiling(port, seconds)
    finally:
        stop(server)
