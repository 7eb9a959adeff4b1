"""Processes under test: one studyhall server on a fresh database, pinned to the server core."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from tests.processes import REPO_ROOT, free_port, wait_until_healthy
from tests.services import REDIS_URL, create_scratch_database, drop_database

SERVER_CORE = "1"
LOADGEN_CORE = 0


# uvicorn re-raises SIGTERM after its shutdown, which ends the process before
# ``python -m cProfile`` writes anything: dump the stats from our own handler instead.
_PROFILED = """
import cProfile, signal, sys
from studyhall.cli import main
profile = cProfile.Profile()
def dump(*_):
    profile.disable()
    profile.dump_stats(sys.argv[1])
    sys.exit(0)
signal.signal(signal.SIGTERM, dump)
profile.enable()
main(["serve", "--port", sys.argv[2]])
"""


@dataclass(frozen=True)
class Server:
    deployment: str
    port: int
    env: dict[str, str]
    """The server's environment: the runner reads the same database and secret key."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def pinned(command: list[str]) -> list[str]:
    return ["taskset", "-c", SERVER_CORE, *command] if (os.cpu_count() or 1) > 1 else command


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        pinned(command), env=env, cwd=REPO_ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def studyhall(*args: str) -> list[str]:
    return [sys.executable, "-m", "studyhall", *args]


async def _delete_prefix(prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        for first in range(0, len(keys), 1000):
            await client.delete(*keys[first : first + 1000])
    finally:
        await client.aclose()


@contextlib.contextmanager
def serve(
    deployment: str,
    workdir: Path,
    label: str,
    *,
    profile: Path | None = None,
    logs: Path | None = None,
) -> Iterator[Server]:
    """A fresh, migrated database for ``deployment`` and one server process on it.

    ``profile``: run the server under cProfile and write its stats to that directory
    (the figures of such a run are not comparable). ``logs``: keep the server's log there."""
    name = f"{deployment}-{label}"
    env = {
        **os.environ,
        "STUDYHALL_DATA_DIR": str(workdir / name),
        "STUDYHALL_SECRET_KEY": secrets.token_urlsafe(48),
        "STUDYHALL_ACCESS_LOG": "false",
        "STUDYHALL_LOG_LEVEL": "WARNING",
        "STUDYHALL_PASSWORD_HASH_PROFILE": "fast",
    }
    database_url = None
    prefix = f"bench:{os.getpid()}:{label}:"
    if deployment == "scaled":
        database_url = asyncio.run(create_scratch_database("bench"))
        env |= {
            "STUDYHALL_DATABASE_URL": database_url,
            "STUDYHALL_REDIS_URL": REDIS_URL,
            "STUDYHALL_REDIS_PREFIX": prefix,
        }
    try:
        if deployment == "scaled":  # an embedded server migrates its own database first
            subprocess.run(studyhall("migrate"), env=env, check=True, capture_output=True)
        port = free_port()
        command = studyhall("serve", "--port", str(port))
        if profile is not None:
            profile.mkdir(parents=True, exist_ok=True)
            command = [sys.executable, "-c", _PROFILED, str(profile / f"{name}.prof"), str(port)]
        log = workdir / f"{name}.log"
        server = start(command, env, log)
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}", server, log)
            yield Server(deployment, port, env)
        finally:
            stop(server)
            if logs is not None:
                logs.mkdir(parents=True, exist_ok=True)
                shutil.copy(log, logs / log.name)
    finally:
        if database_url:
            asyncio.run(drop_database(database_url))
            asyncio.run(_delete_prefix(prefix))
