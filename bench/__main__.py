"""``python -m bench [--quick]``: every scenario, against both deployments.

The load generator runs on core 0 and the servers on core 1 (``taskset``), one
server at a time, each section of each deployment on a fresh database. For each
request-path scenario it measures the saturated throughput of studyhall, then the
latency percentiles at a fixed arrival rate of half that. The other sections
(``bench/exams.py``, ``leaderboards.py``, ``payments.py``, ``live.py``) run on a server
and database of their own. Every scenario records its shape, and the bare ASGI app
(``bench/ceiling.py``), up for the whole run, is measured on each shape once every
studyhall server has stopped: the ratio is how much of the machine's ceiling we keep.
Results go to docs/benchmarks.md, one marked section per scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform as host_platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.processes import REPO_ROOT

from bench import exams, leaderboards, live, payments
from bench.ceiling import Ceiling, Shape, bare_server, share
from bench.imports import QUESTIONS, TARGET_SECONDS, import_once
from bench.loadgen import Request, Result, fixed_rate, saturate
from bench.servers import LOADGEN_CORE, Server, serve

SECTIONS = ("request", "exams", "leaderboards", "live", "payments")
CONNECTIONS = 32
RATE_CONNECTIONS = 64
FULL_SECONDS = 8.0
QUICK_SECONDS = 1.0
"""Each request-path measurement (quick: a smoke run that fits in two minutes)."""
QUICK_CEILING_SECONDS = 0.5


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
    at_rate: Result
    rate: float
    shape: Shape


def _request_path(server: Server, seconds: float) -> tuple[list[Row], ImportRow]:
    name, base = server.deployment, server.base
    (_, token), (_, teacher) = (
        asyncio.run(exams.users(server, 1, role))[0] for role in ("student", "teacher")
    )
    scenarios = {
        "GET /healthz": Request("GET", "/healthz"),
        "GET /api/v1/me (bearer, DB read)": Request("GET", "/api/v1/me", exams.bearer(token)),
    }
    rows = []
    for scenario, request in scenarios.items():
        saturated = asyncio.run(
            saturate("127.0.0.1", server.port, request, seconds=seconds, connections=CONNECTIONS)
        )
        rate = max(50.0, round(saturated.throughput / 2, -1))
        timed = asyncio.run(
            fixed_rate(
                "127.0.0.1",
                server.port,
                request,
                rate=rate,
                seconds=seconds,
                connections=RATE_CONNECTIONS,
            )
        )
        shape = Shape.of(scenario, request, saturated, CONNECTIONS)
        rows.append(Row(name, scenario, saturated, timed, rate, shape))
        p99 = timed.percentile(0.99) * 1000
        print(
            f"{name:9} {scenario:36} {saturated.throughput:8.0f} req/s; "
            f"at {rate:.0f}/s p99 {p99:.1f} ms"
        )
    import_seconds, imported = import_once(base, teacher)
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


def _report(rows: list[Row], imports: list[ImportRow], seconds: float, ceiling: Ceiling) -> str:
    lines = [
        "## Request path (`python -m bench`)",
        "",
        _run_line(),
        f"Load generator on core 0, one server process on core 1; {seconds:.0f} s per measurement.",
        f"Saturated: {CONNECTIONS} keep-alive connections back to back, beside the bare ASGI",
        "handler sent the same request (answering the same status and as many bytes). Fixed",
        f"rate: requests scheduled at half the saturated throughput over {RATE_CONNECTIONS}",
        "connections, latency measured from each request's scheduled time (no coordinated",
        "omission).",
        "",
        "| deployment | scenario | saturated req/s | bare ASGI req/s | ratio "
        "| fixed rate req/s | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        bare = ceiling.http(row.shape)
        timed = row.at_rate
        lines.append(
            f"| {row.deployment} | {row.scenario} | {row.saturated.throughput:.0f} | "
            f"{bare.throughput:.0f} | {share(row.saturated.throughput, bare)} | {row.rate:.0f} | "
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


@dataclass
class Figures:
    """Everything a run measured, section by section."""

    rows: list[Row]
    imports: list[ImportRow]
    exams: list[exams.ExamFigures]
    boards: list[leaderboards.BoardFigures]
    live: list[live.LiveFigures]
    storms: list[payments.StormFigures]


@contextmanager
def _timed(what: str) -> Iterator[None]:
    """Print how long a section took (the quick run must fit in two minutes)."""
    started = time.perf_counter()
    yield
    print(f"-- {what}: {time.perf_counter() - started:.1f} s")


def _run(args: argparse.Namespace, workdir: Path) -> Figures:
    sections, quick = args.sections.split(","), args.quick
    seconds = QUICK_SECONDS if quick else FULL_SECONDS
    found = Figures([], [], [], [], [], [])
    options = {"profile": args.profile, "logs": args.logs}

    def request_path(server: Server) -> None:
        rows, imported = _request_path(server, seconds)
        found.rows.extend(rows)
        found.imports.append(imported)

    measures: dict[str, Callable[[Server], None]] = {
        "request": request_path,
        "exams": lambda server: found.exams.append(
            exams.run(server, exams.QUICK if quick else exams.FULL)
        ),
        "leaderboards": lambda server: found.boards.append(
            leaderboards.run(server, leaderboards.QUICK if quick else leaderboards.FULL)
        ),
        "payments": lambda server: found.storms.append(payments.run(server, workdir)),
        "live": lambda server: found.live.append(
            live.run_sizes(server, live.QUICK if quick else live.FULL)
        ),
    }
    for deployment in args.deployments.split(","):
        for name, measure in measures.items():
            if name not in sections:
                continue
            server = (
                live.live_server(deployment, workdir, **options)
                if name == "live"
                else serve(deployment, workdir, name, **options)
            )
            with _timed(f"{deployment} {name}"), server as running:
                measure(running)
    return found


def _write(path: Path, found: Figures, ceiling: Ceiling, *, quick: bool) -> None:
    """Each measured section into ``path``; the ceilings are measured here, on demand."""
    run_line = _run_line()
    header = run_line + (" Quick run: small sizes." if quick else "")
    seconds = QUICK_SECONDS if quick else FULL_SECONDS
    if found.rows:
        _write_section(path, "request path", _report(found.rows, found.imports, seconds, ceiling))
    if found.exams:
        for name, write in (
            ("exam start burst", exams.start_section),
            ("exam saves", exams.saves_section),
            ("exam submit burst", exams.submit_section),
        ):
            _write_section(path, name, write(found.exams, header, ceiling))
    if found.boards:
        _write_section(path, "leaderboards", leaderboards.section(found.boards, header, ceiling))
    if found.live:
        _write_section(path, "live quiz", live.section(found.live, header, ceiling))
    if found.storms:
        _write_section(path, "webhook storm", payments.section(found.storms, run_line, ceiling))


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
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {LOADGEN_CORE})
    ceiling_seconds = QUICK_CEILING_SECONDS if args.quick else FULL_SECONDS
    with _timed("whole run"), tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with bare_server(workdir, ceiling_seconds) as ceiling:
            found = _run(args, workdir)
            with _timed("ceilings and report"):
                _write(args.output, found, ceiling, quick=args.quick)
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
