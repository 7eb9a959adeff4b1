"""The answer save, served in front of the framework for the callers it can serve cheaply.

About half of a save's CPU went to routing, dependency resolution and body handling,
work a save does not need: its path, its one header of authority and its small JSON
body are read here straight from the ASGI scope. The lane takes only the common case
(a bearer token whose user the auth cache holds, a body of known size that decodes to
an :class:`AnswerIn`) and runs the very same :func:`save_answer` as the route; every
other request, including every malformed one, goes on to Litestar untouched (with the
body it already read replayed), so error responses and browser (cookie) saves have a
single implementation.
"""

from __future__ import annotations

import re
import uuid

import msgspec
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import HTTPScope, Receive, ReceiveMessage, Scope, Send

from studyhall.exams.answers import SaveRequest, save_answer
from studyhall.exams.schemas import AnswerIn
from studyhall.identity.service import cached_bearer_actor
from studyhall.platform.auth import Actor
from studyhall.platform.errors import PROBLEM_MEDIA_TYPE, render_problem
from studyhall.platform.http import peer_address
from studyhall.platform.logging import bind_user
from studyhall.platform.runtime import Platform

SAVE_HANDLER = "exams.save_answer"
SAVE_PATH = re.compile(r"^/api/v1/sessions/([0-9A-Fa-f-]{32,36})/answers$")
SAVED_BODY = b'{"saved":true}'
_SAVED_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(SAVED_BODY)).encode()),
]
_DECODER = msgspec.json.Decoder(AnswerIn)


class _Headers:
    """The few request headers a save reads, in one pass over the scope."""

    __slots__ = ("authorization", "content_length", "forwarded_for", "idempotency_key", "ua")

    def __init__(self, scope: HTTPScope) -> None:
        self.authorization = self.idempotency_key = self.forwarded_for = self.ua = None
        self.content_length: int | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                self.authorization = value.decode("latin-1")
            elif name == b"idempotency-key":
                self.idempotency_key = value.decode("latin-1")
            elif name == b"content-length":
                self.content_length = int(value) if value.isdigit() else None
            elif name == b"user-agent":
                self.ua = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                self.forwarded_for = value.decode("latin-1")


class AnswerSaveLane:
    """ASGI layer: answer saves it can serve, then everything else to ``app``."""

    def __init__(self, app: Litestar, *, max_body_bytes: int, path_template: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.path_template = path_template

    @classmethod
    def in_front_of(cls, app: Litestar) -> AnswerSaveLane:
        """The lane for ``app``'s save route: its body limit, and its template for metrics."""
        index = app.get_handler_index_by_name(SAVE_HANDLER)
        if index is None or not isinstance(index["handler"], HTTPRouteHandler):
            raise LookupError(f"no route handler named {SAVE_HANDLER!r}")
        limit = index["handler"].request_max_body_size
        if not isinstance(limit, int):
            raise LookupError(f"the route {SAVE_HANDLER!r} sets no body limit")
        template = re.sub(r":\w+}", "}", index["paths"][0])
        return cls(app, max_body_bytes=limit, path_template=template)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] == "PUT":
            match = SAVE_PATH.match(scope["path"])
            if match is not None:
                unserved = await self._serve(scope, receive, send, match.group(1))
                if unserved is None:
                    return
                receive = unserved
        await self.app(scope, receive, send)

    async def _serve(
        self, scope: HTTPScope, receive: Receive, send: Send, raw_id: str
    ) -> Receive | None:
        """Serve the save and return None, or return the ``receive`` Litestar gets."""
        headers = _Headers(scope)
        length = headers.content_length
        if length is None or length > self.max_body_bytes or headers.authorization is None:
            return receive
        scheme, _, token = headers.authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return receive
        try:
            session_id = uuid.UUID(raw_id)
        except ValueError:
            return receive
        platform: Platform = self.app.state.platform
        try:
            actor = await cached_bearer_actor(platform, token.strip())
        except Exception:  # the route answers for a bad token (and logs an outage once)
            return receive
        if actor is None:
            return receive
        body, more = await _read(receive, length)
        if more or len(body) != length:
            return _replay(body, more, receive)
        try:
            answer = _DECODER.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return _replay(body, more, receive)
        scope["path_template"] = self.path_template
        await self._save(scope, send, platform, actor, session_id, answer, body, headers)
        return None

    async def _save(
        self,
        scope: HTTPScope,
        send: Send,
        platform: Platform,
        actor: Actor,
        session_id: uuid.UUID,
        answer: AnswerIn,
        body: bytes,
        headers: _Headers,
    ) -> None:
        bind_user(actor.user_id)
        client = scope.get("client")
        request = SaveRequest(
            session_id=session_id,
            idempotency_key=headers.idempotency_key,
            answer=answer,
            body=body,
            client_ip=peer_address(
                headers.forwarded_for,
                client[0] if client else None,
                trust_proxy_headers=platform.settings.trust_proxy_headers,
            ),
            user_agent=headers.ua,
        )
        try:
            await save_answer(platform, self.app.state.answer_journal, actor, request)
        except Exception as exc:
            problem = render_problem(exc, "PUT", scope["path"])
            response_headers = [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(problem.body)).encode()),
                *(
                    (name.lower().encode(), value.encode())
                    for name, value in problem.headers.items()
                ),
            ]
            await _respond(send, problem.status, response_headers, problem.body)
            return
        await _respond(send, 200, _SAVED_HEADERS, SAVED_BODY)


async def _read(receive: Receive, length: int) -> tuple[bytes, bool]:
    """The body, up to one chunk past ``length``; and whether the client sends more."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if not more or size > length:
            return b"".join(chunks), more


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """A ``receive`` that hands Litestar the body read so far, then the rest as sent."""
    replayed = False

    async def replay() -> ReceiveMessage:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": more}

    return replay


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
