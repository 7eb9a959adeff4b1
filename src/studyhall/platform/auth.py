"""Who is acting, how they proved it, and the checks services run with that actor.

Access tokens are HS256 JWTs signed with the deployment's secret key, so any
node accepts a token any other node issued. Each token carries the user's
``token_generation``; a password change bumps it and retires older tokens.
Verifying a signature costs about 115 µs, so tokens that verified are remembered
(signature and claims only: expiry and generation are judged on every request).
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import jwt

from studyhall.platform.clock import Clock
from studyhall.platform.errors import Forbidden, NotAuthenticated, NotFound

TOKEN_ALGORITHM = "HS256"
TOKEN_AUDIENCE = "studyhall"

# Enough for every token in use on a busy node (about 20 MB when full); the least
# recently used leave and verify again.
VERIFIED_TOKEN_CACHE_SIZE = 32_768

AuthMethod = Literal["bearer", "cookie"]


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated user a service acts for."""

    user_id: uuid.UUID
    role: Role
    email: str
    name: str
    method: AuthMethod

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_staff(self) -> bool:
        """Teachers and admins build content and manage cohorts."""
        return self.role in (Role.TEACHER, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: uuid.UUID
    generation: int


def issue_access_token(
    *, secret: str, clock: Clock, user_id: uuid.UUID, generation: int, ttl_seconds: int
) -> str:
    issued = int(clock.timestamp())
    claims = {
        "sub": str(user_id),
        "gen": generation,
        "iat": issued,
        "exp": issued + ttl_seconds,
        "aud": TOKEN_AUDIENCE,
    }
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


def read_access_token(token: str, *, secret: str, clock: Clock) -> TokenClaims:
    """Verify signature, audience and expiry (against our clock); 401 otherwise."""
    expires_at, claims = _verified_claims(token, secret)
    if expires_at <= clock.timestamp():
        raise NotAuthenticated("The access token has expired")
    return claims


@functools.lru_cache(maxsize=VERIFIED_TOKEN_CACHE_SIZE)
def _verified_claims(token: str, secret: str) -> tuple[int, TokenClaims]:
    """Expiry and claims of a token whose signature holds for ``secret``.

    Keyed by the exact token and secret, so a changed byte or another key verifies
    afresh; a refusal raises, and lru_cache never stores a raised call.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            audience=TOKEN_AUDIENCE,
            # Time is ours to judge (PyJWT would compare iat and exp with the wall clock).
            options={
                "verify_exp": False,
                "verify_iat": False,
                "require": ["sub", "gen", "exp", "aud"],
            },
        )
        expires_at = int(claims["exp"])
        user_id = uuid.UUID(str(claims["sub"]))
        generation = int(claims["gen"])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise NotAuthenticated("The access token is not valid") from exc
    return expires_at, TokenClaims(user_id=user_id, generation=generation)


def hash_secret_token(token: str) -> str:
    """Stored form of an opaque random token (session cookies): a leaked table grants nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        raise Forbidden(f"This needs the role {' or '.join(role.value for role in roles)}")


def require_staff(actor: Actor) -> None:
    require_role(actor, Role.TEACHER, Role.ADMIN)


def ensure_owner_or_admin(actor: Actor, owner_id: uuid.UUID, *, what: str) -> None:
    """Someone else's object is reported as missing, so its existence does not leak."""
    if actor.user_id != owner_id and not actor.is_admin:
        raise NotFound(f"No such {what}")
