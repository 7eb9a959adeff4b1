"""``python -m bench [--quick]``: studyhall's request path against a bare ASGI handler.

The load generator runs on core 0 and the servers on core 1 (``taskset``), one
server at a time. For each scenario it measures the saturated throughput of
studyhall and of the bare handler in the same run (their ratio is how much of
the machine's ceiling we keep), then the latency percentiles at a fixed arrival
rate of half studyhall's saturated throughput. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform as host_platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from tests.processes import REPO_ROOT, free_port, wait_until_healthy
from tests.services import REDIS_URL, create_scratch_database, drop_database

from bench.loadgen import Request, Result, fixed_rate, saturate

SERVER_CORE = "1"
LOADGEN_CORE = 0
PASSWORD = "bench password"


@dataclass
class Row:
    deployment: str
    scenario: str
    saturated: Result
    ceiling: Result
    at_rate: Result
    rate: float


def _pinned(command: list[str]) -> list[str]:
    return (
        ["taskset", "-c", SERVER_CORE, *command]
        if os.cpu_count() and os.cpu_count() > 1
        else command
    )


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _pinned(command), env=env, cwd=REPO_ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def _studyhall(*args: str) -> list[str]:
    return [sys.executable, "-m", "studyhall", *args]


def _measure(
    port: int, request: Request, seconds: float, rate: float | None
) -> tuple[Result, Result | None]:
    saturated = asyncio.run(saturate("127.0.0.1", port, request, seconds=seconds, connections=32))
    if rate is None:
        return saturated, None
    timed = asyncio.run(
        fixed_rate("127.0.0.1", port, request, rate=rate, seconds=seconds, connections=64)
    )
    return saturated, timed


def _ceiling(workdir: Path, seconds: float) -> Result:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.bare_app:app",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    log = workdir / "bare.log"
    server = _start(command, dict(os.environ), log)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", server, log)
        return _measure(port, Request("GET", "/"), seconds, None)[0]
    finally:
        _stop(server)


def _deployment(name: str, workdir: Path, seconds: float, ceiling: Result) -> list[Row]:
    env = {
        **os.environ,
        "STUDYHALL_DATA_DIR": str(workdir / name),
        "STUDYHALL_ACCESS_LOG": "false",
        "STUDYHALL_LOG_LEVEL": "WARNING",
        "STUDYHALL_PASSWORD_HASH_PROFILE": "fast",
    }
    database_url = None
    if name == "scaled":
        database_url = asyncio.run(create_scratch_database("bench"))
        env |= {
            "STUDYHALL_DATABASE_URL": database_url,
            "STUDYHALL_REDIS_URL": REDIS_URL,
            "STUDYHALL_REDIS_PREFIX": f"bench:{os.getpid()}:",
        }
    try:
        subprocess.run(_studyhall("migrate"), env=env, check=True, capture_output=True)
        subprocess.run(
            _studyhall(
                "user", "create", "bench@example.org", "--password", PASSWORD, "--role", "student"
            ),
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        log = workdir / f"{name}.log"
        server = _start(_studyhall("serve", "--port", str(port)), env, log)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_healthy(base, server, log)
            token = httpx.post(
                f"{base}/api/v1/auth/token",
                json={"email": "bench@example.org", "password": PASSWORD},
            ).json()["accessToken"]
            scenarios = {
                "GET /healthz": Request("GET", "/healthz"),
                "GET /api/v1/me (bearer, DB read)": Request(
                    "GET", "/api/v1/me", {"Authorization": f"Bearer {token}"}
                ),
            }
            rows = []
            for scenario, request in scenarios.items():
                saturated, _ = _measure(port, request, seconds, None)
                rate = max(50.0, round(saturated.throughput / 2, -1))
                _, timed = _measure(port, request, seconds, rate)
                assert timed is not None
                rows.append(Row(name, scenario, saturated, ceiling, timed, rate))
                p99 = timed.percentile(0.99) * 1000
                print(
                    f"{name:9} {scenario:36} {saturated.throughput:8.0f} req/s "
                    f"(ceiling {ceiling.throughput:.0f}); at {rate:.0f}/s p99 {p99:.1f} ms"
                )
            return rows
        finally:
            _stop(server)
    finally:
        if database_url:
            asyncio.run(drop_database(database_url))


def _versions() -> str:
    def read(command: list[str]) -> str:
        try:
            return subprocess.run(
                command, capture_output=True, text=True, check=False
            ).stdout.strip()
        except OSError:
            return "not found"

    commit = read(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"])
    postgres = read(["psql", "--version"]) or "PostgreSQL ?"
    redis = read(["redis-server", "--version"]).split(" sha")[0]
    python = host_platform.python_version()
    return f"{os.cpu_count()} cores, Python {python}, {postgres}, {redis}; commit {commit}"


def _report(rows: list[Row], seconds: float) -> str:
    lines = [
        "## Request path (`python -m bench`)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {_versions()}.",
        f"Load generator on core 0, one server process on core 1; {seconds:.0f} s per measurement.",
        "Saturated: 32 keep-alive connections back to back. Fixed rate: requests scheduled at",
        "half the saturated throughput over 64 connections, latency measured from each",
        "request's scheduled time (no coordinated omission).",
        "",
        "| deployment | scenario | saturated req/s | bare ASGI req/s | ratio "
        "| fixed rate req/s | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = row.saturated.throughput / row.ceiling.throughput
        timed = row.at_rate
        lines.append(
            f"| {row.deployment} | {row.scenario} | {row.saturated.throughput:.0f} | "
            f"{row.ceiling.throughput:.0f} | {ratio:.2f} | {row.rate:.0f} | "
            f"{timed.percentile(0.5) * 1000:.1f} | {timed.percentile(0.95) * 1000:.1f} | "
            f"{timed.percentile(0.99) * 1000:.1f} | {row.saturated.errors + timed.errors} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="short measurements (smoke run)")
    parser.add_argument("--deployments", default="embedded,scaled")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else 8.0
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {LOADGEN_CORE})
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ceiling = _ceiling(workdir, seconds)
        rows = []
        for deployment in args.deployments.split(","):
            rows += _deployment(deployment, workdir, seconds, ceiling)
    section = _report(rows, seconds)
    header = "# Benchmarks\n\nFigures are measured by `bench/`; tests never assert on speed.\n\n"
    args.output.write_text(header + section)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
