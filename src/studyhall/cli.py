"""The ``studyhall`` command: serve, worker, migrate, user management."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar, cast

import click
import uvicorn
from sqlalchemy.exc import DBAPIError

from studyhall.config import Settings, SettingsError, load_settings
from studyhall.platform import heap
from studyhall.platform.auth import Role
from studyhall.platform.errors import DomainError
from studyhall.platform.logging import configure_logging
from studyhall.platform.migrate import upgrade
from studyhall.platform.runtime import Platform
from studyhall.platform.websockets import SERVER_OPTIONS
from studyhall.questions.schemas import ImportFormat, ImportReportOut

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _with_platform(settings: Settings, work: Callable[[Platform], Awaitable[T]]) -> T:
    async def run() -> T:
        platform = await Platform.start(settings)
        try:
            return await work(platform)
        finally:
            await platform.close()

    try:
        return asyncio.run(run())
    except DomainError as exc:
        raise click.ClickException(exc.detail) from exc
    except DBAPIError as exc:
        raise click.ClickException(
            f"The database refused the command ({type(exc.orig).__name__}). "
            "Is it reachable, and has `studyhall migrate` been run?"
        ) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """studyhall: mock exams, live quizzes, courses, chat and share links."""


@main.command()
def migrate() -> None:
    """Bring the database schema up to date (safe to run repeatedly)."""
    settings = _settings()
    configure_logging(settings.log_level)
    upgrade(settings)
    click.echo(f"Database is up to date ({settings.deployment} deployment).")


def _refuse_multiple_workers(settings: Settings, workers: int) -> None:
    if workers <= 1:
        return
    if settings.is_sqlite:
        raise click.UsageError(
            "The embedded deployment (SQLite) runs as one process. To run several workers, "
            "set STUDYHALL_DATABASE_URL to PostgreSQL and STUDYHALL_REDIS_URL to Redis."
        )
    if not settings.redis_url:
        raise click.UsageError(
            "Several app processes share hot state and pub/sub through Redis: "
            "set STUDYHALL_REDIS_URL."
        )


def _prepare_multiprocess_metrics(settings: Settings) -> None:
    """Each worker writes its metrics here; any worker's /metrics sums them all."""
    directory = settings.data_dir / "prometheus"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def _print_demo_logins(settings: Settings) -> None:
    from studyhall.demo import seed_demo

    logins = _with_platform(settings, seed_demo)
    click.echo("Demo logins:")
    for login in logins:
        click.echo(f"  {login.role:<8} {login.email:<26} password: {login.password}")


@main.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8000).")
@click.option("--workers", type=click.IntRange(min=1), default=1, help="App processes.")
@click.option("--demo", is_flag=True, help="Create demo users and content, print the logins.")
def serve(host: str | None, port: int | None, workers: int, demo: bool) -> None:
    """Serve the web app and API (the embedded deployment migrates first)."""
    settings = _settings()
    configure_logging(settings.log_level)
    _refuse_multiple_workers(settings, workers)
    if settings.deployment == "embedded":
        upgrade(settings)
    if demo:
        _print_demo_logins(settings)
    if workers > 1:
        _prepare_multiprocess_metrics(settings)
    bind_host = host or settings.host
    bind_port = port or settings.port
    click.echo(f"studyhall is serving on http://{bind_host}:{bind_port}  (Ctrl+C to stop)")
    uvicorn.run(
        "studyhall.app:create_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        loop="uvloop",
        **SERVER_OPTIONS,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


@main.command()
def worker() -> None:
    """Run background jobs (scoring, webhooks, emails) until stopped."""
    from studyhall.app import build_worker
    from studyhall.payments.webhooks import schedule_reconcile

    settings = _settings()
    configure_logging(settings.log_level)

    async def run(platform: Platform) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        click.echo("studyhall worker is running (Ctrl+C to stop)")
        await schedule_reconcile(platform)
        worker = build_worker(platform)
        heap.settle(settings.gc_young_threshold)
        await worker.run(stop)

    _with_platform(settings, run)


_FORMAT_BY_SUFFIX = {".xml": "moodlexml", ".aiken": "aiken", ".gift": "gift", ".txt": "gift"}


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bank", "bank_id", required=True, type=click.UUID, help="The bank to import into.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["gift", "aiken", "moodlexml"]),
    default=None,
    help="File format (default: from the extension; .xml is Moodle XML, else GIFT).",
)
@click.option(
    "--as", "email", default=None, help="Import as this teacher (default: the bank owner)."
)
def import_questions(file: Path, bank_id: uuid.UUID, fmt: str | None, email: str | None) -> None:
    """Import a GIFT, Aiken or Moodle XML file into a question bank (one transaction)."""
    from studyhall.identity import repository as identity_repository
    from studyhall.identity.service import actor_for
    from studyhall.questions import repository as question_repository
    from studyhall.questions import service as question_service

    chosen = fmt or _FORMAT_BY_SUFFIX.get(file.suffix.lower(), "gift")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file} is not UTF-8 text") from exc

    async def run(platform: Platform) -> ImportReportOut:
        async with platform.sessions() as session, session.begin():
            bank = await question_repository.bank_by_id(session, bank_id)
            if bank is None:
                raise click.ClickException(f"No bank {bank_id}")
            user = (
                await identity_repository.user_by_email(session, email.strip().lower())
                if email
                else await identity_repository.user_by_id(session, bank.owner_id)
            )
            if user is None:
                raise click.ClickException(f"No user {email}")
            with click.progressbar(length=1, label="Importing") as bar:

                def progress(done: int, total: int) -> None:
                    bar.length = max(total, 1)
                    bar.update(done - bar.pos)

                return await question_service.import_questions(
                    session,
                    platform,
                    actor_for(user, "bearer"),
                    bank.id,
                    text,
                    cast(ImportFormat, chosen),
                    on_progress=progress,
                )

    report = _with_platform(_settings(), run)
    click.echo(f"Imported {report.imported} questions from {file.name} ({chosen}).")
    for issue in report.errors:
        click.echo(f"  line {issue.line}: {issue.message}", err=True)
    if report.errors:
        click.echo(f"{len(report.errors)} questions were not imported (see above).", err=True)


@main.group()
def user() -> None:
    """Manage user accounts."""


@user.command("create")
@click.argument("email")
@click.option("--password", required=True, help="At least 8 characters.")
@click.option(
    "--role", type=click.Choice([role.value for role in Role]), required=True, help="Account role."
)
@click.option("--name", default=None, help="Display name (default: the part before @).")
def user_create(email: str, password: str, role: str, name: str | None) -> None:
    """Create an account with the given role."""
    from studyhall.identity import service

    async def create(platform: Platform) -> str:
        async with platform.sessions() as session, session.begin():
            created = await service.register(
                session,
                platform,
                email=email,
                password=password,
                name=name or email.split("@", 1)[0],
                role=Role(role),
            )
            return f"Created {created.role} {created.email} (id {created.id})"

    click.echo(_with_platform(_settings(), create))


@user.command("list")
@click.option("--role", type=click.Choice([role.value for role in Role]), default=None)
def user_list(role: str | None) -> None:
    """List accounts (oldest first)."""
    from studyhall.identity import repository

    async def listing(platform: Platform) -> list[str]:
        async with platform.sessions() as session:
            users = await repository.list_users(session, role=role, limit=100_000, offset=0)
            return [f"{u.id}  {u.role:<8} {u.email:<32} {u.name}" for u in users]

    for line in _with_platform(_settings(), listing):
        click.echo(line)


@main.group()
def leaderboard() -> None:
    """Exam leaderboards."""


@leaderboard.command("rebuild")
@click.argument("exam_id", metavar="EXAM", type=click.UUID)
def leaderboard_rebuild(exam_id: uuid.UUID) -> None:
    """Recompute an exam's standings from its results and rebuild its boards."""
    from studyhall.leaderboards import service
    from studyhall.leaderboards.boards import REFRESH_SECONDS

    settings = _settings()
    report = _with_platform(settings, lambda platform: service.rebuild(platform, exam_id))
    click.echo(
        f"Rebuilt the leaderboard of exam {exam_id}: {report.students} students, "
        f"{report.cohort_boards} cohort boards, {report.corrected} standings corrected."
    )
    if settings.redis_url is None:
        click.echo(
            "Without Redis each server keeps its boards in its own memory: a running "
            f"server rebuilds them from the database within {REFRESH_SECONDS:.0f} s."
        )


@main.group()
def payments() -> None:
    """Payments and entitlements."""


@payments.command("reconcile")
def payments_reconcile() -> None:
    """Apply recent gateway events that never arrived as webhooks (exactly once)."""
    from studyhall.payments.schemas import ReconcileOut
    from studyhall.payments.webhooks import reconcile

    async def run(platform: Platform) -> ReconcileOut:
        async with platform.sessions() as session, session.begin():
            return await reconcile(session, platform)

    report = _with_platform(_settings(), run)
    click.echo(
        f"Checked {report.seen} recent gateway events; applied {report.applied} "
        "that the webhook had not delivered."
    )


@main.group()
def loadtest() -> None:
    """Load tests against a running server."""


@loadtest.command("live")
@click.option("--players", type=click.IntRange(min=1), required=True, help="WebSocket players.")
@click.option("--host", "base", required=True, help="The server, e.g. http://127.0.0.1:8000.")
@click.option("--questions", type=click.IntRange(min=1, max=50), default=3, show_default=True)
@click.option("--token", default=None, help="A teacher's bearer token.")
@click.option("--email", default=None, help="A teacher's email (with --password).")
@click.option("--password", default=None)
@click.option(
    "--answer-window", type=float, default=1.0, show_default=True, help="Seconds to answer in."
)
@click.option("--join-rate", type=float, default=500.0, show_default=True, help="Joins per second.")
def loadtest_live(
    players: int,
    base: str,
    questions: int,
    token: str | None,
    email: str | None,
    password: str | None,
    answer_window: float,
    join_rate: float,
) -> None:
    """Play one live game with N real WebSocket players; print join, answer-ack, question
    fan-out and leaderboard-delivery latency percentiles. The server must allow N joins
    from this machine (STUDYHALL_LIVE_JOIN_LIMIT_PER_IP)."""
    from studyhall.live.loadtest import LoadConfig, LoadTestError, run

    config = LoadConfig(
        base=base.rstrip("/"),
        players=players,
        questions=questions,
        token=token,
        email=email,
        password=password,
        answer_window=answer_window,
        join_rate=join_rate,
    )
    try:
        report = asyncio.run(run(config))
    except (LoadTestError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.lines():
        click.echo(line)


if __name__ == "__main__":
    main()
