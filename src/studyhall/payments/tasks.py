"""Payments jobs: apply an inbox event, reconcile with the gateway, and the sandbox's own
delivery and expiry jobs."""

from __future__ import annotations

from studyhall.payments import sandbox, webhooks
from studyhall.platform.jobs import JobRegistry
from studyhall.platform.runtime import Platform


def register_jobs(registry: JobRegistry, platform: Platform) -> None:
    webhooks.register_jobs(registry, platform)
    sandbox.register_jobs(registry, platform)
