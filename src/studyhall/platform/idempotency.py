"""Idempotency keys: a retried write gets the first response back instead of running twice.

The contract (IETF httpapi ``Idempotency-Key`` draft): a retry with the same key and
request returns the first response; the same key on another request is ``422
idempotency_key_reused``; a retry while the first still runs is ``409
idempotency_in_flight``; no key where one is required is ``400
idempotency_key_required``. A key is kept 24 h. Keys live in a ``scope`` the caller
builds from the operation and the user (``exam-submit:<user id>``), so two users'
keys never collide. The rows are in the ``idempotency_keys`` table on both engines,
because any app process may die and any other may receive the retry.

Begin (claim)
    :func:`begin` runs one short transaction of its own; its happy path is a single
    ``INSERT .. ON CONFLICT DO NOTHING RETURNING``, and the primary key ``(scope, key)``
    picks the one winner among concurrent requests on any number of processes. A loser
    reads the row: another request hash is a reuse, ``done`` is a :class:`Replay`,
    ``in_flight`` is in flight, unless the claim is older than its lease (its process
    died) or the row expired. Then the loser takes the row over with a compare-and-swap
    on ``claim_token``, so only one of several takes it.

Complete (in the caller's transaction)
    :func:`complete` records the response through the caller's session, so the business
    write and the response commit together or not at all: no crash leaves an effect
    without its recorded response. A crash before that commit leaves the row in flight;
    once its lease runs out, a retry takes it over and runs the request again. So the
    business logic must be safe to run again after a rollback, and effects outside the
    database (a gateway call) must be idempotent on their own, keyed by scope and key.
    :func:`complete` only succeeds while the row still carries the claim's token: a
    request that outlived its lease and was taken over gets :class:`IdempotencyInFlight`
    and its transaction rolls back, so of two runs exactly one commits.

Abandon
    Only responses the caller records are replayed. A request that fails committed
    nothing; the caller calls :func:`abandon` and a retry runs it again. If the process
    dies before that, the lease runs out and a retry takes the key over.

Prune
    Rows past ``expires_at`` count as absent. The ``platform.idempotency.prune`` job
    deletes them in batches and queues its own next run an hour later; every app start
    queues one as well (deduplicated per hour), so a broken chain mends itself.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from litestar import MediaType, Request, Response
from sqlalchemy import CursorResult, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from studyhall.platform.errors import Conflict, DomainError
from studyhall.platform.models import IdempotencyKey

logger = logging.getLogger("studyhall.idempotency")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
MAX_SCOPE_LENGTH = 200
RETENTION = timedelta(hours=24)
DEFAULT_LEASE = timedelta(seconds=60)
"""How long a claim holds its key; past it, the claiming process is presumed dead."""
IN_FLIGHT_RETRY_AFTER_SECONDS = 1
PRUNE_BATCH = 5000
_IN_FLIGHT = "in_flight"
_DONE = "done"
_BEGIN_ATTEMPTS = 3
_SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
_SF_ESCAPE = re.compile(r'\\(["\\])')


class IdempotencyKeyRequired(DomainError):
    status = 400
    code = "idempotency_key_required"
    title = "This request needs an Idempotency-Key header"


class InvalidIdempotencyKey(DomainError):
    status = 400
    code = "invalid_idempotency_key"
    title = "The Idempotency-Key header is not valid"


class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"
    title = "The Idempotency-Key was already used for another request"


class IdempotencyInFlight(Conflict):
    code = "idempotency_in_flight"
    title = "A request with this Idempotency-Key is still being processed"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail,
            headers={"Retry-After": str(IN_FLIGHT_RETRY_AFTER_SECONDS)},
            extra={"retryAfter": IN_FLIGHT_RETRY_AFTER_SECONDS},
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """This request owns the key while the row carries ``token``: run it, then
    :func:`complete` (with the business write) or :func:`abandon`."""

    scope: str
    key: str
    token: str


@dataclass(frozen=True, slots=True)
class Replay:
    """The first request's recorded response (a JSON body), to send instead of running again."""

    status: int
    body: bytes


def parse_idempotency_key(header: str | None) -> str:
    """The key in a header value: a Structured Field string (``"k"``, the draft's form) or the
    bare value most clients send, 1 to 255 printable ASCII characters either way."""
    if header is None or not header.strip():
        raise IdempotencyKeyRequired()
    key = header.strip()
    if key.startswith('"'):
        quoted = _SF_STRING.fullmatch(key)
        key = _SF_ESCAPE.sub(r"\1", quoted.group(1)) if quoted else ""
    if not 0 < len(key) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key):
        raise InvalidIdempotencyKey(
            f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )
    return key


def request_hash(method: str, target: str, body: bytes) -> str:
    """SHA-256 (hex) of the method, the path with its query, and the body's exact bytes: a
    retry must resend the same request, byte for byte."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), target.encode()):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    digest.update(body)
    return digest.hexdigest()


async def begin(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    scope: str,
    key: str,
    request_hash: str,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
) -> Claim | Replay:
    """Claim ``key`` in ``scope`` for this request, or say why not, in a committed
    transaction of its own (so other processes see the claim at once).

    Raises :class:`IdempotencyKeyReused` or :class:`IdempotencyInFlight`.
    """
    if not 0 < len(scope) <= MAX_SCOPE_LENGTH:
        raise ValueError(f"an idempotency scope is 1 to {MAX_SCOPE_LENGTH} characters")
    token = secrets.token_hex(16)
    async with session_factory() as session, session.begin():
        for _ in range(_BEGIN_ATTEMPTS):
            if await _insert_claim(session, scope, key, request_hash, token, now):
                return Claim(scope, key, token)
            row = await _find(session, scope, key)
            if row is None:
                continue  # abandoned or pruned since the insert: insert again
            stale = row.state == _IN_FLIGHT and row.created_at <= now - lease
            if row.expires_at <= now or (stale and row.request_hash == request_hash):
                if await _take_over(session, row, request_hash, token, now):
                    return Claim(scope, key, token)
                continue  # another request took it over first: look again
            if row.request_hash != request_hash:
                raise IdempotencyKeyReused()
            if row.state == _DONE and row.response_status is not None:
                return Replay(row.response_status, row.response_body or b"")
            raise IdempotencyInFlight()
    raise IdempotencyInFlight()  # the row kept changing under us: let the client retry


async def complete(
    session: AsyncSession, claim: Claim, *, status: int, body: bytes, now: datetime
) -> None:
    """Record the response in the caller's transaction, beside the business write it
    describes; raises :class:`IdempotencyInFlight` (roll back!) if the claim was taken over."""
    statement = (
        update(IdempotencyKey)
        .where(*_claimed_by(claim))
        .values(state=_DONE, response_status=status, response_body=body, completed_at=now)
        .returning(IdempotencyKey.key)
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(statement)).scalar_one_or_none() is None:
        raise IdempotencyInFlight("A retry of this request took it over; retry to get its result")


async def abandon(session_factory: async_sessionmaker[AsyncSession], claim: Claim) -> None:
    """Free the key after a failure, in a transaction of its own (the caller's rolled back),
    so a retry runs the request again; a no-op if the claim was taken over."""
    async with session_factory() as session, session.begin():
        await session.execute(delete(IdempotencyKey).where(*_claimed_by(claim)))


async def prune_expired(session: AsyncSession, now: datetime, *, limit: int = PRUNE_BATCH) -> int:
    """Delete up to ``limit`` expired keys; returns how many."""
    expired = IdempotencyKey.expires_at <= now
    batch = select(IdempotencyKey.scope, IdempotencyKey.key).where(expired).limit(limit)
    # ``expired`` again on the outer DELETE: PostgreSQL rechecks it on a row that a
    # concurrent takeover renewed, where it would not recheck the subquery.
    statement = delete(IdempotencyKey).where(
        expired, tuple_(IdempotencyKey.scope, IdempotencyKey.key).in_(batch)
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount


async def _insert_claim(
    session: AsyncSession, scope: str, key: str, request_hash: str, token: str, now: datetime
) -> bool:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(IdempotencyKey)
        .values(scope=scope, key=key, **_fresh_claim(request_hash, token, now))
        .on_conflict_do_nothing(index_elements=[IdempotencyKey.scope, IdempotencyKey.key])
        .returning(IdempotencyKey.key)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def _find(session: AsyncSession, scope: str, key: str) -> IdempotencyKey | None:
    statement = select(IdempotencyKey).where(
        IdempotencyKey.scope == scope, IdempotencyKey.key == key
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def _take_over(
    session: AsyncSession, seen: IdempotencyKey, request_hash: str, token: str, now: datetime
) -> bool:
    """Re-claim an expired or abandoned-by-death row, only if nobody else changed it since."""
    statement = (
        update(IdempotencyKey)
        .where(
            IdempotencyKey.scope == seen.scope,
            IdempotencyKey.key == seen.key,
            IdempotencyKey.claim_token == seen.claim_token,
        )
        .values(**_fresh_claim(request_hash, token, now))
        .returning(IdempotencyKey.key)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


def _fresh_claim(request_hash: str, token: str, now: datetime) -> dict[str, Any]:
    return {
        "request_hash": request_hash,
        "state": _IN_FLIGHT,
        "claim_token": token,
        "response_status": None,
        "response_body": None,
        "created_at": now,
        "completed_at": None,
        "expires_at": now + RETENTION,
    }


def _claimed_by(claim: Claim) -> tuple[ColumnElement[bool], ...]:
    """The row as this claim left it: still in flight, still carrying its token."""
    return (
        IdempotencyKey.scope == claim.scope,
        IdempotencyKey.key == claim.key,
        IdempotencyKey.claim_token == claim.token,
        IdempotencyKey.state == _IN_FLIGHT,
    )


# Route helpers: the only part of this module that knows about HTTP.


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """What :func:`begin` needs from a request: its key and the hash of what it asks."""

    key: str
    request_hash: str


async def read_idempotent_request(request: Request[Any, Any, Any]) -> IdempotentRequest:
    """Validate the ``Idempotency-Key`` header (400 when missing or invalid) and hash the
    request; the body read here stays cached for the handler's ``data``."""
    values = request.headers.getall(HEADER, [])
    if len(values) > 1:
        raise InvalidIdempotencyKey("Send one Idempotency-Key header, not several")
    key = parse_idempotency_key(values[0] if values else None)
    query = request.scope.get("query_string", b"").decode("latin-1")
    target = request.scope["path"] + (f"?{query}" if query else "")
    return IdempotentRequest(key, request_hash(request.method, target, await request.body()))


def replay_response(replay: Replay) -> Response[bytes]:
    """The recorded response again, marked as a replay the way Stripe marks one."""
    return Response(
        content=replay.body,
        status_code=replay.status,
        media_type=MediaType.JSON,
        headers={REPLAYED_HEADER: "true"},
    )
