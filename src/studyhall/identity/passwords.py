"""Argon2id password hashing, off the event loop (a hash costs tens of milliseconds)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from studyhall.config import PasswordHashProfile

# "fast" exists for test suites only; it is still argon2id, just cheap.
_PROFILES = {
    "strong": profiles.RFC_9106_LOW_MEMORY,
    "fast": profiles.CHEAPEST,
}


class Passwords:
    def __init__(self, profile: PasswordHashProfile) -> None:
        self._hasher = PasswordHasher.from_parameters(_PROFILES[profile])

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self._hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def burn(self, password: str) -> None:
        """Spend the time of a real check when the account is unknown, so timing hides it."""
        await self.hash(password)
