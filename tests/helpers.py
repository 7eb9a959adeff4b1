"""Small helpers that tests use to set up people and call the API as them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from studyhall.identity import service
from studyhall.platform.auth import Role
from studyhall.platform.runtime import Platform

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_person(platform: Platform, role: Role = Role.STUDENT, name: str = "") -> Person:
    """Create an account directly through the service and issue it a token."""
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.org"
    async with platform.sessions() as session, session.begin():
        user = await service.register(
            session, platform, email=email, password=PASSWORD, name=name or email, role=role
        )
    return Person(user.id, email, service.access_token_for(platform, user).access_token)


async def register_and_login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> Person:
    """Go the way a new user does: register, then ask for a token."""
    created = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "name": "New User"}
    )
    assert created.status_code == 201, created.text
    token = await client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert token.status_code == 200, token.text
    return Person(uuid.UUID(created.json()["id"]), email, token.json()["accessToken"])
