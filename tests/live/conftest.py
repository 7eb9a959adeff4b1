"""Live quiz fixtures: the app served on a real port for real WebSocket clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from studyhall.config import Settings
from studyhall.platform.observe import ObservedApp
from tests.helpers import on_port


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Join limits out of the way (one test owns them); proxy headers let tests be many IPs."""
    return settings.with_overrides(live_join_limit_per_ip=10_000, trust_proxy_headers=True)


@pytest.fixture
async def live_server(app: ObservedApp, client: httpx.AsyncClient) -> AsyncIterator[str]:
    """``host:port`` of uvicorn serving the already started app in the test's own loop."""
    async with on_port(app) as address:
        yield address
