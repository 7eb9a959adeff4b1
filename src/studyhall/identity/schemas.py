"""Wire types of the identity API (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
CohortName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class RegisterIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    name: DisplayName


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password


class TokenOut(msgspec.Struct, rename="camel"):
    access_token: str
    expires_in: int
    token_type: str = "bearer"


class UserOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    email: str
    name: str
    role: str


class PasswordChangeIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    current_password: Password
    new_password: Password


class CohortIn(msgspec.Struct, forbid_unknown_fields=True):
    name: CohortName


class CohortOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID
    member_count: int


class CohortMemberOut(msgspec.Struct, rename="camel"):
    user_id: uuid.UUID
    name: str
    email: str
    added_at: datetime


class CohortDetailOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID
    members: list[CohortMemberOut]


class MeOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    email: str
    name: str
    role: str
    created_at: datetime
    cohorts: list[CohortOut]


class NotificationOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None
