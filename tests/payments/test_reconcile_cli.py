"""``studyhall payments reconcile``: an operator repairs a lost webhook from the command line."""

from __future__ import annotations

import httpx
from click.testing import CliRunner, Result

from studyhall.cli import main
from studyhall.config import Settings
from tests.conftest import TEST_SECRET, off_loop
from tests.helpers import Person
from tests.payments.conftest import SoldCourse, checkout, entitlements, order_of


def _reconcile(settings: Settings) -> Result:
    env = {
        "STUDYHALL_DATA_DIR": str(settings.data_dir),
        "STUDYHALL_SECRET_KEY": TEST_SECRET,
        "STUDYHALL_DATABASE_URL": settings.database_url,
        "STUDYHALL_REDIS_URL": settings.redis_url or "",
        "STUDYHALL_REDIS_PREFIX": settings.redis_prefix,
    }
    return CliRunner().invoke(main, ["payments", "reconcile"], env=env)


async def test_the_command_grants_a_lost_payment_once(
    client: httpx.AsyncClient,
    settings: Settings,
    sold_course: SoldCourse,
    student: Person,
    run_jobs,  # type: ignore[no-untyped-def]
) -> None:
    opened = await checkout(client, student, sold_course.product_id)
    checkout_id = opened.json()["checkoutId"]
    await client.post(
        f"/api/v1/payments/sandbox/{checkout_id}",
        json={"outcome": "pay", "lost": True},
        headers=student.headers,
    )
    await run_jobs()
    assert await entitlements(client, student) == []

    first = off_loop(lambda: _reconcile(settings))
    assert first.exit_code == 0, first.output
    assert "applied 1 " in first.output
    second = off_loop(lambda: _reconcile(settings))
    assert "applied 0 " in second.output, second.output
    assert len(await entitlements(client, student)) == 1
    order = await order_of(client, student, checkout_id)
    assert order["order"]["state"] == "paid"
    assert [h["source"] for h in order["history"]][-1] == "reconcile"
