"""Products, manual entitlements and the gate on lessons and videos, on both deployments."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from studyhall.payments import access
from studyhall.platform.auth import Actor, Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.errors import NotFound
from studyhall.platform.runtime import Platform
from tests.content.helpers import add_lesson, create_course
from tests.helpers import PASSWORD, Person
from tests.payments.conftest import SoldCourse, create_product, entitlements, new_uuid


async def test_admins_make_products_that_fit_their_kind(
    client: httpx.AsyncClient, admin: Person, teacher: Person, student: Person
) -> None:
    course = await create_course(client, teacher, published=True)
    made = await create_product(client, admin, kind="course", courseId=course["id"], currency="eur")
    assert made["kind"] == "course"
    assert made["currency"] == "eur"
    assert made["active"] is True
    shown = await client.get(f"/api/v1/courses/{course['id']}")
    assert shown.json()["productId"] == made["id"], "the catalog names the product that sells it"

    wrong = [
        {"kind": "course"},
        {"kind": "bundle", "courseId": course["id"]},
        {"kind": "bundle", "examIds": [new_uuid()]},
        {"kind": "pass"},
        {"kind": "pass", "durationDays": 30, "courseId": course["id"]},
        {"kind": "course", "courseId": new_uuid()},
    ]
    for fields in wrong:
        body = {"title": "X", "priceMinor": 100, "currency": "usd", **fields}
        refused = await client.post("/api/v1/products", json=body, headers=admin.headers)
        assert refused.status_code == 422, (fields, refused.text)
        assert refused.json()["code"] == "invalid_product"
    for bad in ({"priceMinor": -1}, {"currency": "euro"}, {"title": ""}):
        body = {"kind": "pass", "title": "P", "priceMinor": 1, "currency": "usd", "durationDays": 1}
        refused = await client.post("/api/v1/products", json=body | bad, headers=admin.headers)
        assert refused.status_code == 422, bad

    pass_body = {"kind": "pass", "title": "All", "priceMinor": 9900, "currency": "usd"}
    for person in (teacher, student):
        denied = await client.post(
            "/api/v1/products", json=pass_body | {"durationDays": 30}, headers=person.headers
        )
        assert denied.status_code == 403

    off = await client.patch(
        f"/api/v1/products/{made['id']}", json={"active": False}, headers=admin.headers
    )
    assert off.status_code == 200
    assert off.json()["active"] is False
    assert (await client.get(f"/api/v1/courses/{course['id']}")).json()["productId"] is None
    assert (await client.get(f"/api/v1/products/{made['id']}")).status_code == 404
    listed = await client.get("/api/v1/products?all=true", headers=admin.headers)
    assert [p["id"] for p in listed.json()] == [made["id"]]
    assert (await client.get("/api/v1/products?all=true")).json() == []


async def test_a_sold_course_needs_an_entitlement_and_a_free_one_does_not(
    client: httpx.AsyncClient, sold_course: SoldCourse, teacher: Person, student: Person
) -> None:
    lesson = f"/api/v1/lessons/{sold_course.lesson_id}"
    for path in (lesson, f"{lesson}/video-url"):
        refused = await client.get(path, headers=student.headers)
        assert refused.status_code == 402, refused.text
        problem = refused.json()
        assert problem["code"] == "entitlement_required"
        assert [p["id"] for p in problem["products"]] == [sold_course.product_id]
        assert problem["products"][0]["priceMinor"] == 1999
        assert (await client.get(path, headers=teacher.headers)).status_code == 200
    # The lesson's practice questions are paid content too (this lesson has none).
    practice = await client.get(f"{lesson}/practice", headers=student.headers)
    assert practice.status_code == 402, practice.text
    assert (await client.get(f"{lesson}/practice", headers=teacher.headers)).status_code == 404

    free = await create_course(client, teacher, published=True)
    free_lesson = await add_lesson(client, teacher, free["id"])
    opened = await client.get(f"/api/v1/lessons/{free_lesson['id']}", headers=student.headers)
    assert opened.status_code == 200


async def test_a_manual_grant_opens_and_a_revoke_closes_at_once(
    client: httpx.AsyncClient,
    sold_course: SoldCourse,
    admin: Person,
    teacher: Person,
    student: Person,
    clock: FakeClock,
) -> None:
    lesson = f"/api/v1/lessons/{sold_course.lesson_id}"
    assert (await client.get(lesson, headers=student.headers)).status_code == 402  # now cached
    assert await entitlements(client, student) == []

    body = {"userId": str(student.id), "productId": sold_course.product_id, "note": "scholarship"}
    granted = await client.post("/api/v1/entitlements", json=body, headers=teacher.headers)
    assert granted.status_code == 201, granted.text
    grant = granted.json()
    assert grant["grantedBy"] == str(teacher.id)
    assert grant["grantNote"] == "scholarship"
    assert grant["orderId"] is None
    assert grant["revokedAt"] is None
    assert (await client.get(lesson, headers=student.headers)).status_code == 200
    mine = await entitlements(client, student)
    assert mine == [
        {
            "productId": sold_course.product_id,
            "grantedAt": grant["grantedAt"],
            "expiresAt": None,
            "revokedAt": None,
        }
    ]

    clock.advance(60)
    revoked = await client.post(
        f"/api/v1/entitlements/{grant['id']}/revoke", json={"note": "left"}, headers=admin.headers
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revokedBy"] == str(admin.id)
    assert (await client.get(lesson, headers=student.headers)).status_code == 402
    assert (await entitlements(client, student))[0]["revokedAt"] is not None
    again = await client.post(
        f"/api/v1/entitlements/{grant['id']}/revoke", json={"note": "x"}, headers=admin.headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "already_revoked"
    audit = await client.get(
        f"/api/v1/entitlements?productId={sold_course.product_id}", headers=teacher.headers
    )
    assert [(e["grantedBy"], e["revokedBy"]) for e in audit.json()] == [
        (str(teacher.id), str(admin.id))
    ]


async def test_only_the_right_staff_grant(
    client: httpx.AsyncClient,
    sold_course: SoldCourse,
    admin: Person,
    student: Person,
    platform: Platform,
) -> None:
    from tests.helpers import make_person

    other_teacher = await make_person(platform, Role.TEACHER)
    body = {"userId": str(student.id), "productId": sold_course.product_id, "note": "n"}
    assert (
        await client.post("/api/v1/entitlements", json=body, headers=student.headers)
    ).status_code == 403
    assert (
        await client.post("/api/v1/entitlements", json=body, headers=other_teacher.headers)
    ).status_code == 404
    nobody = body | {"userId": new_uuid()}
    assert (
        await client.post("/api/v1/entitlements", json=nobody, headers=admin.headers)
    ).status_code == 404
    pass_product = await create_product(client, admin, kind="pass", durationDays=30)
    teacher_pass = body | {"productId": pass_product["id"]}
    assert (
        await client.post("/api/v1/entitlements", json=teacher_pass, headers=other_teacher.headers)
    ).status_code == 404


async def test_an_all_access_pass_opens_gated_courses_until_it_expires(
    client: httpx.AsyncClient,
    sold_course: SoldCourse,
    admin: Person,
    student: Person,
    clock: FakeClock,
) -> None:
    lesson = f"/api/v1/lessons/{sold_course.lesson_id}"
    pass_product = await create_product(client, admin, kind="pass", durationDays=30)
    refused = await client.get(lesson, headers=student.headers)
    offered = {p["id"] for p in refused.json()["products"]}
    assert offered == {sold_course.product_id, pass_product["id"]}, "a pass is offered too"

    body = {"userId": str(student.id), "productId": pass_product["id"], "note": "promo"}
    granted = await client.post("/api/v1/entitlements", json=body, headers=admin.headers)
    grant = granted.json()
    lasts = datetime.fromisoformat(grant["expiresAt"]) - datetime.fromisoformat(grant["grantedAt"])
    assert lasts == timedelta(days=30)
    assert (await client.get(lesson, headers=student.headers)).status_code == 200
    clock.advance(30 * 86400 + 1)
    token = await client.post(
        "/api/v1/auth/token", json={"email": student.email, "password": PASSWORD}
    )
    fresh = {"Authorization": f"Bearer {token.json()['accessToken']}"}
    assert (await client.get(lesson, headers=fresh)).status_code == 402


async def test_a_grant_on_one_node_is_seen_by_another_nodes_cache(
    client: httpx.AsyncClient,
    sold_course: SoldCourse,
    admin: Person,
    student: Person,
    platform: Platform,
    clock: FakeClock,
    deployment: str,
) -> None:
    """Scaled: a second platform (another node) shares Redis; its cached 'no' must go."""
    if deployment == "embedded":
        return  # one process is the only node; the test above covers it
    other = await Platform.start(platform.settings, clock=clock)
    actor = Actor(student.id, Role.STUDENT, student.email, "S", "bearer")
    course_id = uuid.UUID(sold_course.course_id)
    try:
        async with other.sessions() as session:
            assert await access.products_to_buy(session, other, actor, course_id=course_id)
        body = {"userId": str(student.id), "productId": sold_course.product_id, "note": "n"}
        granted = await client.post("/api/v1/entitlements", json=body, headers=admin.headers)
        assert granted.status_code == 201
        async with other.sessions() as session:
            assert await access.products_to_buy(session, other, actor, course_id=course_id) == []
    finally:
        await other.close()


async def test_the_check_is_served_from_the_cache(
    client: httpx.AsyncClient, sold_course: SoldCourse, student: Person, platform: Platform
) -> None:
    """A cached answer needs no database: the check still answers with the tables gone."""
    actor = Actor(student.id, Role.STUDENT, student.email, "S", "bearer")
    course_id = uuid.UUID(sold_course.course_id)
    async with platform.sessions() as session:
        first = await access.products_to_buy(session, platform, actor, course_id=course_id)

    class NoDatabase:
        async def execute(self, *args: object, **kwargs: object) -> None:
            raise NotFound("the database was asked")

    again = await access.products_to_buy(NoDatabase(), platform, actor, course_id=course_id)  # type: ignore[arg-type]
    assert again == first
    assert first


async def _exam(platform: Platform, owner: Person, product_id: str | None = None) -> uuid.UUID:
    """An exam row as the exams package stores it (only its gate matters here)."""
    from studyhall.exams.models import Exam

    exam_id = uuid.uuid4()
    now = platform.clock.now()
    async with platform.sessions() as session, session.begin():
        session.add(
            Exam(
                id=exam_id,
                owner_id=owner.id,
                title="Mock",
                duration_seconds=600,
                attempt_policy="highest",
                shuffle_questions=False,
                shuffle_options=False,
                on_expiry="submit",
                review_after_submit={},
                review_after_close={},
                product_id=None if product_id is None else uuid.UUID(product_id),
                created_at=now,
                updated_at=now,
            )
        )
    return exam_id


async def test_exams_are_gated_by_bundles_and_by_the_product_they_name(
    client: httpx.AsyncClient,
    platform: Platform,
    sold_course: SoldCourse,
    admin: Person,
    teacher: Person,
    student: Person,
) -> None:
    bundled = await _exam(platform, teacher)
    named = await _exam(platform, teacher, product_id=sold_course.product_id)
    free = await _exam(platform, teacher)
    bundle = await create_product(client, admin, kind="bundle", examIds=[str(bundled)])
    actor = Actor(student.id, Role.STUDENT, student.email, "S", "bearer")
    staff = Actor(teacher.id, Role.TEACHER, teacher.email, "T", "bearer")

    async with platform.sessions() as session:
        with pytest.raises(access.PaymentRequired) as refused:
            await access.require_access(session, platform, actor, exam_id=bundled)
        assert [p.id for p in refused.value.extra["products"]] == [uuid.UUID(bundle["id"])]
        await access.require_access(session, platform, staff, exam_id=bundled)
        gate = uuid.UUID(sold_course.product_id)
        with pytest.raises(access.PaymentRequired):
            await access.require_access(session, platform, actor, exam_id=named, product_id=gate)
        await access.require_access(session, platform, actor, exam_id=free, product_id=None)

    body = {"userId": str(student.id), "productId": bundle["id"], "note": "bundle"}
    granted = await client.post("/api/v1/entitlements", json=body, headers=teacher.headers)
    assert granted.status_code == 201, "the teacher owns every exam of the bundle"
    async with platform.sessions() as session:
        await access.require_access(session, platform, actor, exam_id=bundled)
