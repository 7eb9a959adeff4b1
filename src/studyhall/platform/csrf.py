"""CSRF protection for requests that carry ambient credentials (the session cookie).

Pages use Litestar's double-submit token (a signed cookie echoed in a form
field or the ``X-CSRF-Token`` header). API calls that authenticate with a
bearer token, or carry no session cookie at all, have no ambient credential
to abuse and pass straight through.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import Receive, Scope, Send

from studyhall.platform.errors import DomainError, MalformedBody
from studyhall.platform.http import SESSION_COOKIE

CSRF_COOKIE = "studyhall_csrf"
CSRF_HEADER = "x-csrf-token"


class CsrfFailed(DomainError):
    status = 403
    code = "csrf_failed"
    title = "The form has expired or did not come from this site; reload and try again"


# Machine endpoints take no forms: no token to check, and no cookie to set on each response.
NOT_FORMS = ["^/healthz$", "^/readyz$", "^/metrics$", "^/schema", "^/static/"]


def csrf_config(secret: str, *, secure: bool) -> CSRFConfig:
    return CSRFConfig(
        exclude=NOT_FORMS,
        secret=secret,
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_secure=secure,
        cookie_httponly=True,
        cookie_samesite="lax",
    )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def _has_session_cookie(scope: Scope) -> bool:
    cookie = _header(scope, b"cookie")
    return cookie is not None and SESSION_COOKIE.encode() + b"=" in cookie


class SessionCsrfMiddleware(CSRFMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_api = scope["type"] == ScopeType.HTTP and scope["path"].startswith("/api/")
        if is_api and (_header(scope, b"authorization") or not _has_session_cookie(scope)):
            await self.app(scope, receive, send)
            return
        if scope["type"] == ScopeType.HTTP:
            await _parse_multipart(Request(scope, receive))
        try:
            await super().__call__(scope, receive, send)
        except PermissionDeniedException as exc:
            if "CSRF" not in str(exc.detail):
                raise
            raise CsrfFailed() from exc


async def _parse_multipart(request: Request[Any, Any, Any]) -> None:
    """Parse a multipart form up front (the request caches it for the token check and the
    handler): Litestar's parser raises ``UnicodeDecodeError`` on a field that is not
    UTF-8, which would otherwise be a 500 instead of the client's error it is."""
    if request.content_type[0] != RequestEncodingType.MULTI_PART:
        return
    try:
        await request.form()
    except UnicodeDecodeError as exc:
        raise MalformedBody("Form fields must be UTF-8 text") from exc
