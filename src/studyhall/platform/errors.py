"""Domain errors and their RFC 9457 problem+json rendering.

A service raises a :class:`DomainError` subclass; one handler turns every
exception (ours, Litestar's, or an unexpected one) into a problem document
with a stable machine ``code``. Bad input is a 4xx, never a 500. An overloaded
or unreachable database is a 503 with ``Retry-After``: the client did nothing wrong
and retrying soon is the right move.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec
from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute
from litestar.types import ExceptionHandlersMap
from redis import exceptions as redis_exc
from sqlalchemy import exc as sa_exc

PROBLEM_MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("studyhall.errors")


class DomainError(Exception):
    """An error a user can act on; subclasses fix ``status``, ``code`` and ``title``."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra or {}


class InvalidInput(DomainError):
    status = 422
    code = "validation_failed"
    title = "The request body or parameters are not valid"


class MalformedBody(DomainError):
    status = 400
    code = "malformed_body"
    title = "The request body could not be parsed"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    title = "Authentication required"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "You are not allowed to do this"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(
            detail or f"Try again in {retry_after} seconds",
            headers={"Retry-After": str(retry_after)},
            extra={"retryAfter": retry_after},
        )


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    title = "A service this request needs is unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    title = "The database cannot be reached"


class HotStoreUnavailable(ServiceUnavailable):
    """Redis is down: what only it holds (rate limits, leaderboards, live games) waits."""

    code = "hot_store_unavailable"
    title = "The hot store cannot be reached"


# Seconds a client should wait: a busy pool or lock clears fast, a lost server slower.
BUSY_RETRY_AFTER = 1
OUTAGE_RETRY_AFTER = 5
# PostgreSQL SQLSTATEs: class 08 is a connection exception, the 57P0x an operator or
# crash shutdown / a server still starting, 53300 too many connections.
_PG_LOST_STATES = ("08", "57P01", "57P02", "57P03")
_PG_BUSY_STATE = "53300"
# A character PostgreSQL cannot store (a NUL) in text the client sent; SQLite stores it, so
# this is caught where both deployments meet rather than in every string field.
_PG_UNSTORABLE_TEXT_STATE = "22021"


def _retry_in(error: type[ServiceUnavailable], seconds: int, detail: str) -> ServiceUnavailable:
    return error(detail, headers={"Retry-After": str(seconds)}, extra={"retryAfter": seconds})


def hot_store_outage(detail: str | None = None) -> ServiceUnavailable:
    """The 503 for a feature only Redis serves, while Redis cannot be reached."""
    return _retry_in(
        HotStoreUnavailable,
        OUTAGE_RETRY_AFTER,
        detail or "Redis cannot be reached right now; retry shortly",
    )


def transient_outage(exc: Exception) -> ServiceUnavailable | None:
    """The 503 for a database (or Redis) that is overloaded or gone, or None for any other
    error.

    Only transient states qualify; every other database error (a missing table, bad
    SQL) stays a 500, because retrying cannot fix a programming error.
    """
    busy = "The server is busy; retry shortly"
    lost = "The database cannot be reached right now; retry shortly"
    unreachable = "A service this request needs cannot be reached right now; retry shortly"
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return _retry_in(ServiceUnavailable, BUSY_RETRY_AFTER, busy)
    if isinstance(exc, redis_exc.ConnectionError | redis_exc.TimeoutError):
        return hot_store_outage()
    if isinstance(exc, ConnectionError):
        # Refused or reset while connecting: SQLAlchemy passes a driver's socket errors
        # through unwrapped, and Redis may raise them too, so no service is named.
        return _retry_in(ServiceUnavailable, OUTAGE_RETRY_AFTER, unreachable)
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    if sqlstate == _PG_BUSY_STATE or (
        isinstance(exc, sa_exc.OperationalError) and "is locked" in str(exc.orig)
    ):
        return _retry_in(ServiceUnavailable, BUSY_RETRY_AFTER, busy)
    if (
        exc.connection_invalidated
        or sqlstate.startswith(_PG_LOST_STATES)
        or (isinstance(exc, sa_exc.InterfaceError) and "connection is closed" in str(exc.orig))
    ):
        return _retry_in(DatabaseUnavailable, OUTAGE_RETRY_AFTER, lost)
    return None


def problem_document(
    status: int, code: str, title: str, detail: str, extra: dict[str, Any] | None = None
) -> bytes:
    """The problem+json body; ``extra`` adds members such as ``errors`` or ``retryAfter``."""
    body: dict[str, Any] = {"type": "about:blank", "status": status, "title": title}
    body["detail"] = detail
    body["code"] = code
    if extra:
        body.update(extra)
    return msgspec.json.encode(body)


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[bytes]:
    return Response(
        content=problem_document(status, code, title, detail, extra),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


@dataclass(frozen=True, slots=True)
class RenderedProblem:
    """A problem ready to send, for callers outside Litestar's response cycle."""

    status: int
    body: bytes
    headers: dict[str, str]


# Litestar's own exceptions mapped to our codes, by status.
_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("not_authenticated", "Authentication required"),
    403: ("forbidden", "You are not allowed to do this"),
    404: ("route_not_found", "No such resource"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("body_too_large", "The request body is too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
}


def _validation_problem(exc: ValidationException) -> RenderedProblem:
    errors = exc.extra if isinstance(exc.extra, list) else []
    for error in errors:
        # Litestar reports a missing body as the KeyError of its "data" kwarg.
        if isinstance(error, dict) and error.get("message") == "'data'":
            error["message"] = "A request body is required"
    body = problem_document(
        422,
        InvalidInput.code,
        InvalidInput.title,
        str(exc.detail),
        extra={"errors": errors} if errors else None,
    )
    return RenderedProblem(422, body, {})


def _rendered(
    status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None
) -> RenderedProblem:
    return RenderedProblem(status, problem_document(status, code, title, detail), headers or {})


def render_problem(exc: Exception, method: str, path: str) -> RenderedProblem:
    """Any exception as problem+json; unexpected ones are logged, never echoed."""
    if isinstance(exc, DomainError):
        body = problem_document(exc.status, exc.code, exc.title, exc.detail, exc.extra)
        return RenderedProblem(exc.status, body, exc.headers)
    if isinstance(exc, ValidationException):
        return _validation_problem(exc)
    if isinstance(exc, HTTPException):
        status = exc.status_code
        if status == 400 and isinstance(exc.__cause__, SerializationException):
            return _rendered(400, MalformedBody.code, MalformedBody.title, str(exc.detail))
        code, title = _HTTP_CODES.get(status, ("http_error", "Request failed"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail else title
        return _rendered(status, code, title, detail, dict(exc.headers or {}))
    if (
        isinstance(exc, sa_exc.DBAPIError)
        and str(getattr(exc.orig, "sqlstate", None) or "") == _PG_UNSTORABLE_TEXT_STATE
    ):
        return render_problem(InvalidInput("Text must not contain NUL characters"), method, path)
    outage = transient_outage(exc)
    if outage is not None:
        # Expected under load or during a failover: one line, no traceback, no SQL.
        cause = getattr(exc, "orig", None) or exc
        logger.warning("%s on %s %s: %s", outage.code, method, path, type(cause).__name__)
        return render_problem(outage, method, path)
    logger.exception("unhandled error on %s %s", method, path)
    return _rendered(
        500, "internal_error", "Internal server error", "Something went wrong on our side"
    )


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    rendered = render_problem(exc, request.method, request.url.path)
    return Response(
        content=rendered.body,
        status_code=rendered.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=rendered.headers or None,
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {Exception: handle_exception}


class Problem(msgspec.Struct):
    """The problem document every error is rendered as (OpenAPI only; some codes add members
    such as ``errors`` or ``retryAfter``)."""

    type: str
    status: int
    title: str
    detail: str
    code: str


# What any operation may answer besides its success: bad or oversized input, missing or
# insufficient rights, a missing object, a conflict, a paywall, a rate limit, an outage.
PROBLEM_STATUSES = (400, 401, 402, 403, 404, 409, 413, 415, 422, 429, 503)


def declare_problem_responses(app: Litestar) -> None:
    """Describe the problem responses in every operation of the OpenAPI schema.

    Litestar declares only a 400 of its own shape per handler, which this app never sends
    (``handle_exception`` renders problem+json); a handler's own ``responses`` win.
    """
    problem = {status: problem_spec(_STATUS_DESCRIPTIONS[status]) for status in PROBLEM_STATUSES}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                handler.responses = {**problem, **(handler.responses or {})}


def problem_spec(description: str) -> ResponseSpec:
    """An OpenAPI response that is a problem document."""
    return ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_MEDIA_TYPE,
        description=description,
        generate_examples=False,
    )


_STATUS_DESCRIPTIONS = {
    400: "Malformed request or missing Idempotency-Key",
    401: "Not authenticated",
    402: "A purchase is needed first",
    403: "Not allowed",
    404: "No such object, or not yours",
    409: "Conflict with the current state",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Rate limited (see Retry-After)",
    503: "A service it needs is unavailable (see Retry-After)",
}
