"""Identity rules: registration, login with rate limits, tokens, sessions, cohorts.

Services take the acting user and check what that user may do; they never commit
(the request or command that owns the unit of work does).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta
from functools import cache

from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.identity import auth_cache, repository
from studyhall.identity.models import Cohort, CohortMember, User, WebSession
from studyhall.identity.passwords import Passwords
from studyhall.identity.schemas import (
    CohortDetailOut,
    CohortMemberOut,
    CohortOut,
    MeOut,
    NotificationOut,
    TokenOut,
)
from studyhall.platform.auth import (
    Actor,
    AuthMethod,
    Role,
    ensure_owner_or_admin,
    hash_secret_token,
    issue_access_token,
    read_access_token,
    require_role,
    require_staff,
)
from studyhall.platform.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    RateLimited,
)
from studyhall.platform.ids import new_id
from studyhall.platform.runtime import Platform

MIN_PASSWORD_LENGTH = 8
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class EmailTaken(Conflict):
    code = "email_taken"
    title = "An account with this email exists"


class InvalidEmail(InvalidInput):
    code = "invalid_email"
    title = "The email address is not valid"


class WeakPassword(InvalidInput):
    code = "weak_password"
    title = "The password is too weak"


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"
    title = "Wrong email or password"


class CohortNameTaken(Conflict):
    code = "cohort_name_taken"
    title = "You already have a cohort with this name"


class NotAStudent(InvalidInput):
    code = "not_a_student"
    title = "Only students can be cohort members"


@cache
def passwords_for(profile: str) -> Passwords:
    return Passwords("fast" if profile == "fast" else "strong")


def _passwords(platform: Platform) -> Passwords:
    return passwords_for(platform.settings.password_hash_profile)


def normalize_email(email: str) -> str:
    normalized = email.strip().lower()
    if not _EMAIL.match(normalized):
        raise InvalidEmail(f"{email!r} is not an email address")
    return normalized


def _check_password_strength(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"Use at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip().lower() == email:
        raise WeakPassword("The password must not be the email address")


def actor_for(user: User | auth_cache.CachedUser, method: AuthMethod) -> Actor:
    return Actor(
        user_id=user.id, role=Role(user.role), email=user.email, name=user.name, method=method
    )


async def register(
    session: AsyncSession,
    platform: Platform,
    *,
    email: str,
    password: str,
    name: str,
    role: Role = Role.STUDENT,
    client_ip: str | None = None,
) -> User:
    """Create an account. Requests from the web (``client_ip`` given) are limited per
    address before any work, so a script cannot mass-create accounts or burn CPU on
    password hashing; the CLI and demo seeding pass no address."""
    if client_ip is not None:
        settings = platform.settings
        decision = await platform.limiter.hit(
            f"register:ip:{client_ip}",
            limit=settings.register_limit_per_ip,
            window_seconds=settings.login_limit_window_seconds,
        )
        if not decision.allowed:
            raise RateLimited(decision.retry_after, "Too many registrations")
    email = normalize_email(email)
    name = name.strip()
    if not name:
        raise InvalidInput("The name must not be blank")
    _check_password_strength(password, email)
    now = platform.clock.now()
    user = User(
        id=new_id(),
        email=email,
        name=name,
        role=role.value,
        password_hash=await _passwords(platform).hash(password),
        token_generation=0,
        created_at=now,
        updated_at=now,
    )
    try:
        await repository.add_user(session, user)
    except repository.DuplicateRow as exc:
        raise EmailTaken(f"{email} is already registered") from exc
    return user


async def _refuse_if_limited(platform: Platform, keys: list[tuple[str, int]]) -> None:
    window = platform.settings.login_limit_window_seconds
    for key, limit in keys:
        decision = await platform.limiter.peek(key, limit=limit, window_seconds=window)
        if not decision.allowed:
            raise RateLimited(decision.retry_after, "Too many login attempts")


async def login(
    session: AsyncSession, platform: Platform, *, email: str, password: str, client_ip: str
) -> User:
    """Check credentials; attempts are limited per IP, failures per account (429)."""
    settings = platform.settings
    window = settings.login_limit_window_seconds
    email = email.strip().lower()
    ip_key = f"login:ip:{client_ip}"
    account_key = f"login:account:{email}"
    await _refuse_if_limited(
        platform,
        [(ip_key, settings.login_limit_per_ip), (account_key, settings.login_limit_per_account)],
    )
    ip_decision = await platform.limiter.hit(
        ip_key, limit=settings.login_limit_per_ip, window_seconds=window
    )
    if not ip_decision.allowed:
        raise RateLimited(ip_decision.retry_after, "Too many login attempts")
    user = await repository.user_by_email(session, email)
    if user is None:
        await _passwords(platform).burn(password)
    elif await _passwords(platform).verify(user.password_hash, password):
        return user
    await platform.limiter.hit(
        account_key, limit=settings.login_limit_per_account, window_seconds=window
    )
    raise InvalidCredentials()


def access_token_for(platform: Platform, user: User) -> TokenOut:
    ttl = platform.settings.access_token_ttl_seconds
    token = issue_access_token(
        secret=platform.settings.secret_key,
        clock=platform.clock,
        user_id=user.id,
        generation=user.token_generation,
        ttl_seconds=ttl,
    )
    return TokenOut(access_token=token, expires_in=ttl)


async def actor_from_bearer(session: AsyncSession, platform: Platform, token: str) -> Actor:
    claims = read_access_token(token, secret=platform.settings.secret_key, clock=platform.clock)
    user = await auth_cache.user(session, platform, claims.user_id)
    if user is None or user.generation != claims.generation:
        raise NotAuthenticated("The access token is no longer valid")
    return actor_for(user, "bearer")


async def cached_bearer_actor(platform: Platform, token: str) -> Actor | None:
    """The token's actor from the hot store alone; None when its user is not cached (ask
    :func:`actor_from_bearer`). Hot paths try this first and open no database session."""
    claims = read_access_token(token, secret=platform.settings.secret_key, clock=platform.clock)
    user = await auth_cache.cached_user(platform, claims.user_id)
    if user is None:
        return None
    if user.generation != claims.generation:
        raise NotAuthenticated("The access token is no longer valid")
    return actor_for(user, "bearer")


async def actor_from_cookie(
    session: AsyncSession, platform: Platform, raw_token: str
) -> Actor | None:
    user = await auth_cache.web_session_user(session, platform, hash_secret_token(raw_token))
    return None if user is None else actor_for(user, "cookie")


async def start_web_session(
    session: AsyncSession, platform: Platform, user: User, *, user_agent: str
) -> str:
    """Create a browser session and return the raw token for the cookie (stored hashed)."""
    raw_token = secrets.token_urlsafe(32)
    now = platform.clock.now()
    await repository.add_web_session(
        session,
        WebSession(
            token_hash=hash_secret_token(raw_token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=platform.settings.web_session_ttl_seconds),
            user_agent=user_agent[:300],
        ),
    )
    return raw_token


async def end_web_session(session: AsyncSession, platform: Platform, raw_token: str) -> None:
    token_hash = hash_secret_token(raw_token)
    await repository.delete_web_session(session, token_hash)
    await auth_cache.forget_session(platform, token_hash)


async def me(session: AsyncSession, actor: Actor) -> MeOut:
    user = await repository.user_by_id(session, actor.user_id)
    if user is None:
        raise NotAuthenticated("The account no longer exists")
    cohorts = await repository.cohorts_with_counts(session, owner_id=None, member_id=user.id)
    return MeOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        created_at=user.created_at,
        cohorts=[_cohort_out(cohort, count) for cohort, count in cohorts],
    )


async def change_password(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    *,
    current_password: str,
    new_password: str,
    keep_session_token: str | None = None,
) -> TokenOut:
    """Replace the password, retire every older token and every other browser session."""
    user = await repository.user_by_id(session, actor.user_id)
    if user is None:
        raise NotAuthenticated("The account no longer exists")
    if not await _passwords(platform).verify(user.password_hash, current_password):
        raise InvalidCredentials("The current password is wrong")
    _check_password_strength(new_password, user.email)
    new_hash = await _passwords(platform).hash(new_password)
    user.token_generation = await repository.set_password(
        session, user.id, new_hash, platform.clock.now()
    )
    keep = hash_secret_token(keep_session_token) if keep_session_token else None
    await repository.delete_other_web_sessions(session, user.id, keep)
    await auth_cache.remember_user(platform, user)
    return access_token_for(platform, user)


async def list_users(
    session: AsyncSession, actor: Actor, *, role: Role | None, limit: int, offset: int
) -> list[User]:
    require_role(actor, Role.ADMIN)
    users = await repository.list_users(
        session, role=role.value if role else None, limit=limit, offset=offset
    )
    return list(users)


def _cohort_out(cohort: Cohort, member_count: int) -> CohortOut:
    return CohortOut(
        id=cohort.id, name=cohort.name, owner_id=cohort.owner_id, member_count=member_count
    )


async def create_cohort(
    session: AsyncSession, platform: Platform, actor: Actor, *, name: str
) -> CohortOut:
    require_staff(actor)
    cohort = Cohort(
        id=new_id(), name=name.strip(), owner_id=actor.user_id, created_at=platform.clock.now()
    )
    if not cohort.name:
        raise InvalidInput("The cohort name must not be blank")
    try:
        await repository.add_cohort(session, cohort)
    except repository.DuplicateRow as exc:
        raise CohortNameTaken(f"You already have a cohort named {cohort.name!r}") from exc
    return _cohort_out(cohort, 0)


async def list_cohorts(session: AsyncSession, actor: Actor) -> list[CohortOut]:
    """Admins see all cohorts, teachers their own, students the ones they belong to."""
    if actor.is_admin:
        rows = await repository.cohorts_with_counts(session, owner_id=None, member_id=None)
    elif actor.is_staff:
        rows = await repository.cohorts_with_counts(session, owner_id=actor.user_id, member_id=None)
    else:
        rows = await repository.cohorts_with_counts(session, owner_id=None, member_id=actor.user_id)
    return [_cohort_out(cohort, count) for cohort, count in rows]


async def _managed_cohort(session: AsyncSession, actor: Actor, cohort_id: uuid.UUID) -> Cohort:
    cohort = await repository.cohort_by_id(session, cohort_id)
    if cohort is None:
        raise NotFound("No such cohort")
    ensure_owner_or_admin(actor, cohort.owner_id, what="cohort")
    return cohort


async def cohort_detail(
    session: AsyncSession, actor: Actor, cohort_id: uuid.UUID
) -> CohortDetailOut:
    cohort = await _managed_cohort(session, actor, cohort_id)
    members = await repository.cohort_members(session, cohort.id)
    return CohortDetailOut(
        id=cohort.id,
        name=cohort.name,
        owner_id=cohort.owner_id,
        members=[
            CohortMemberOut(user_id=user.id, name=user.name, email=user.email, added_at=added_at)
            for user, added_at in members
        ],
    )


async def add_cohort_member(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    cohort_id: uuid.UUID,
    user_id: uuid.UUID,
) -> bool:
    """Add a student; returns False when they were already a member."""
    cohort = await _managed_cohort(session, actor, cohort_id)
    user = await repository.user_by_id(session, user_id)
    if user is None:
        raise NotFound("No such user")
    if user.role != Role.STUDENT.value:
        raise NotAStudent(f"{user.email} is a {user.role}")
    return await repository.add_cohort_member(
        session, CohortMember(cohort_id=cohort.id, user_id=user.id, added_at=platform.clock.now())
    )


async def remove_cohort_member(
    session: AsyncSession, actor: Actor, cohort_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    cohort = await _managed_cohort(session, actor, cohort_id)
    if not await repository.remove_cohort_member(session, cohort.id, user_id):
        raise NotFound("That user is not in this cohort")


async def is_cohort_member(session: AsyncSession, cohort_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Leaderboards and exam gates ask this."""
    return await repository.is_cohort_member(session, cohort_id, user_id)


async def cohort_members_among(
    session: AsyncSession, cohort_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """A burst of exam starts asks this once for all its students."""
    return await repository.cohort_members_among(session, cohort_id, user_ids)


async def notifications(
    session: AsyncSession, actor: Actor, *, limit: int
) -> list[NotificationOut]:
    """The acting user's own inbox, newest first (nobody reads another's)."""
    rows = await repository.notifications_for(session, actor.user_id, limit=limit)
    return [
        NotificationOut(
            id=row.id,
            kind=row.kind,
            title=row.title,
            body=row.body,
            created_at=row.created_at,
            read_at=row.read_at,
        )
        for row in rows
    ]
