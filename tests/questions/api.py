"""Calls to the question-bank API that many tests make."""

from __future__ import annotations

import html
import re

import httpx

from tests.helpers import Person


async def create_bank(client: httpx.AsyncClient, owner: Person, name: str = "Bank") -> str:
    created = await client.post("/api/v1/banks", json={"name": name}, headers=owner.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def import_file(
    client: httpx.AsyncClient, owner: Person, bank: str, text: str, fmt: str = "gift"
) -> httpx.Response:
    return await client.post(
        f"/api/v1/banks/{bank}/import?format={fmt}",
        content=text.encode(),
        headers={**owner.headers, "content-type": "text/plain"},
    )


_SOURCE = re.compile(r'src="([^"]*)"')


async def shown_images(
    client: httpx.AsyncClient, viewer: Person, question_id: str
) -> tuple[list[str], list[bytes]]:
    """The ``src`` of every image the question's student preview shows (stem, then
    choices), and the bytes behind those that are media links (fetched with no
    credential but the link itself)."""
    preview = await client.get(f"/api/v1/questions/{question_id}/preview", headers=viewer.headers)
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    texts = [shown["html"], *(choice["html"] for choice in shown["choices"])]
    sources = [html.unescape(src) for text in texts for src in _SOURCE.findall(text)]
    images = []
    for src in sources:
        if src.startswith("/media/"):
            response = await client.get(src)
            assert response.status_code == 200, response.text
            images.append(response.content)
    return sources, images
