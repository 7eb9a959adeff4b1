"""The leaderboard page as served (the live part is in test_browser.py)."""

from __future__ import annotations

import html as html_module
import re
import uuid

import httpx

from studyhall.platform.auth import Role
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from tests.helpers import browser_tab, make_person, sign_in
from tests.leaderboards.helpers import make_cohort, make_exam, take


def _rows(html: str, name: str) -> list[str]:
    body = html.split(f'data-rows="{name}">', 1)[1].split("</tbody>", 1)[0]
    rows = body.split("</tr>")[:-1]
    return [
        html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))).strip()
        for row in rows
    ]


async def test_the_page_shows_the_top_and_the_readers_place(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    ada = await make_person(platform, Role.STUDENT, name="Ada <b>Lovelace</b>")
    bea = await make_person(platform, Role.STUDENT, name="Bea")
    cohort = await make_cohort(client, teacher, "Batch A", ada)
    exam_id = await make_exam(client, teacher, title="Physics mock", attemptPolicy="highest")
    await take(client, ada, exam_id, 2)
    await take(client, bea, exam_id, 3)

    async with browser_tab(app) as tab:
        signed_out = await tab.get(f"/exams/{exam_id}/leaderboard")
        assert signed_out.status_code in (302, 303)
        assert signed_out.headers["location"] == f"/login?next=/exams/{exam_id}/leaderboard"
        await sign_in(tab, ada)
        page = await tab.get(f"/exams/{exam_id}/leaderboard")
        assert page.status_code == 200
        html = page.text
        assert "<h1" in html
        assert "Physics mock" in html
        assert "best attempt counts" in html
        assert "data-my-rank>2</span>" in html
        assert "&lt;b&gt;Lovelace&lt;/b&gt;" in html, "names are escaped"
        assert _rows(html, "top")[0].startswith("1 Bea 3 75%")
        assert _rows(html, "around")[1].startswith("2 Ada <b>Lovelace</b> (you) 2 50%")
        assert f"/api/v1/exams/{exam_id}/leaderboard/events?top=50&amp;around=me" in html
        assert f'<option value="{cohort}">Cohort: Batch A</option>' in html
        assert "@example.org" not in html

        filtered = await tab.get(f"/exams/{exam_id}/leaderboard?cohort={cohort}")
        assert [row.split(" (you)")[0] for row in _rows(filtered.text, "top")] == [
            "1 Ada <b>Lovelace</b>"
        ]
        assert f"cohort={cohort}" in filtered.text
        assert (await tab.get(f"/exams/{exam_id}/leaderboard?cohort=nonsense")).status_code == 200


async def test_readers_without_access_get_the_not_found_page(
    client: httpx.AsyncClient, app: ObservedApp, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    member = await make_person(platform, Role.STUDENT)
    outsider = await make_person(platform, Role.STUDENT)
    cohort = await make_cohort(client, teacher, "Closed", member)
    exam_id = await make_exam(client, teacher, cohortId=cohort)
    async with browser_tab(app) as tab:
        await sign_in(tab, outsider)
        for path in (f"/exams/{exam_id}/leaderboard", f"/exams/{uuid.uuid4()}/leaderboard"):
            refused = await tab.get(path)
            assert refused.status_code == 404
            assert "Not found" in refused.text
