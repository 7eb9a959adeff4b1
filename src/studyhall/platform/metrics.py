"""Prometheus metrics; multi-process aware when ``PROMETHEUS_MULTIPROC_DIR`` is set.

``studyhall serve --workers N`` sets that directory so ``/metrics`` on any worker
reports the sum over all of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

HTTP_REQUESTS = Counter(
    "studyhall_http_requests_total",
    "HTTP requests by method, route template and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "studyhall_http_request_duration_seconds",
    "HTTP request latency by method and route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_IN_FLIGHT = Gauge(
    "studyhall_http_requests_in_flight",
    "HTTP requests being served",
    multiprocess_mode="livesum",
)
WEBSOCKET_CONNECTIONS = Gauge(
    "studyhall_websocket_connections",
    "Open WebSocket connections",
    multiprocess_mode="livesum",
)
JOBS_RUN = Counter("studyhall_jobs_total", "Jobs finished by kind and outcome", ["kind", "outcome"])
LIVE_ANSWERS = Counter(
    "studyhall_answers_submitted_total",
    "Live quiz answers by outcome (accepted, duplicate, closed, invalid)",
    ["outcome"],
)
LIVE_SUBMISSION_LATENCY = Histogram(
    "studyhall_quiz_submission_latency_seconds",
    "Live quiz answer handling, from receipt to acknowledgement (durably recorded)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
LIVE_FANOUT = Histogram(
    "studyhall_live_fanout_duration_seconds",
    "Time to give one live game event to every local connection of this process "
    "(written to the socket, or queued behind what it is still sending)",
    ["kind"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
LIVE_EVENTS_DROPPED = Counter(
    "studyhall_live_events_dropped_total",
    "Live game frames dropped for connections that could not keep up",
)
PUBSUB_DROPPED = Counter(
    "studyhall_pubsub_dropped_total",
    "Pub/sub messages a subscriber of this process lost because it read too slowly",
)


def gauge(name: str, help_text: str, value: float) -> Metric:
    """A gauge read at scrape time (DB pool, queue depth), reported by the scraped process."""
    return GaugeMetricFamily(name, help_text, value=value)


def _exposition_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


class _Snapshot(Collector):
    def __init__(self, metrics: Sequence[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return iter(self._metrics)


def render_metrics(scrape_time: Sequence[Metric] = ()) -> tuple[bytes, str]:
    """The exposition text for a scrape (process metrics plus ``scrape_time`` gauges)."""
    output = generate_latest(_exposition_registry())
    if scrape_time:
        extra = CollectorRegistry()
        extra.register(_Snapshot(scrape_time))
        output += generate_latest(extra)
    return output, CONTENT_TYPE_LATEST
