"""API fuzzing: schemathesis sends generated requests to every operation of the OpenAPI
schema the app serves at ``/schema/openapi.json``, on both deployments.

Each example goes as an anonymous caller, a student, the teacher who owns the seeded
world (the answer-key test's ``world``: a bank of every item type, a course, an exam with
a started session, a live quiz and game, a product, an order and an entitlement) or an
admin, and its path parameters name one of those real objects half the time, so the
fuzzer gets past the 404s. Requests are valid (``positive``) or deliberately not
(``negative``). Every response must pass:

- ``not_a_server_error``: no 5xx (a database or Redis outage is a 503 by contract, and
  neither is down here, so a 503 is a finding too);
- ``status_code_conformance``: the status is one the operation declares;
- ``content_type_conformance``: the media type is the one declared for that status;
- ``response_schema_conformance``: the body matches the declared schema.

``response_headers_conformance`` is not run: no operation declares response headers.
Checks that send follow-up requests (``ignored_auth``, ``use_after_free``, ...) belong to
schemathesis' own runner and stateful mode, not to a single-request property test.

Hypothesis drives the examples in a worker thread; each request runs on the test's event
loop through the ``client`` fixture, so the app keeps the database pool it started there.
CI runs ``FUZZ_EXAMPLES_CI`` examples per operation with a fixed seed; ``make fuzz`` sets
``STUDYHALL_FUZZ_EXAMPLES`` for a long, randomly seeded run.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from studyhall.platform.auth import Role
from studyhall.platform.runtime import Platform
from tests import test_answer_keys
from tests.helpers import Person, make_person

# The answer-key test's seeded objects, used here as a fixture too.
world = test_answer_keys.world
FUZZ_EXAMPLES_CI = 20
LONG_RUN_EXAMPLES = os.environ.get("STUDYHALL_FUZZ_EXAMPLES")
settings.register_profile(
    "fuzz-ci",
    max_examples=FUZZ_EXAMPLES_CI,
    derandomize=True,  # CI sees the same examples every run; finding new ones is `make fuzz`'s job
    phases=[Phase.explicit, Phase.generate],
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "fuzz-long",
    max_examples=int(LONG_RUN_EXAMPLES or FUZZ_EXAMPLES_CI),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
PROFILE = settings.get_profile("fuzz-long" if LONG_RUN_EXAMPLES else "fuzz-ci")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# HTML pages are for browsers: they answer with redirects and templates the schema does not
# describe (and form posts need the CSRF cookie), so they get only the no-5xx check here;
# tests/web drives them through real forms and a real browser.
API_PREFIXES = ("/api/", "/media/", "/healthz", "/readyz", "/metrics")
# Operations a generated request cannot exercise, and why.
SKIPPED = {
    ("GET", "/api/v1/exams/{exam_id}/leaderboard/events"): "a server-sent event stream never ends",
    ("GET", "/api/v1/quizzes/{join_code}/events"): "a server-sent event stream never ends",
    ("POST", "/api/v1/videos"): "the body is a video file; tests/content upload real media",
    ("POST", "/api/v1/payments/webhook"): (
        "only a Stripe-signed body gets past the signature; tests/payments sign real events"
    ),
}
REQUEST_TIMEOUT = 30
BASE_URL = "http://127.0.0.1"


async def load_schema(client: httpx.AsyncClient) -> schemathesis.BaseSchema:
    """The schema exactly as the app serves it."""
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    return schemathesis.openapi.from_dict(response.json())


def send(
    loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient, case: schemathesis.Case
) -> httpx.Response:
    """Serialise the case the way schemathesis' own transport does (requests), then send
    it through the app's in-loop client and wait for the answer in this thread."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    fields = ("method", "url", "headers", "params", "data", "json", "files", "cookies")
    try:
        prepared = requests.Request(**{key: kwargs[key] for key in fields if key in kwargs})
        request = prepared.prepare()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        outgoing = client.build_request(
            str(request.method), str(request.url), headers=headers, content=request.body
        )
    except (UnicodeError, ValueError, httpx.InvalidURL, requests.RequestException):
        reject()  # a request no HTTP client could put on the wire
    future = asyncio.run_coroutine_threadsafe(client.send(outgoing), loop)
    return future.result(timeout=REQUEST_TIMEOUT)


def fuzz_operation(
    operation: schemathesis.APIOperation,
    loop: asyncio.AbstractEventLoop,
    client: httpx.AsyncClient,
    callers: list[Person | None],
    values: dict[str, list[str]],
    stopped: threading.Event,
) -> str | None:
    """Run the operation's examples; the first failure's report, or None."""
    cases = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )

    checks = CHECKS if operation.path.startswith(API_PREFIXES) else [not_a_server_error]

    @settings(PROFILE)
    @given(case=cases, caller=st.sampled_from(callers), data=st.data())
    def example(case: schemathesis.Case, caller: Person | None, data: st.DataObject) -> None:
        if stopped.is_set():
            reject()
        for name in list(case.path_parameters or {}):
            if name in values and data.draw(st.booleans(), label=f"real {name}"):
                case.path_parameters[name] = data.draw(st.sampled_from(values[name]))
        headers = dict(case.headers or {})
        if caller is not None:
            headers.update(caller.headers)
        if case.method.upper() != "GET":
            headers.setdefault("Idempotency-Key", str(data.draw(st.uuids(), label="key")))
        case.headers = headers
        response = send(loop, client, case)
        case.validate_response(response, checks=checks)

    try:
        example()
    except (Exception, BaseExceptionGroup) as failure:
        return f"{operation.method.upper()} {operation.path}:\n{failure}"
    return None


# The bounded run takes well under a minute per deployment here; the long one takes its time.
@pytest.mark.timeout(0 if LONG_RUN_EXAMPLES else 300)
async def test_every_operation_answers_within_its_schema(
    client: httpx.AsyncClient, platform: Platform, world: dict[str, Any]
) -> None:
    admin = await make_person(platform, Role.ADMIN)
    teacher: Person = world["teacher"]
    callers: list[Person | None] = [None, world["student"], teacher, admin]
    cohort = await client.post("/api/v1/cohorts", json={"name": "Fuzz"}, headers=teacher.headers)
    assert cohort.status_code == 201, cohort.text
    values = {
        **world["values"],
        "user_id": [str(world["student"].id), str(teacher.id)],
        "cohort_id": [cohort.json()["id"]],
    }
    schema = await load_schema(client)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 100, "the schema must describe the whole API"
    described = {(operation.method.upper(), operation.path) for operation in operations}
    assert set(SKIPPED) <= described, "a skip names an operation the schema no longer has"
    loop = asyncio.get_running_loop()

    stopped = threading.Event()

    def run_all() -> list[str]:
        found = []
        for operation in operations:
            if stopped.is_set():  # the test timed out or was interrupted: stop sending
                break
            if (operation.method.upper(), operation.path) in SKIPPED:
                continue
            failure = fuzz_operation(operation, loop, client, callers, values, stopped)
            if failure:
                found.append(failure)
        return found

    try:
        failures = await asyncio.to_thread(run_all)
    finally:
        stopped.set()
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
