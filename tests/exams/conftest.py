"""Fixtures the exam tests share."""

from __future__ import annotations

import pytest

from studyhall.platform.auth import Role
from studyhall.platform.runtime import Platform
from tests.helpers import Person, make_person


@pytest.fixture
async def teacher(platform: Platform) -> Person:
    return await make_person(platform, Role.TEACHER)
