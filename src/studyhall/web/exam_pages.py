"""Exam pages: the list of exams, a lobby, the exam itself, its result, and exam setup.

Students find exams at ``/exams``, read the rules in the lobby ``/exams/{id}`` and start
(a plain form post), take the exam at ``/sessions/{id}`` (``static/exam.js`` keeps the
server's clock, saves every answer and queues them while offline) and read the result at
``/sessions/{id}/result``. Teachers list and create exams at ``/teach/exams`` and give
single students extra time or a later close at ``/teach/exams/{id}``.

Handlers are thin like the bank pages: they authenticate, read the form and call the
``exams`` service, whose rules and errors the API shares. Forms work without JavaScript
and come back with the service's message and the input as typed.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from studyhall.exams import service
from studyhall.exams.schemas import (
    AnswerOut,
    ExamIn,
    OverrideIn,
    ResultOut,
    ReviewPolicy,
    SessionOut,
)
from studyhall.identity import service as identity_service
from studyhall.payments.access import PaymentRequired, products_to_buy
from studyhall.platform.auth import Actor
from studyhall.platform.errors import DomainError, NotFound
from studyhall.platform.http import DbSession, MaybeActor, Runtime
from studyhall.questions import service as question_service
from studyhall.questions.render import Option, StudentQuestion, to_html
from studyhall.web.bank_pages import KIND_LABELS, FormProblem, first_words
from studyhall.web.pages import not_found, refuse, render, request_target
from studyhall.web.payment_pages import buy_prompt

OPEN = ("ACTIVE", "PAUSED")
# Questions listed per bank in the setup form (an exam takes at most 500).
PICK_LIMIT = 500
DRAW_ROWS = 3
BLOCKED_MESSAGES = {
    "not_open": "This exam has not opened yet.",
    "closed": "This exam has closed.",
    "no_attempts_left": "You have used every attempt this exam allows.",
    "not_in_cohort": "This exam is for another class.",
}
ATTEMPT_POLICIES = {
    "highest": "The highest score counts",
    "last": "The last attempt counts",
    "first": "The first attempt counts",
    "average": "The average of all attempts counts",
}
EXPIRY_POLICIES = {
    "submit": "Submit what was answered",
    "grace": "Allow a grace period to submit",
    "discard": "Do not count the attempt",
}
REVIEW_PARTS = {
    "score": "Score",
    "correctness": "Which answers were right",
    "right_answers": "The right answers",
    "explanations": "Explanations and feedback",
}


def duration_text(seconds: int) -> str:
    """``5400`` as "1 h 30 min": how long, the way a person says it."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    parts.append(f"{secs} s" if secs else "")
    return " ".join(part for part in parts if part) or "0 s"


def clock_text(seconds: float) -> str:
    """Time left as a countdown shows it: whole seconds rounded up, "9:05" or "1:02:03"."""
    left = max(math.ceil(seconds), 0)
    hours, rest = divmod(left, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def review_summary(policy: ReviewPolicy) -> str:
    shown = [label for part, label in REVIEW_PARTS.items() if getattr(policy, part)]
    return ", ".join(shown) or "Nothing"


# --- student pages ------------------------------------------------------------------------


@get("/exams", name="exams")
async def exams_page(
    request: Request[Any, Any, Any], db: DbSession, platform: Runtime, optional_actor: MaybeActor
) -> Response[Any]:
    actor = optional_actor
    if actor is None:
        return refuse(actor, request_target(request))
    exams = await service.available_exams(db, platform, actor)
    return render(
        "exams/list.html", actor, exams=exams, now=platform.clock.now(), duration=duration_text
    )


async def _lobby(
    db: DbSession,
    platform: Runtime,
    actor: Actor,
    exam_id: uuid.UUID,
    status_code: int = 200,
    **context: Any,
) -> Template:
    exam = await service.exam_detail(db, actor, exam_id)
    attempts = await service.my_attempts(db, platform, actor, exam_id)
    to_buy = await products_to_buy(db, platform, actor, exam_id=exam.id, product_id=exam.product_id)
    return render(
        "exams/lobby.html",
        actor,
        status_code=status_code,
        exam=exam,
        attempts=attempts,
        instructions=to_html(exam.instructions, "plain") if exam.instructions.strip() else "",
        blocked=BLOCKED_MESSAGES.get(attempts.blocked_by or ""),
        to_buy=to_buy,
        attempt_policy=ATTEMPT_POLICIES.get(exam.attempt_policy, exam.attempt_policy),
        duration=duration_text,
        **context,
    )


@get("/exams/{exam_id:uuid}", name="exam_lobby")
async def exam_lobby(
    request: Request[Any, Any, Any],
    exam_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    actor = optional_actor
    if actor is None:
        return refuse(actor, request_target(request))
    try:
        return await _lobby(db, platform, actor, exam_id)
    except NotFound as error:
        return not_found(actor, error.detail)


@post("/exams/{exam_id:uuid}/start")
async def exam_start(
    exam_id: FromPath[uuid.UUID], db: DbSession, platform: Runtime, optional_actor: MaybeActor
) -> Response[Any]:
    """Start (or get back to) an attempt; a refusal re-renders the lobby with the reason."""
    actor = optional_actor
    if actor is None:
        return refuse(actor, f"/exams/{exam_id}")
    try:
        started, _ = await service.start_session(db, platform, actor, exam_id)
    except NotFound as error:
        return not_found(actor, error.detail)
    except PaymentRequired as needed:
        return buy_prompt(actor, needed, f"/exams/{exam_id}")
    except DomainError as error:
        await db.rollback()
        return await _lobby(db, platform, actor, exam_id, error.status, error=error.detail)
    return Redirect(f"/sessions/{started.session_id}", status_code=303)


@dataclass(frozen=True)
class ShownQuestion:
    """A question of a session with the student's saved answer, ready for a template."""

    number: int | None  # None: a description, which takes no answer
    question: StudentQuestion
    answer: Any

    @property
    def answered(self) -> bool:
        return self.answer is not None and self.answer not in ("", [])

    @property
    def chosen(self) -> set[int]:
        """Option ids picked (single or multiple choice)."""
        if isinstance(self.answer, int) and not isinstance(self.answer, bool):
            return {self.answer}
        if isinstance(self.answer, list):
            return {item for item in self.answer if isinstance(item, int)}
        return set()

    @property
    def text(self) -> str:
        if isinstance(self.answer, bool) or self.answer is None:
            return ""
        return self.answer if isinstance(self.answer, str) else str(self.answer)

    @property
    def matches(self) -> dict[int, int]:
        """Prompt id to the answer id picked for it."""
        if not isinstance(self.answer, list):
            return {}
        return {
            pair[0]: pair[1]
            for pair in self.answer
            if isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, int) for p in pair)
        }

    @property
    def items(self) -> list[Option]:
        """Ordering items in the student's saved order (as shown, until they answer)."""
        by_id = {item.id: item for item in self.question.items}
        if isinstance(self.answer, list) and sorted(self.answer) == sorted(by_id):
            return [by_id[item] for item in self.answer]
        return list(self.question.items)


def _shown(session: SessionOut) -> list[ShownQuestion]:
    answers: dict[uuid.UUID, AnswerOut] = {answer.question_id: answer for answer in session.answers}
    shown = []
    number = 0
    for question in session.questions:
        if question.kind != "description":
            number += 1
        saved = answers.get(question.id)
        shown.append(
            ShownQuestion(
                number=None if question.kind == "description" else number,
                question=question,
                answer=saved.choice if saved is not None else None,
            )
        )
    return shown


@get("/sessions/{session_id:uuid}", name="exam_session")
async def exam_session_page(
    request: Request[Any, Any, Any],
    session_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    actor = optional_actor
    if actor is None:
        return refuse(actor, request_target(request))
    try:
        session = await service.session_view(db, platform, actor, session_id)
        exam = await service.exam_detail(db, actor, session.exam_id)
    except NotFound as error:
        return not_found(actor, error.detail)
    if session.status not in OPEN:
        return Redirect(f"/sessions/{session_id}/result", status_code=303)
    questions = _shown(session)
    return render(
        "exams/session.html",
        actor,
        session=session,
        exam=exam,
        questions=questions,
        answerable=sum(1 for q in questions if q.number is not None),
        clock=clock_text(session.remaining_seconds),
        can_pause=exam.pause_budget_seconds is not None,
    )


@get("/sessions/{session_id:uuid}/result", name="exam_result")
async def exam_result_page(
    request: Request[Any, Any, Any],
    session_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    actor = optional_actor
    if actor is None:
        return refuse(actor, request_target(request))
    try:
        session = await service.session_view(db, platform, actor, session_id)
        exam = await service.exam_detail(db, actor, session.exam_id)
        if session.status in OPEN:
            return Redirect(f"/sessions/{session_id}", status_code=303)
        result: ResultOut = await service.result(db, platform, actor, session_id)
    except NotFound as error:
        return not_found(actor, error.detail)
    shown = {q.question.id: q for q in _shown(session)}
    rows = [(shown[entry.question_id], entry) for entry in result.breakdown]
    return render(
        "exams/result.html",
        actor,
        exam=exam,
        session=session,
        result=result,
        rows=rows,
    )


# --- teacher pages ------------------------------------------------------------------------


@dataclass
class DrawRow:
    bank: str = ""
    count: str = ""
    category: str = ""
    tags: str = ""

    @property
    def blank(self) -> bool:
        return not (self.count.strip() or self.category.strip() or self.tags.strip())


def _default_review(after: str) -> set[str]:
    policy = ExamIn(title="x", duration_seconds=1)
    chosen = policy.review_after_submit if after == "submit" else policy.review_after_close
    return {part for part in REVIEW_PARTS if getattr(chosen, part)}


@dataclass
class ExamForm:
    """The setup form's inputs as text, exactly as typed."""

    title: str = ""
    instructions: str = ""
    duration_minutes: str = "60"
    source: str = "pick"
    questions: list[str] = field(default_factory=list)
    points: dict[str, str] = field(default_factory=dict)
    draw: list[DrawRow] = field(default_factory=list)
    opens_at: str = ""
    closes_at: str = ""
    opens_at_utc: str = ""
    closes_at_utc: str = ""
    attempts: str = "1"
    attempt_policy: str = "highest"
    shuffle_questions: bool = True
    shuffle_options: bool = True
    on_expiry: str = "submit"
    grace_minutes: str = "0"
    allow_pause: bool = False
    pause_minutes: str = "10"
    review_submit: set[str] = field(default_factory=lambda: _default_review("submit"))
    review_close: set[str] = field(default_factory=lambda: _default_review("close"))
    cohort: str = ""

    @property
    def draw_rows(self) -> list[DrawRow]:
        """The filled rules plus blank ones to type into (no JavaScript needed)."""
        filled = [row for row in self.draw if not row.blank]
        return filled + [DrawRow() for _ in range(max(1, DRAW_ROWS - len(filled)))]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def exam_form_from_post(posted: Any) -> ExamForm:
    """Read the posted form (a multi-dict) into the setup form's text fields."""

    def one(name: str, default: str = "") -> str:
        return _text(posted.get(name, default))

    def column(name: str) -> list[str]:
        return [_text(value) for value in posted.getall(name, [])]

    chosen = [value for value in column("question") if value]
    banks, counts = column("draw_bank"), column("draw_count")
    categories, tags = column("draw_category"), column("draw_tags")
    rows = [
        DrawRow(
            bank=banks[i] if i < len(banks) else "",
            count=count,
            category=categories[i] if i < len(categories) else "",
            tags=tags[i] if i < len(tags) else "",
        )
        for i, count in enumerate(counts[:50])
    ]
    return ExamForm(
        title=one("title"),
        instructions=one("instructions"),
        duration_minutes=one("duration_minutes"),
        source=one("source", "pick"),
        questions=chosen,
        points={qid: one(f"points_{qid}") for qid in chosen},
        draw=rows,
        opens_at=one("opens_at"),
        closes_at=one("closes_at"),
        opens_at_utc=one("opens_at_utc"),
        closes_at_utc=one("closes_at_utc"),
        attempts=one("attempts"),
        attempt_policy=one("attempt_policy"),
        shuffle_questions="shuffle_questions" in posted,
        shuffle_options="shuffle_options" in posted,
        on_expiry=one("on_expiry"),
        grace_minutes=one("grace_minutes"),
        allow_pause="allow_pause" in posted,
        pause_minutes=one("pause_minutes"),
        review_submit={part for part in REVIEW_PARTS if f"review_submit_{part}" in posted},
        review_close={part for part in REVIEW_PARTS if f"review_close_{part}" in posted},
        cohort=one("cohort"),
    )


def _number(text: str, field_id: str, what: str, *, low: float, high: float) -> float:
    cleaned = text.strip().replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        raise FormProblem(field_id, f"{what} must be a number (got “{text.strip()}”)") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise FormProblem(field_id, f"{what} must be between {low:g} and {high:g}")
    return value


def _minutes(text: str, field_id: str, what: str, *, low: float, high: float) -> int:
    return round(_number(text, field_id, what, low=low, high=high) * 60)


def _moment(typed: str, utc: str, field_id: str, what: str) -> datetime | None:
    """A ``datetime-local`` value: exam.js sends it as UTC too; without it, read as UTC."""
    for value in (utc.strip(), typed.strip()):
        if not value:
            continue
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            continue
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if typed.strip():
        raise FormProblem(field_id, f"{what} is not a date and time")
    return None


def _uuid(text: str, field_id: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise FormProblem(field_id, f"{what} is not one of the listed choices") from None


def _draw_rules(form: ExamForm) -> list[dict[str, Any]]:
    rules = []
    for n, row in enumerate((row for row in form.draw if not row.blank), start=1):
        count = _number(row.count or "0", "draw", f"The count of rule {n}", low=1, high=500)
        rule: dict[str, Any] = {
            "bankId": str(_uuid(row.bank, "draw", f"The bank of rule {n}")),
            "count": int(count),
        }
        if row.category.strip():
            rule["category"] = row.category.strip()
        rule["tags"] = [tag.strip() for tag in row.tags.split(",") if tag.strip()]
        rules.append(rule)
    if not rules:
        raise FormProblem("draw", "Add a rule: how many questions to draw from which bank")
    return rules


def exam_from_form(form: ExamForm) -> ExamIn:
    """The ExamIn the API would accept, or a FormProblem naming the input at fault."""
    title = form.title.strip()
    if not title:
        raise FormProblem("title", "Give the exam a title")
    if len(title) > 200:
        raise FormProblem("title", "The title has at most 200 characters")
    body: dict[str, Any] = {
        "title": title,
        "instructions": form.instructions,
        "durationSeconds": max(
            _minutes(form.duration_minutes, "duration", "The duration", low=0.05, high=10080), 1
        ),
        "attemptsAllowed": int(
            _number(form.attempts, "attempts", "Attempts allowed", low=1, high=100)
        ),
        "attemptPolicy": form.attempt_policy,
        "shuffleQuestions": form.shuffle_questions,
        "shuffleOptions": form.shuffle_options,
        "onExpiry": form.on_expiry,
        "reviewAfterSubmit": {_camel(part): part in form.review_submit for part in REVIEW_PARTS},
        "reviewAfterClose": {_camel(part): part in form.review_close for part in REVIEW_PARTS},
    }
    if form.source == "draw":
        body["draw"] = _draw_rules(form)
    else:
        if not form.questions:
            raise FormProblem("questions", "Pick at least one question")
        body["questions"] = [_picked(form, n, qid) for n, qid in enumerate(form.questions, 1)]
    if form.on_expiry == "grace":
        body["graceSeconds"] = _minutes(
            form.grace_minutes, "grace", "The grace period", low=0, high=60
        )
    if form.allow_pause:
        body["pauseBudgetSeconds"] = _minutes(
            form.pause_minutes, "pause", "The pause budget", low=0, high=10080
        )
    opens = _moment(form.opens_at, form.opens_at_utc, "opens_at", "The opening time")
    closes = _moment(form.closes_at, form.closes_at_utc, "closes_at", "The closing time")
    if opens is not None:
        body["opensAt"] = opens.isoformat()
    if closes is not None:
        body["closesAt"] = closes.isoformat()
    if opens is not None and closes is not None and closes <= opens:
        raise FormProblem("closes_at", "The exam must close after it opens")
    if form.cohort:
        body["cohortId"] = str(_uuid(form.cohort, "cohort", "The class"))
    try:  # the same validation the API's JSON body gets
        return msgspec.convert(body, ExamIn)
    except msgspec.ValidationError as exc:
        raise FormProblem("title", f"The exam is not valid: {exc}") from None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _picked(form: ExamForm, n: int, question_id: str) -> dict[str, Any]:
    picked: dict[str, Any] = {"questionId": str(_uuid(question_id, "questions", "A question"))}
    points = form.points.get(question_id, "").strip()
    if points:
        picked["points"] = _number(
            points, "questions", f"The points of question {n}", low=0, high=1000
        )
    return picked


@dataclass(frozen=True)
class PickableQuestion:
    id: str
    label: str
    kind_label: str
    points: float


@dataclass(frozen=True)
class PickableBank:
    id: str
    name: str
    questions: list[PickableQuestion]
    more: bool


async def _pickable(db: DbSession, actor: Actor) -> list[PickableBank]:
    banks = []
    for bank in await question_service.list_banks(db, actor):
        questions = await question_service.list_questions(db, actor, bank.id, limit=PICK_LIMIT + 1)
        banks.append(
            PickableBank(
                id=str(bank.id),
                name=bank.name,
                questions=[
                    PickableQuestion(
                        id=str(q.id),
                        label=q.title or first_words(q.content.text, 80) or "(no text)",
                        kind_label=KIND_LABELS.get(q.kind, q.kind),
                        points=q.points,
                    )
                    for q in questions[:PICK_LIMIT]
                ],
                more=len(questions) > PICK_LIMIT,
            )
        )
    return banks


async def _teach_page(
    db: DbSession,
    actor: Actor,
    form: ExamForm,
    status_code: int = 200,
    **context: Any,
) -> Template:
    return render(
        "exams/teach_list.html",
        actor,
        status_code=status_code,
        exams=await service.list_exams(db, actor),
        form=form,
        banks=await _pickable(db, actor),
        cohorts=await identity_service.list_cohorts(db, actor),
        attempt_policies=ATTEMPT_POLICIES,
        expiry_policies=EXPIRY_POLICIES,
        review_parts=REVIEW_PARTS,
        duration=duration_text,
        **context,
    )


@get("/teach/exams", name="teach_exams")
async def teach_exams(
    request: Request[Any, Any, Any], db: DbSession, optional_actor: MaybeActor
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    return await _teach_page(db, actor, ExamForm())


def _service_field(error: DomainError, form: ExamForm) -> str:
    detail = error.detail.lower()
    if "close" in detail:
        return "closes_at"
    if "cohort" in detail:
        return "cohort"
    return "draw" if form.source == "draw" else "questions"


@post("/teach/exams")
async def teach_exams_create(
    request: Request[Any, Any, Any], db: DbSession, platform: Runtime, optional_actor: MaybeActor
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, "/teach/exams")
    form = exam_form_from_post(await request.form())
    try:
        created = await service.create_exam(db, platform, actor, exam_from_form(form))
    except FormProblem as problem:
        return await _teach_page(
            db, actor, form, 422, error=problem.message, error_field=problem.field
        )
    except DomainError as error:
        await db.rollback()
        return await _teach_page(
            db,
            actor,
            form,
            error.status,
            error=error.detail,
            error_field=_service_field(error, form),
        )
    return Redirect(f"/teach/exams/{created.id}", status_code=303)


@dataclass
class OverrideForm:
    email: str = ""
    extra_minutes: str = "0"
    closes_at: str = ""
    closes_at_utc: str = ""


async def _teach_exam_page(
    db: DbSession,
    actor: Actor,
    exam_id: uuid.UUID,
    form: OverrideForm,
    status_code: int = 200,
    **context: Any,
) -> Response[Any]:
    """The exam with its accommodations; the 404 page unless this teacher manages it."""
    try:
        overrides = await service.list_overrides(db, actor, exam_id)
        exam = await service.exam_detail(db, actor, exam_id)
    except NotFound as error:
        return not_found(actor, error.detail)
    return render(
        "exams/teach_exam.html",
        actor,
        status_code=status_code,
        exam=exam,
        overrides=overrides,
        form=form,
        instructions=to_html(exam.instructions, "plain") if exam.instructions.strip() else "",
        attempt_policy=ATTEMPT_POLICIES.get(exam.attempt_policy, exam.attempt_policy),
        expiry_policy=EXPIRY_POLICIES.get(exam.on_expiry, exam.on_expiry),
        review_summary=review_summary,
        duration=duration_text,
        **context,
    )


@get("/teach/exams/{exam_id:uuid}", name="teach_exam")
async def teach_exam(
    request: Request[Any, Any, Any],
    exam_id: FromPath[uuid.UUID],
    db: DbSession,
    optional_actor: MaybeActor,
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    return await _teach_exam_page(db, actor, exam_id, OverrideForm())


def override_from_form(form: OverrideForm) -> OverrideIn:
    if not form.email.strip():
        raise FormProblem("email", "Give the student's email address")
    extra = _minutes(form.extra_minutes or "0", "extra", "Extra time", low=0, high=10080)
    closes = _moment(form.closes_at, form.closes_at_utc, "override_closes_at", "The closing time")
    return OverrideIn(extra_seconds=extra, closes_at=closes)


@post("/teach/exams/{exam_id:uuid}/overrides")
async def teach_exam_override(
    request: Request[Any, Any, Any],
    exam_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, f"/teach/exams/{exam_id}")
    posted = await request.form()
    form = OverrideForm(
        email=_text(posted.get("email", "")),
        extra_minutes=_text(posted.get("extra_minutes", "")),
        closes_at=_text(posted.get("closes_at", "")),
        closes_at_utc=_text(posted.get("closes_at_utc", "")),
    )
    try:
        saved = await service.set_override_by_email(
            db, platform, actor, exam_id, form.email, override_from_form(form)
        )
    except FormProblem as problem:
        return await _teach_exam_page(
            db, actor, exam_id, form, 422, error=problem.message, error_field=problem.field
        )
    except DomainError as error:
        await db.rollback()
        return await _teach_exam_page(
            db, actor, exam_id, form, error.status, error=error.detail, error_field="email"
        )
    notice = f"Saved the accommodation for {saved.user_name or saved.user_email}."
    return await _teach_exam_page(db, actor, exam_id, OverrideForm(), notice=notice)


ROUTES = [
    exams_page,
    exam_lobby,
    exam_start,
    exam_session_page,
    exam_result_page,
    teach_exams,
    teach_exams_create,
    teach_exam,
    teach_exam_override,
]
