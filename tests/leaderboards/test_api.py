"""The leaderboard API on both deployments: order and ties, attempt policies, final results
only, cohorts, the window around the reader, who may read, and the result's rank."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from studyhall.app import create_app
from studyhall.config import Settings
from studyhall.leaderboards.index import RedisLeaderboardIndex, Standing
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.runtime import Platform
from tests.conftest import serving
from tests.helpers import Person, make_person
from tests.leaderboards.helpers import board, make_cohort, make_exam, names, take


@pytest.fixture
async def teacher(platform: Platform) -> Person:
    return await make_person(platform, Role.TEACHER, name="Teacher Tess")


async def _students(platform: Platform, *names_: str) -> list[Person]:
    return [await make_person(platform, Role.STUDENT, name=name) for name in names_]


async def test_higher_score_first_then_the_earlier_submit(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, clock: FakeClock
) -> None:
    exam_id = await make_exam(client, teacher)
    ada, bea, cy, dee = await _students(platform, "Ada", "Bea", "Cy", "Dee")
    submitted: dict[str, datetime] = {}
    for person, name, right in ((ada, "Ada", 2), (bea, "Bea", 3), (cy, "Cy", 2), (dee, "Dee", 3)):
        await take(client, person, exam_id, right)
        submitted[name] = clock.now()
        clock.advance(5)

    seen = await board(client, ada, exam_id)
    assert names(seen["top"]) == [(1, "Bea"), (2, "Dee"), (3, "Ada"), (4, "Cy")]
    assert seen["total"] == 4
    first = seen["top"][0]
    assert first["userId"] == str(bea.id)
    assert (first["score"], first["percentage"]) == (3.0, 75.0)
    assert datetime.fromisoformat(first["submittedAt"]) == submitted["Bea"]
    assert seen["me"]["rank"] == 3
    assert seen["me"]["displayName"] == "Ada"
    assert seen["around"] == [], "the window comes only with around=me"
    assert "@" not in str(seen), "no email reaches another student"
    assert (await board(client, ada, exam_id, top=2))["top"] == seen["top"][:2]


async def test_one_entry_per_student_by_the_attempt_policy(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, clock: FakeClock
) -> None:
    """Ada's attempts score 2, 4, 1; Bea's one attempt scores 3 in between. An average
    stands since the latest attempt."""
    ada, bea = await _students(platform, "Ada", "Bea")
    expected = {
        "highest": (4.0, 1, ["Ada", "Bea"]),
        "last": (1.0, 2, ["Bea", "Ada"]),
        "first": (2.0, 0, ["Bea", "Ada"]),
        "average": (round(7 / 3, 6), 2, ["Bea", "Ada"]),
    }
    for policy, (score, attempt_time, order) in expected.items():
        exam_id = await make_exam(client, teacher, attemptPolicy=policy)
        times = []
        for right in (2, 4, 1):
            await take(client, ada, exam_id, right)
            times.append(clock.now())
            clock.advance(10)
            if right == 4:
                await take(client, bea, exam_id, 3)
                clock.advance(10)
        seen = await board(client, ada, exam_id)
        assert [entry["displayName"] for entry in seen["top"]] == order, policy
        assert seen["total"] == 2, policy
        assert seen["me"]["score"] == score, policy
        assert datetime.fromisoformat(seen["me"]["submittedAt"]) == times[attempt_time], policy


async def test_only_final_results_count(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    exam_id = await make_exam(client, teacher, ("One", "Essay"))
    (ada,) = await _students(platform, "Ada")
    submitted = await take(client, ada, exam_id, 1, essay="The moon pulls the sea.")
    assert submitted["status"] == "SCORING"
    waiting = await board(client, ada, exam_id)
    assert (waiting["total"], waiting["me"]) == (0, None)

    queue = await client.get(f"/api/v1/exams/{exam_id}/grading", headers=teacher.headers)
    assert queue.status_code == 200, queue.text
    item = queue.json()["items"][0]
    graded = await client.put(
        f"/api/v1/exams/{exam_id}/grading/{item['sessionId']}/{item['questionId']}",
        json={"score": 1, "feedback": "Good."},
        headers=teacher.headers,
    )
    assert graded.status_code == 200, graded.text
    final = await board(client, ada, exam_id)
    assert final["total"] == 1
    assert (final["me"]["rank"], final["me"]["score"], final["me"]["percentage"]) == (1, 2, 100)


async def test_a_teachers_own_attempt_is_not_ranked(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    exam_id = await make_exam(client, teacher)
    await take(client, teacher, exam_id, 4)
    seen = await board(client, teacher, exam_id)
    assert (seen["total"], seen["me"]) == (0, None)


async def test_the_cohort_filter_keeps_that_cohorts_students(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    exam_id = await make_exam(client, teacher)
    ada, bea, cy = await _students(platform, "Ada", "Bea", "Cy")
    cohort = await make_cohort(client, teacher, "Batch A", ada, cy)
    for person, right in ((ada, 1), (bea, 4), (cy, 2)):
        await take(client, person, exam_id, right)

    everyone = await board(client, ada, exam_id)
    assert names(everyone["top"]) == [(1, "Bea"), (2, "Cy"), (3, "Ada")]
    mine = await board(client, ada, exam_id, cohort=cohort, around="me")
    assert names(mine["top"]) == [(1, "Cy"), (2, "Ada")]
    assert (mine["cohortId"], mine["total"], mine["me"]["rank"]) == (cohort, 2, 2)
    assert names(mine["around"]) == [(1, "Cy"), (2, "Ada")]
    assert names((await board(client, teacher, exam_id, cohort=cohort))["top"]) == names(
        mine["top"]
    )

    for person, other in ((bea, cohort), (ada, str(uuid.uuid4()))):
        refused = await client.get(
            f"/api/v1/exams/{exam_id}/leaderboard",
            params={"cohort": other},
            headers=person.headers,
        )
        assert (refused.status_code, refused.json()["code"]) == (404, "not_found")


async def test_a_cohort_board_follows_membership_changes_at_its_refresh(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, clock: FakeClock
) -> None:
    exam_id = await make_exam(client, teacher)
    ada, bea = await _students(platform, "Ada", "Bea")
    cohort = await make_cohort(client, teacher, "Batch B", ada)
    for person in (ada, bea):
        await take(client, person, exam_id, 2)
    assert (await board(client, teacher, exam_id, cohort=cohort))["total"] == 1
    await client.put(f"/api/v1/cohorts/{cohort}/members/{bea.id}", headers=teacher.headers)
    clock.advance(61)
    grown = await board(client, teacher, exam_id, cohort=cohort)
    assert {entry["displayName"] for entry in grown["top"]} == {"Ada", "Bea"}


async def test_around_me_is_five_above_and_five_below(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, clock: FakeClock
) -> None:
    """Fifteen equal scores, ranked by submit time."""
    exam_id = await make_exam(client, teacher)
    people = await _students(platform, *(f"Student {n:02d}" for n in range(1, 16)))
    for person in people:
        await take(client, person, exam_id, 1)
        clock.advance(1)

    def window(rank: int) -> list[int]:
        return [entry["rank"] for entry in found[rank]["around"]]

    found = {
        rank: await board(client, people[rank - 1], exam_id, top=3, around="me")
        for rank in (1, 2, 8, 15)
    }
    assert window(8) == list(range(3, 14))
    assert window(2) == list(range(1, 8))
    assert window(1) == list(range(1, 7))
    assert window(15) == list(range(10, 16))
    assert [entry["displayName"] for entry in found[8]["around"]][5] == "Student 08"
    assert found[8]["me"]["rank"] == 8
    assert names(found[8]["top"]) == [(1, "Student 01"), (2, "Student 02"), (3, "Student 03")]


@pytest.mark.parametrize(
    "params",
    [{"top": 0}, {"top": 1001}, {"top": "many"}, {"around": "you"}, {"cohort": "batch-a"}],
)
async def test_bad_parameters_are_refused(
    client: httpx.AsyncClient, platform: Platform, teacher: Person, params: dict[str, object]
) -> None:
    exam_id = await make_exam(client, teacher)
    for path in ("", "/events"):
        refused = await client.get(
            f"/api/v1/exams/{exam_id}/leaderboard{path}", params=params, headers=teacher.headers
        )
        assert refused.status_code in (400, 422), refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")


async def test_who_may_read_a_board(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    member, outsider = await _students(platform, "Member", "Outsider")
    cohort = await make_cohort(client, teacher, "Closed group", member)
    exam_id = await make_exam(client, teacher, cohortId=cohort)
    await take(client, member, exam_id, 3)
    colleague = await make_person(platform, Role.TEACHER)
    admin = await make_person(platform, Role.ADMIN)

    for reader in (member, teacher, admin):
        assert (await board(client, reader, exam_id))["total"] == 1
    for path in ("", "/events"):
        url = f"/api/v1/exams/{exam_id}/leaderboard{path}"
        outside = await client.get(url, headers=outsider.headers)
        assert (outside.status_code, outside.json()["code"]) == (403, "not_in_cohort")
        other_teacher = await client.get(url, headers=colleague.headers)
        assert other_teacher.status_code == 404
        anonymous = await client.get(url)
        assert anonymous.status_code == 401
    missing = await client.get(f"/api/v1/exams/{uuid.uuid4()}/leaderboard", headers=member.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


async def test_the_results_rank_is_the_leaderboard_rank(
    client: httpx.AsyncClient, platform: Platform, teacher: Person
) -> None:
    exam_id = await make_exam(client, teacher, attemptPolicy="highest")
    ada, bea = await _students(platform, "Ada", "Bea")
    await take(client, ada, exam_id, 4)
    await take(client, bea, exam_id, 3)
    worse = await take(client, ada, exam_id, 1)  # her best attempt still counts
    result = await client.get(f"/api/v1/sessions/{worse['sessionId']}/result", headers=ada.headers)
    assert result.json()["rank"] == 1
    bea_board = await board(client, bea, exam_id)
    assert bea_board["me"]["rank"] == 2


async def test_a_lost_index_is_rebuilt_from_the_database(
    client: httpx.AsyncClient,
    platform: Platform,
    teacher: Person,
    settings: Settings,
    clock: FakeClock,
) -> None:
    exam_id = await make_exam(client, teacher)
    ada, bea = await _students(platform, "Ada", "Bea")
    await take(client, ada, exam_id, 2)
    await take(client, bea, exam_id, 3)
    before = await board(client, ada, exam_id, around="me")
    assert names(before["top"]) == [(1, "Bea"), (2, "Ada")]
    if platform.redis is not None:  # Redis restarted empty
        await _forget_boards(platform)
        assert await board(client, ada, exam_id, around="me") == before
        return
    restarted = create_app(settings, clock=clock)  # the in-process index starts empty
    transport = httpx.ASGITransport(app=restarted)
    async with (
        serving(restarted),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as fresh,
    ):
        assert await board(fresh, teacher, exam_id) == {**before, "me": None, "around": []}


async def _forget_boards(platform: Platform) -> None:
    prefix = platform.settings.redis_prefix
    assert platform.redis is not None
    keys = [key async for key in platform.redis.scan_iter(match=f"{prefix}lb:*")]
    await platform.redis.delete(*keys)


async def test_a_crowd_of_first_readers_all_get_the_whole_board(
    client: httpx.AsyncClient,
    platform: Platform,
    teacher: Person,
    settings: Settings,
    clock: FakeClock,
) -> None:
    """More readers than pooled connections arrive at a board nobody has built yet: the
    ones waiting for the build must not hold the connections the build needs."""
    exam_id = await make_exam(client, teacher)
    students = await _students(platform, "Ada", "Bea", "Cy")
    for right, student in enumerate(students, start=1):
        await take(client, student, exam_id, right)
    readers = 2 * (settings.db_pool_size + settings.db_max_overflow)  # SQLite pools 15

    async def crowd(http: httpx.AsyncClient) -> None:
        seen = await asyncio.gather(*(board(http, teacher, exam_id) for _ in range(readers)))
        assert [entry["total"] for entry in seen] == [3] * readers
        assert all(names(entry["top"]) == [(1, "Cy"), (2, "Bea"), (3, "Ada")] for entry in seen)

    if platform.redis is not None:  # Redis restarted empty
        await _forget_boards(platform)
        await crowd(client)
        return
    restarted = create_app(settings, clock=clock)  # the in-process index starts empty
    transport = httpx.ASGITransport(app=restarted)
    async with (
        serving(restarted),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as fresh,
    ):
        await crowd(fresh)


def test_timestamps_order_exactly() -> None:
    """The member encoding sorts by submit time to the microsecond."""
    earlier = datetime(2026, 11, 30, 12, 0, 0, 1, tzinfo=UTC)
    later = earlier + timedelta(microseconds=1)
    same_user = uuid.uuid4()
    first = Standing(same_user, 1.0, 4.0, earlier, 1)
    second = Standing(same_user, 1.0, 4.0, later, 1)
    assert first.member > second.member, "the earlier submit sorts higher"
    assert Standing.decode(first.encode()) == first


async def test_an_unreachable_index_is_a_503_and_results_still_show(
    client: httpx.AsyncClient,
    platform: Platform,
    teacher: Person,
    deployment: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if deployment == "embedded":
        pytest.skip("the embedded index lives in the process and cannot be unreachable")
    exam_id = await make_exam(client, teacher)
    (ada,) = await _students(platform, "Ada")
    submitted = await take(client, ada, exam_id, 2)

    async def unreachable(*args: object, **kwargs: object) -> None:
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(RedisLeaderboardIndex, "read", unreachable)
    refused = await client.get(f"/api/v1/exams/{exam_id}/leaderboard", headers=ada.headers)
    assert (refused.status_code, refused.json()["code"]) == (503, "hot_store_unavailable")
    result = await client.get(
        f"/api/v1/sessions/{submitted['sessionId']}/result", headers=ada.headers
    )
    assert result.status_code == 200
    assert result.json()["score"] == 2
    assert "rank" not in result.json()
