"""``python -m bench [--quick]``: studyhall's request path and exam scenarios.

The load generator runs on core 0 and the servers on core 1 (``taskset``), one
server at a time, each deployment on a fresh database. For each request-path
scenario it measures the saturated throughput of studyhall and of the bare handler
in the same run (their ratio is how much of the machine's ceiling we keep), then the
latency percentiles at a fixed arrival rate of half studyhall's saturated
throughput. The exam scenarios (``bench/exams.py``) run on a server and database of
their own. Results go to docs/benchmarks.md, one marked section per scenario.
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

from bench import exams, live, payments
from bench.imports import QUESTIONS, TARGET_SECONDS, import_once
from bench.loadgen import Request, Result, fixed_rate, saturate
from bench.servers import LOADGEN_CORE, Server, serve, start, stop, studyhall

PASSWORD = "bench password"
SECTIONS = ("request", "exams", "live", "payments")


@dataclass
class ImportRow:
    deployment: str
    seconds: float
    imported: int


@dataclass
class Row:
    deployment: str
    scenario: str
    saturated: Result
    ceiling: Result
    at_rate: Result
    rate: float


def _measure(
    port: int, request: Request, seconds: float, rate: float | None, connections: int = 32
) -> tuple[Result, Result | None]:
    saturated = asyncio.run(
        saturate("127.0.0.1", port, request, seconds=seconds, connections=connections)
    )
    if rate is None:
        return saturated, None
    timed = asyncio.run(
        fixed_rate("127.0.0.1", port, request, rate=rate, seconds=seconds, connections=64)
    )
    return saturated, timed


@dataclass
class Ceilings:
    get: Result
    put: Result
    """The bare answer-save shape, on the save scenario's connections."""


def _ceiling(workdir: Path, seconds: float) -> Ceilings:
    port = free_port()
    command = [
        *(sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(port)),
        *("--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"),
    ]
    log = workdir / "bare.log"
    server = start(command, dict(os.environ), log)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", server, log)
        get = _measure(port, Request("GET", "/"), seconds, None)[0]
        put = _measure(port, exams.save_shape(), seconds, None, exams.SAVE_CONNECTIONS)[0]
        return Ceilings(get, put)
    finally:
        stop(server)


def _token(base: str, email: str) -> str:
    answer = httpx.post(f"{base}/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    return str(answer.json()["accessToken"])


def _request_path(server: Server, seconds: float, ceiling: Result) -> tuple[list[Row], ImportRow]:
    name, base = server.deployment, server.base
    for email, role in (("bench@example.org", "student"), ("teach@example.org", "teacher")):
        subprocess.run(
            studyhall("user", "create", email, "--password", PASSWORD, "--role", role),
            env=server.env,
            check=True,
            capture_output=True,
        )
    token = _token(base, "bench@example.org")
    scenarios = {
        "GET /healthz": Request("GET", "/healthz"),
        "GET /api/v1/me (bearer, DB read)": Request(
            "GET", "/api/v1/me", {"Authorization": f"Bearer {token}"}
        ),
    }
    rows = []
    for scenario, request in scenarios.items():
        saturated, _ = _measure(server.port, request, seconds, None)
        rate = max(50.0, round(saturated.throughput / 2, -1))
        _, timed = _measure(server.port, request, seconds, rate)
        assert timed is not None
        rows.append(Row(name, scenario, saturated, ceiling, timed, rate))
        p99 = timed.percentile(0.99) * 1000
        print(
            f"{name:9} {scenario:36} {saturated.throughput:8.0f} req/s "
            f"(ceiling {ceiling.throughput:.0f}); at {rate:.0f}/s p99 {p99:.1f} ms"
        )
    import_seconds, imported = import_once(base, _token(base, "teach@example.org"))
    print(f"{name:9} import {imported} GIFT questions: {import_seconds:.1f} s")
    return rows, ImportRow(name, import_seconds, imported)


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


def _run_line() -> str:
    return f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {_versions()}."


def _report(rows: list[Row], imports: list[ImportRow], seconds: float) -> str:
    lines = [
        "## Request path (`python -m bench`)",
        "",
        _run_line(),
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
    lines += [
        "",
        f"### Bulk import ({QUESTIONS:,} GIFT questions, one request, one transaction)",
        "",
        "| deployment | seconds | questions/s | imported | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for entry in imports:
        met = "yes" if entry.seconds < TARGET_SECONDS and entry.imported == QUESTIONS else "no"
        lines.append(
            f"| {entry.deployment} | {entry.seconds:.1f} | {entry.imported / entry.seconds:.0f} | "
            f"{entry.imported} | well under {TARGET_SECONDS:.0f} s | {met} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="short measurements (smoke run)")
    parser.add_argument("--deployments", default="embedded,scaled")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=", ".join(SECTIONS))
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--profile", type=Path, help="run the servers under cProfile, stats into this directory"
    )
    parser.add_argument("--logs", type=Path, help="keep the servers' logs in this directory")
    args = parser.parse_args()
    sections = args.sections.split(",")
    seconds = 2.0 if args.quick else 8.0
    sizes = exams.QUICK if args.quick else exams.FULL
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {LOADGEN_CORE})
    rows: list[Row] = []
    imports: list[ImportRow] = []
    figures: list[exams.ExamFigures] = []
    live_figures: list[live.LiveFigures] = []
    storms: list[payments.StormFigures] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ceilings = _ceiling(workdir, seconds)
        for deployment in args.deployments.split(","):
            if "request" in sections:
                with serve(
                    deployment, workdir, "request", profile=args.profile, logs=args.logs
                ) as server:
                    measured, imported = _request_path(server, seconds, ceilings.get)
                rows += measured
                imports.append(imported)
            if "exams" in sections:
                with serve(
                    deployment, workdir, "exams", profile=args.profile, logs=args.logs
                ) as server:
                    figures.append(exams.run(server, sizes, ceilings.put))
            if "payments" in sections:
                with serve(
                    deployment, workdir, "payments", profile=args.profile, logs=args.logs
                ) as server:
                    storms.append(payments.run(server, workdir))
            if "live" in sections:
                with live.live_server(
                    deployment, workdir, profile=args.profile, logs=args.logs
                ) as server:
                    live_figures.append(
                        live.run_sizes(server, live.QUICK if args.quick else live.FULL)
                    )
    if rows:
        _write_section(args.output, "request path", _report(rows, imports, seconds))
    if figures:
        header = _run_line() + (" Quick run: small sizes." if args.quick else "")
        _write_section(args.output, "exam start burst", exams.start_section(figures, header))
        _write_section(args.output, "exam saves", exams.saves_section(figures, header))
        _write_section(args.output, "exam submit burst", exams.submit_section(figures, header))
    if live_figures:
        header = _run_line() + (" Quick run: small sizes." if args.quick else "")
        _write_section(args.output, "live quiz", live.section(live_figures, header))
    if storms:
        _write_section(args.output, "webhook storm", payments.section(storms, _run_line()))
    print(f"wrote {args.output}")


def _write_section(path: Path, name: str, section: str) -> None:
    """Replace the section ``name`` of the file, keeping the prose around it."""
    start, end = (
        f"<!-- bench: {name} (generated by python -m bench) -->",
        f"<!-- /bench: {name} -->",
    )
    block = f"{start}\n{section}{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
