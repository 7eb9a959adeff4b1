"""JSON logs, one object per line, carrying the request id and user id of the request."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import msgspec

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def bind_user(user_id: uuid.UUID) -> None:
    user_id_var.set(str(user_id))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if (request_id := request_id_var.get()) is not None:
            entry["request_id"] = request_id
        if (user_id := user_id_var.get()) is not None:
            entry["user_id"] = user_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return msgspec.json.encode(entry, enc_hook=str).decode()


def configure_logging(level: str) -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Our access log replaces uvicorn's (it knows the route, request id and user).
    logging.getLogger("uvicorn.access").disabled = True


class ThrottledWarning:
    """A warning that a dependency is down, logged at most once per ``every_seconds`` with
    the count of occurrences left out: an outage otherwise writes a traceback per request,
    and formatting them costs the CPU a degraded server needs most."""

    def __init__(self, logger: logging.Logger, message: str, every_seconds: float = 10.0) -> None:
        self._logger = logger
        self._message = message
        self._every = every_seconds
        self._last: float | None = None
        self._left_out = 0

    def __call__(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._last is not None and now - self._last < self._every:
            self._left_out += 1
            return
        self._logger.warning(
            "%s: %s: %s (%d more since the last warning)",
            self._message,
            type(exc).__name__,
            exc,
            self._left_out,
        )
        self._last, self._left_out = now, 0
