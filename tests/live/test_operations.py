"""The operators' view of running games: players, answers and errors per second."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from studyhall.live.engine import UnknownQuestion
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.helpers import Person, make_person
from tests.live.helpers import SINGLE, Game, engine, host, join, make_game, run_timers


async def _row(client: httpx.AsyncClient, admin: Person, game: Game) -> dict[str, Any] | None:
    response = await client.get("/api/v1/admin/live", headers=admin.headers)
    assert response.status_code == 200, response.text
    rows = [row for row in response.json()["games"] if row["gameId"] == game.id]
    return rows[0] if rows else None


async def test_admins_see_every_running_game_with_its_pace(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform, clock: FakeClock
) -> None:
    admin = await make_person(platform, Role.ADMIN)
    teacher = await make_person(platform, Role.TEACHER)
    game = await make_game(client, teacher, SINGLE)
    ada = await join(client, game, "Ada")
    await join(client, game, "Bea")
    await host(client, game, "start")
    await run_timers(app, clock, 3)
    row = await _row(client, admin, game)
    assert row is not None
    assert (row["status"], row["questionIndex"], row["players"]) == ("question", 0, 2)
    assert (row["answers"], row["answersPerSecond"], row["errors"]) == (0, 0, 0)
    assert row["joinCode"] == game.code

    live = engine(app)
    definition = await live.definition(game.id)
    await live.submit(definition, ada.id, definition.questions[0].id, 1, None)
    with pytest.raises(UnknownQuestion):
        await live.submit(definition, ada.id, "no-such-question", 1, None)
    clock.advance(2)
    row = await _row(client, admin, game)
    assert row is not None
    assert (row["answers"], row["answersPerSecond"]) == (1, 0.5)
    assert (row["errors"], row["errorsPerSecond"]) == (1, 0.5)

    for outsider in (teacher, await make_person(platform, Role.STUDENT)):
        refused = await client.get("/api/v1/admin/live", headers=outsider.headers)
        assert refused.status_code == 404
    assert (await client.get("/api/v1/admin/live")).status_code == 401
    page = await client.get("/admin/live", headers=teacher.headers)
    assert page.status_code == 404
    page = await client.get("/admin/live", headers=admin.headers)
    assert page.status_code == 200
    assert game.code in page.text
    await host(client, game, "end")
    assert await _row(client, admin, game) is None, "an ended game is no longer listed"
