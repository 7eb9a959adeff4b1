"""The Litestar app factory: one code base for the embedded and the scaled deployment."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

from litestar import Litestar
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from studyhall import __version__
from studyhall.config import Settings, load_settings
from studyhall.content import routes as content_routes
from studyhall.exams import routes as exam_routes
from studyhall.exams import tasks as exam_tasks
from studyhall.exams.answers import AnswerJournal
from studyhall.exams.batched import ExamSessions
from studyhall.exams.integrity import SignalBuffer
from studyhall.exams.save_lane import AnswerSaveLane
from studyhall.identity import routes as identity_routes
from studyhall.identity import tasks as identity_tasks
from studyhall.identity.dependencies import provide_actor, provide_optional_actor
from studyhall.leaderboards import routes as leaderboard_routes
from studyhall.live import routes as live_routes
from studyhall.live.connections import LiveRuntime
from studyhall.live.engine import LiveEngine
from studyhall.payments import routes as payment_routes
from studyhall.payments import tasks as payment_tasks
from studyhall.payments.webhooks import schedule_reconcile
from studyhall.platform import health, heap, housekeeping
from studyhall.platform.clock import Clock
from studyhall.platform.csrf import SessionCsrfMiddleware, csrf_config
from studyhall.platform.errors import EXCEPTION_HANDLERS, declare_problem_responses
from studyhall.platform.http import provide_db, provide_platform
from studyhall.platform.jobs import JobRegistry, Worker
from studyhall.platform.metrics import JOBS_RUN
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from studyhall.questions import routes as question_routes
from studyhall.web import (
    bank_pages,
    catalog_pages,
    exam_pages,
    grading_pages,
    integrity_pages,
    leaderboard_pages,
    live_pages,
    payment_pages,
)
from studyhall.web import routes as web_routes

WEB_DIR = Path(__file__).parent / "web"
logger = logging.getLogger("studyhall.app")


def job_registry(platform: Platform) -> JobRegistry:
    """Every domain's jobs, in one registry the worker serves."""
    registry = JobRegistry()
    identity_tasks.register_jobs(registry)
    housekeeping.register_jobs(registry)
    exam_tasks.register_jobs(registry, platform)
    payment_tasks.register_jobs(registry, platform)
    return registry


def build_worker(platform: Platform, registry: JobRegistry | None = None) -> Worker:
    settings = platform.settings
    return Worker(
        platform.sessions,
        platform.clock,
        registry or job_registry(platform),
        owner=f"{socket.gethostname()}:{os.getpid()}",
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.job_poll_seconds,
        concurrency=settings.worker_concurrency,
        wakeups=platform.pubsub,
        on_finished=lambda kind, outcome: JOBS_RUN.labels(kind, outcome).inc(),
    )


def create_litestar(settings: Settings, *, clock: Clock | None = None) -> Litestar:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        platform = await Platform.start(settings, clock=clock)
        app.state.platform = platform
        await housekeeping.schedule(platform.sessions, platform.clock)
        app.state.answer_journal = journal = AnswerJournal(platform.engine)
        app.state.signal_buffer = signals = SignalBuffer(platform.engine)
        app.state.exam_sessions = exam_sessions = ExamSessions(platform)
        app.state.live = live = LiveRuntime.start(LiveEngine(platform))
        stop = asyncio.Event()
        worker_task = None
        if settings.worker_in_app:
            await schedule_reconcile(platform)
            worker_task = asyncio.create_task(build_worker(platform).run(stop))
        heap.settle(settings.gc_young_threshold)
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
            await exam_sessions.close()
            await journal.close()
            await signals.close()
            await live.close()
            await platform.close()

    app = Litestar(
        route_handlers=[
            *health.ROUTES,
            *identity_routes.ROUTES,
            *question_routes.ROUTES,
            *content_routes.ROUTES,
            *exam_routes.ROUTES,
            *leaderboard_routes.ROUTES,
            *live_routes.ROUTES,
            *payment_routes.ROUTES,
            *web_routes.ROUTES,
            *bank_pages.ROUTES,
            *catalog_pages.ROUTES,
            *integrity_pages.ROUTES,
            *exam_pages.ROUTES,
            *grading_pages.ROUTES,
            *leaderboard_pages.ROUTES,
            *live_pages.ROUTES,
            *payment_pages.ROUTES,
            create_static_files_router(path="/static", directories=[WEB_DIR / "static"]),
        ],
        dependencies={
            "platform": Provide(provide_platform, sync_to_thread=False),
            "db": Provide(provide_db),
            "optional_actor": Provide(provide_optional_actor),
            "actor": Provide(provide_actor),
        },
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            DefineMiddleware(
                SessionCsrfMiddleware,
                config=csrf_config(settings.secret_key, secure=settings.cookie_secure),
            )
        ],
        request_max_body_size=settings.max_body_bytes,
        template_config=TemplateConfig(directory=WEB_DIR / "templates", engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(
            title="studyhall",
            version=__version__,
            path="/schema",
            render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        ),
        # Logging is configured once per process by the CLI (JSON lines), not by Litestar.
        logging_config=None,
        debug=False,
    )
    declare_problem_responses(app)
    return app


def litestar_of(app: ObservedApp) -> Litestar:
    """The Litestar app inside the ASGI layers of :func:`create_app` (its state, lifespan)."""
    inner: object = app
    while not isinstance(inner, Litestar):
        inner = getattr(inner, "app")  # noqa: B009 (each layer keeps the next one as ``app``)
    return inner


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> ObservedApp:
    """The ASGI app uvicorn serves (``studyhall.app:create_app`` with ``--factory``)."""
    settings = settings or load_settings()
    app = create_litestar(settings, clock=clock)
    return ObservedApp(AnswerSaveLane.in_front_of(app), access_log=settings.access_log)
