"""A job worker is killed with SIGKILL in the middle of a burst: 150 exam sessions whose time
ran out together (the worker submits and scores each) and 100 paid-checkout webhooks (the
worker applies each). The jobs it held come back when their 2-second leases expire and a
second worker finishes everything: every session is scored exactly once and every event
has exactly one effect."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
import stripe

from studyhall.config import load_settings
from studyhall.exams.service import EXPIRE_JOB
from studyhall.payments.gateways import webhook_secret
from studyhall.payments.webhooks import APPLY_JOB
from tests.chaos.world import create_exam, database, register, seat_students
from tests.exams.test_durability import migrate_with_a_teacher
from tests.processes import processes, studyhall

pytestmark = [pytest.mark.chaos, pytest.mark.services]
STUDENTS, EXAMS = 50, 3
SESSIONS = STUDENTS * EXAMS
EVENTS = 100
KINDS = [EXPIRE_JOB, APPLY_JOB]
JOB_COUNTS = """SELECT count(*) FILTER (WHERE state = 'done'),
                       count(*) FILTER (WHERE state = 'running' AND lease_owner = $2),
                       count(*)
                FROM jobs WHERE kind = ANY($1::text[])"""


async def _paid_checkouts(env: dict[str, str], buyer: uuid.UUID) -> list[str]:
    """``EVENTS`` pending orders of ``buyer``, one product each, as checkouts leave them."""
    now = datetime.now(UTC)
    checkouts = [f"cs_chaos_{index}" for index in range(EVENTS)]
    async with database(env) as db:
        seller = await db.fetchval("SELECT id FROM users WHERE role = 'teacher'")
        for checkout_id in checkouts:
            product = uuid.uuid4()
            await db.execute(
                "INSERT INTO products (id, kind, title, price_minor, currency, duration_days,"
                " active, created_by, created_at, updated_at)"
                " VALUES ($1, 'pass', $2, 100, 'usd', 30, true, $3, $4, $4)",
                product,
                checkout_id,
                seller,
                now,
            )
            await db.execute(
                "INSERT INTO orders (id, user_id, product_id, state, amount_minor, currency,"
                " gateway, checkout_id, created_at, updated_at)"
                " VALUES ($1, $2, $3, 'pending', 100, 'usd', 'sandbox', $4, $5, $5)",
                uuid.uuid4(),
                buyer,
                product,
                checkout_id,
                now,
            )
    return checkouts


def _event(checkout_id: str) -> str:
    return json.dumps(
        {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": checkout_id,
                    "object": "checkout.session",
                    "payment_status": "paid",
                    "payment_intent": f"pi_{checkout_id}",
                }
            },
        }
    )


async def test_worker_kill_9_mid_burst_scores_every_session_and_applies_every_event_once(
    shared_redis_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**shared_redis_env, "STUDYHALL_WORKER_CONCURRENCY": "8"}
    secret = webhook_secret(load_settings(env))
    with processes(env) as group:
        migrate_with_a_teacher(group)
        base = group.serve(tmp_path / "app.log")
        async with httpx.AsyncClient(timeout=10) as http:
            exams = [
                await create_exam(http, base, duration_seconds=1, title=f"E{index}")
                for index in range(EXAMS)
            ]
            await seat_students(http, base, exams, STUDENTS)
            buyer = await register(http, base, "buyer@example.org")
            me = (await http.get(f"{base}/api/v1/me", headers=buyer)).json()
            checkouts = await _paid_checkouts(env, uuid.UUID(me["id"]))
            gate = asyncio.Semaphore(20)

            async def deliver(checkout_id: str) -> int:
                body = _event(checkout_id)
                signature = stripe.WebhookSignature.generate_signature_header(
                    body, secret, timestamp=int(time.time())
                )
                async with gate:
                    response = await http.post(
                        f"{base}/api/v1/payments/webhook",
                        content=body,
                        headers={"Stripe-Signature": signature, "content-type": "application/json"},
                    )
                return response.status_code

            statuses = await asyncio.gather(*map(deliver, checkouts))
        assert set(statuses) == {200}
        async with database(env) as db:
            # Every session is past its deadline before any worker runs: one burst.
            while await db.fetchval("SELECT max(submit_by) > now() FROM exam_sessions"):
                await asyncio.sleep(0.1)
            doomed = group.start(studyhall("worker"), tmp_path / "doomed-worker.log")
            owner_suffix = f":{doomed.pid}"
            owner = await _owner(db, owner_suffix)
            while True:
                done, _, total = await db.fetchrow(JOB_COUNTS, KINDS, owner)
                if done >= total // 10:
                    break
                await asyncio.sleep(0.01)
            await asyncio.to_thread(group.kill_9, doomed)
            done_at_kill, held_at_kill, total = await db.fetchrow(JOB_COUNTS, KINDS, owner)
            held = await db.fetch(
                "SELECT id FROM jobs WHERE state = 'running' AND lease_owner = $1", owner
            )
            group.start(studyhall("worker"), tmp_path / "second-worker.log")
            deadline = time.monotonic() + 60
            while (await db.fetchrow(JOB_COUNTS, KINDS, owner))[0] < total:
                assert time.monotonic() < deadline, "the second worker never finished"
                await asyncio.sleep(0.1)
            scored = await db.fetch(
                "SELECT s.status, s.submitted_by, count(r.session_id) AS results"
                " FROM exam_sessions s LEFT JOIN exam_results r ON r.session_id = s.id"
                " GROUP BY s.id"
            )
            taken_over = await db.fetchval(
                "SELECT count(*) FROM jobs WHERE id = ANY($1::uuid[]) AND state = 'done'"
                " AND attempts = 2",
                [row["id"] for row in held],
            )
            failed = await db.fetchval("SELECT count(*) FROM jobs WHERE state = 'failed'")
            events = await db.fetchval(
                "SELECT count(*) FROM payment_webhook_events WHERE applied_at IS NOT NULL"
            )
            granted = await db.fetchval("SELECT count(*) FROM entitlements")
            ledger = await db.fetchval("SELECT count(*) FROM payment_ledger")
            paid = await db.fetchval("SELECT count(*) FROM orders WHERE state = 'paid'")
    once = sum(
        (row["status"], row["submitted_by"], row["results"]) == ("SCORED", "timeout", 1)
        for row in scored
    )
    print(
        f"\n{total} jobs ({SESSIONS} expiries, {EVENTS} webhook events); worker killed with "
        f"{done_at_kill} done and {held_at_kill} held; {taken_over} of those finished by the "
        f"other worker after their lease expired; {once}/{SESSIONS} sessions scored exactly "
        f"once; {events}/{EVENTS} events applied, {granted} entitlements, {ledger} ledger "
        f"entries, {paid} orders paid; {failed} jobs failed"
    )
    assert total == SESSIONS + EVENTS
    assert done_at_kill < total, "the worker was killed mid-burst"
    assert taken_over == len(held)
    assert len(scored) == SESSIONS
    assert once == SESSIONS
    assert (events, granted, ledger, paid) == (EVENTS, EVENTS, EVENTS, EVENTS)
    assert failed == 0


async def _owner(db: asyncpg.Connection, suffix: str) -> str:
    """The lease owner name the new worker claims under (``host:pid``), once it has claimed."""
    deadline = time.monotonic() + 30
    while True:
        owner = await db.fetchval(
            "SELECT lease_owner FROM jobs WHERE lease_owner LIKE $1 LIMIT 1", f"%{suffix}"
        )
        if owner is not None:
            return str(owner)
        assert time.monotonic() < deadline, "the worker never claimed a job"
        await asyncio.sleep(0.005)
