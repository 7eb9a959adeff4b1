"""Live quiz fixtures: the app served on a real port for real WebSocket clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from studyhall.config import Settings
from studyhall.platform.observe import ObservedApp


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Join limits out of the way (one test owns them); proxy headers let tests be many IPs."""
    return settings.with_overrides(live_join_limit_per_ip=10_000, trust_proxy_headers=True)


@pytest.fixture
async def live_server(app: ObservedApp, client: httpx.AsyncClient) -> AsyncIterator[str]:
    """``host:port`` of uvicorn serving the already started app in the test's own loop."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
