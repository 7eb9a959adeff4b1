"""Cohorts and object-level authorization: nobody reads or changes what is not theirs."""

from __future__ import annotations

import httpx

from studyhall.platform.auth import Role
from studyhall.platform.runtime import Platform
from tests.helpers import make_person

Client = httpx.AsyncClient


async def test_teacher_builds_a_cohort_and_students_see_their_membership(
    client: Client, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    students = [await make_person(platform, Role.STUDENT, name=f"S{i}") for i in range(3)]
    created = await client.post(
        "/api/v1/cohorts", json={"name": "Batch 2026-A"}, headers=teacher.headers
    )
    assert created.status_code == 201
    cohort = created.json()
    assert cohort["memberCount"] == 0
    for student in students:
        added = await client.put(
            f"/api/v1/cohorts/{cohort['id']}/members/{student.id}", headers=teacher.headers
        )
        assert added.status_code == 201
    again = await client.put(
        f"/api/v1/cohorts/{cohort['id']}/members/{students[0].id}", headers=teacher.headers
    )
    assert again.status_code == 200
    assert again.json() == {"added": False}

    detail = await client.get(f"/api/v1/cohorts/{cohort['id']}", headers=teacher.headers)
    assert sorted(member["name"] for member in detail.json()["members"]) == ["S0", "S1", "S2"]
    mine = await client.get("/api/v1/cohorts", headers=students[0].headers)
    assert [(c["name"], c["memberCount"]) for c in mine.json()] == [("Batch 2026-A", 3)]
    me = await client.get("/api/v1/me", headers=students[1].headers)
    assert [c["name"] for c in me.json()["cohorts"]] == ["Batch 2026-A"]

    removed = await client.delete(
        f"/api/v1/cohorts/{cohort['id']}/members/{students[2].id}", headers=teacher.headers
    )
    assert removed.status_code == 204
    gone = await client.get("/api/v1/cohorts", headers=students[2].headers)
    assert gone.json() == []


async def test_cohort_names_are_unique_per_teacher(client: Client, platform: Platform) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    other = await make_person(platform, Role.TEACHER)
    first = await client.post("/api/v1/cohorts", json={"name": "A"}, headers=teacher.headers)
    assert first.status_code == 201
    clash = await client.post("/api/v1/cohorts", json={"name": "A"}, headers=teacher.headers)
    assert clash.status_code == 409
    assert clash.json()["code"] == "cohort_name_taken"
    elsewhere = await client.post("/api/v1/cohorts", json={"name": "A"}, headers=other.headers)
    assert elsewhere.status_code == 201


async def test_students_cannot_manage_or_peek_at_cohorts(
    client: Client, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    student = await make_person(platform, Role.STUDENT)
    intruder = await make_person(platform, Role.STUDENT)
    cohort = (
        await client.post("/api/v1/cohorts", json={"name": "Private"}, headers=teacher.headers)
    ).json()
    await client.put(
        f"/api/v1/cohorts/{cohort['id']}/members/{student.id}", headers=teacher.headers
    )

    create = await client.post("/api/v1/cohorts", json={"name": "Mine"}, headers=student.headers)
    assert create.status_code == 403
    assert create.json()["code"] == "forbidden"
    # Another user's object answers 404, exactly as a missing one: its existence does not leak.
    for person in (student, intruder):
        peek = await client.get(f"/api/v1/cohorts/{cohort['id']}", headers=person.headers)
        assert peek.status_code == 404
        add_self = await client.put(
            f"/api/v1/cohorts/{cohort['id']}/members/{intruder.id}", headers=person.headers
        )
        assert add_self.status_code == 404
        remove = await client.delete(
            f"/api/v1/cohorts/{cohort['id']}/members/{student.id}", headers=person.headers
        )
        assert remove.status_code == 404
    still = await client.get(f"/api/v1/cohorts/{cohort['id']}", headers=teacher.headers)
    assert [member["userId"] for member in still.json()["members"]] == [str(student.id)]


async def test_another_teacher_cannot_touch_my_cohort_but_an_admin_can(
    client: Client, platform: Platform
) -> None:
    owner = await make_person(platform, Role.TEACHER)
    rival = await make_person(platform, Role.TEACHER)
    admin = await make_person(platform, Role.ADMIN)
    student = await make_person(platform, Role.STUDENT)
    cohort = (
        await client.post("/api/v1/cohorts", json={"name": "Owned"}, headers=owner.headers)
    ).json()
    rival_add = await client.put(
        f"/api/v1/cohorts/{cohort['id']}/members/{student.id}", headers=rival.headers
    )
    assert rival_add.status_code == 404
    admin_add = await client.put(
        f"/api/v1/cohorts/{cohort['id']}/members/{student.id}", headers=admin.headers
    )
    assert admin_add.status_code == 201
    every = await client.get("/api/v1/cohorts", headers=admin.headers)
    assert [c["name"] for c in every.json()] == ["Owned"]
    rival_list = await client.get("/api/v1/cohorts", headers=rival.headers)
    assert rival_list.json() == []


async def test_only_students_join_cohorts(client: Client, platform: Platform) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    colleague = await make_person(platform, Role.TEACHER)
    cohort = (
        await client.post("/api/v1/cohorts", json={"name": "Staff?"}, headers=teacher.headers)
    ).json()
    refused = await client.put(
        f"/api/v1/cohorts/{cohort['id']}/members/{colleague.id}", headers=teacher.headers
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "not_a_student"


async def test_user_list_is_for_admins(client: Client, platform: Platform) -> None:
    admin = await make_person(platform, Role.ADMIN)
    student = await make_person(platform, Role.STUDENT)
    assert (await client.get("/api/v1/users", headers=student.headers)).status_code == 403
    listing = await client.get("/api/v1/users?role=student", headers=admin.headers)
    assert listing.status_code == 200
    assert [user["email"] for user in listing.json()] == [student.email]


async def test_notifications_are_private(client: Client, platform: Platform, run_jobs) -> None:  # type: ignore[no-untyped-def]
    first = await client.post(
        "/api/v1/auth/register",
        json={"email": "one@example.org", "password": "long enough pw", "name": "One"},
    )
    assert first.status_code == 201
    await run_jobs()
    other = await make_person(platform, Role.STUDENT)
    seen = await client.get("/api/v1/me/notifications", headers=other.headers)
    assert seen.json() == []
