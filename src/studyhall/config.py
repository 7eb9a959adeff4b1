"""Settings read from ``STUDYHALL_*`` environment variables.

Every knob has a safe default so ``make run`` works on a bare machine; the scaled
deployment only has to point ``STUDYHALL_DATABASE_URL`` at PostgreSQL and
``STUDYHALL_REDIS_URL`` at Redis.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

Deployment = Literal["embedded", "scaled"]
PasswordHashProfile = Literal["strong", "fast"]
PaymentsGateway = Literal["sandbox", "stripe"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """A ``STUDYHALL_*`` variable holds a value we cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    redis_prefix: str = "studyhall:"
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    access_log: bool = True
    max_body_bytes: int = 1_048_576
    cookie_secure: bool = True
    access_token_ttl_seconds: int = 12 * 3600
    web_session_ttl_seconds: int = 14 * 24 * 3600
    login_limit_per_account: int = 10
    login_limit_per_ip: int = 100
    login_limit_window_seconds: int = 300
    register_limit_per_ip: int = 20
    password_hash_profile: PasswordHashProfile = "strong"
    db_pool_size: int = 10
    db_max_overflow: int = 10
    job_lease_seconds: float = 60.0
    job_poll_seconds: float = 1.0
    job_max_attempts: int = 10
    worker_concurrency: int = 4
    run_worker_in_app: bool | None = None
    trust_proxy_headers: bool = False
    readiness_timeout_seconds: float = 2.0
    # Youngest GC generation's threshold once started (platform/heap.py); 0 = Python's own.
    gc_young_threshold: int = 20_000
    # Live quiz games: auto-start delay (0 = off), joins per IP and minute, timer tick and lease.
    live_auto_start_seconds: int = 5
    live_countdown_seconds: float = 3.0
    live_reveal_seconds: float = 5.0
    live_join_limit_per_ip: int = 30
    live_blocked_names: str = "ass,bitch,cunt,dick,fuck,nazi,nigger,shit,slut,whore"
    live_event_log_size: int = 500
    live_tick_seconds: float = 0.1
    live_lease_seconds: float = 5.0
    live_leaderboard_size: int = 10
    demo_password: str = field(default="", repr=False)
    # Where browsers reach us (checkout return links); default http://host:port.
    public_url: str = ""
    payments_gateway: PaymentsGateway = "sandbox"
    # Signs gateway webhooks (Stripe's whsec_...); the sandbox derives one from the secret key.
    webhook_secret: str = field(default="", repr=False)
    stripe_api_key: str = field(default="", repr=False)

    @property
    def deployment(self) -> Deployment:
        """Which of the two deployments these settings describe."""
        return "embedded" if self.database_url.startswith("sqlite") else "scaled"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def worker_in_app(self) -> bool:
        """Embedded runs its job worker inside the app process unless told otherwise."""
        if self.run_worker_in_app is not None:
            return self.run_worker_in_app
        return self.deployment == "embedded"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(raw)


def _parse_profile(raw: str) -> str:
    if raw not in ("strong", "fast"):
        raise ValueError(raw)
    return raw


def _parse_gateway(raw: str) -> str:
    if raw not in ("sandbox", "stripe"):
        raise ValueError(raw)
    return raw


# Field annotations are strings (postponed evaluation); each maps to its parser.
_PARSERS: dict[str, Callable[[str], Any]] = {
    "bool": _parse_bool,
    "bool | None": _parse_bool,
    "int": int,
    "float": float,
    "Path": Path,
    "str": str,
    "str | None": lambda raw: raw or None,
    "PasswordHashProfile": _parse_profile,
    "PaymentsGateway": _parse_gateway,
}


def _convert(name: str, raw: str, annotation: str) -> Any:
    try:
        return _PARSERS[annotation](raw)
    except ValueError as exc:
        raise SettingsError(
            f"STUDYHALL_{name.upper()}={raw!r} is not a valid {annotation}"
        ) from exc


def _secret_key_from(data_dir: Path) -> str:
    """Read the generated key, creating it (mode 0600) on first run."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment (``os.environ`` unless given)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for item in fields(Settings):
        raw = env.get(f"STUDYHALL_{item.name.upper()}")
        if raw is not None:
            values[item.name] = _convert(item.name, raw, str(item.type))
    settings = Settings(**values)
    data_dir = settings.data_dir.resolve()
    database_url = settings.database_url or f"sqlite+aiosqlite:///{data_dir / 'studyhall.db'}"
    secret_key = settings.secret_key or _secret_key_from(data_dir)
    if len(secret_key) < 32:
        raise SettingsError("STUDYHALL_SECRET_KEY must be at least 32 characters")
    if settings.payments_gateway == "stripe" and not (
        settings.stripe_api_key and settings.webhook_secret
    ):
        raise SettingsError(
            "STUDYHALL_PAYMENTS_GATEWAY=stripe needs STUDYHALL_STRIPE_API_KEY"
            " and STUDYHALL_WEBHOOK_SECRET"
        )
    return replace(settings, data_dir=data_dir, database_url=database_url, secret_key=secret_key)
