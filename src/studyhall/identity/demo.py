"""Demo people: an admin, a teacher, and three students in the teacher's cohort."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.demo import DemoContext, DemoLogin
from studyhall.identity import repository, service
from studyhall.identity.models import User
from studyhall.platform.auth import Role
from studyhall.platform.runtime import Platform

DEMO_PEOPLE = [
    ("admin", Role.ADMIN, "admin@studyhall.test", "Ada Admin"),
    ("teacher", Role.TEACHER, "teacher@studyhall.test", "Tomás Teacher"),
    ("student1", Role.STUDENT, "student1@studyhall.test", "Sam Student"),
    ("student2", Role.STUDENT, "student2@studyhall.test", "Priya Student"),
    ("student3", Role.STUDENT, "student3@studyhall.test", "Lee Student"),
]
DEMO_COHORT = "Batch 2026-A"


async def _person(
    session: AsyncSession,
    platform: Platform,
    context: DemoContext,
    email: str,
    name: str,
    role: Role,
) -> User:
    existing = await repository.user_by_email(session, email)
    if existing is not None:
        return existing
    return await service.register(
        session, platform, email=email, password=context.password, name=name, role=role
    )


async def seed_identity(session: AsyncSession, platform: Platform, context: DemoContext) -> None:
    for key, role, email, name in DEMO_PEOPLE:
        user = await _person(session, platform, context, email, name, role)
        context.objects[key] = user
        context.logins.append(DemoLogin(role.value, email, context.password, name))
    teacher = context.objects["teacher"]
    owned = await repository.cohorts_with_counts(session, owner_id=teacher.id, member_id=None)
    cohort = next((c for c, _ in owned if c.name == DEMO_COHORT), None)
    teacher_actor = service.actor_for(teacher, "bearer")
    if cohort is None:
        created = await service.create_cohort(session, platform, teacher_actor, name=DEMO_COHORT)
        cohort_id = created.id
    else:
        cohort_id = cohort.id
    for key in ("student1", "student2", "student3"):
        await service.add_cohort_member(
            session, platform, teacher_actor, cohort_id, context.objects[key].id
        )
    context.objects["cohort_id"] = cohort_id
