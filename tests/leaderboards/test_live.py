"""Live updates: the event stream sends the board, then each change, on every node."""

from __future__ import annotations

import uuid

import httpx
import pytest

from studyhall.app import create_app
from studyhall.config import Settings
from studyhall.leaderboards.boards import channel
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.conftest import serving
from tests.helpers import make_person
from tests.leaderboards.helpers import EventStream, make_exam, names, take


async def test_the_stream_sends_the_board_then_each_change(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    ada = await make_person(platform, Role.STUDENT, name="Ada")
    bea = await make_person(platform, Role.STUDENT, name="Bea")
    exam_id = await make_exam(client, teacher)
    await take(client, ada, exam_id, 2)

    url = f"/api/v1/exams/{exam_id}/leaderboard/events?around=me"
    async with EventStream(app, url, ada.headers) as stream:
        assert stream.status == 200
        now = await stream.next()
        assert (now["total"], now["me"]["rank"]) == (1, 1)
        await take(client, bea, exam_id, 4)
        later = await stream.next_where(lambda seen: seen["total"] == 2)
        assert names(later["top"]) == [(1, "Bea"), (2, "Ada")]
        assert later["me"]["rank"] == 2
        assert names(later["around"]) == [(1, "Bea"), (2, "Ada")]
    assert b"event: leaderboard" in stream.body
    if platform.redis is not None:  # leaving the page gives the Redis subscription back
        full_channel = platform.settings.redis_prefix + channel(uuid.UUID(exam_id))
        assert await platform.redis.pubsub_numsub(full_channel) == [(full_channel.encode(), 0)]


async def test_a_refused_stream_is_a_problem_not_a_stream(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    colleague = await make_person(platform, Role.TEACHER)
    exam_id = await make_exam(client, teacher)
    url = f"/api/v1/exams/{exam_id}/leaderboard/events"
    async with EventStream(app, url, colleague.headers) as stream:
        assert stream.status == 404
    assert b'"code":"not_found"' in stream.body


async def test_a_result_on_one_node_reaches_viewers_on_another(
    client: httpx.AsyncClient,
    platform: Platform,
    settings: Settings,
    clock: FakeClock,
    deployment: str,
) -> None:
    if deployment == "embedded":
        pytest.skip("the embedded deployment is one process")
    teacher = await make_person(platform, Role.TEACHER)
    ada = await make_person(platform, Role.STUDENT, name="Ada")
    exam_id = await make_exam(client, teacher)
    other_node = create_app(settings, clock=clock)
    async with serving(other_node):
        url = f"/api/v1/exams/{exam_id}/leaderboard/events"
        async with EventStream(other_node, url, teacher.headers) as stream:
            assert (await stream.next())["total"] == 0
            await take(client, ada, exam_id, 3)  # submitted through the first node
            arrived = await stream.next_where(lambda seen: seen["total"] == 1)
            assert names(arrived["top"]) == [(1, "Ada")]
