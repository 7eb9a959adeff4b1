"""Exam rules: definitions, starting and resuming sessions, pausing, submitting, results.

The server's clock is the only clock: ``ends_at`` is fixed at start (duration plus any
override, never past the close), remaining time is always computed here, and expiry
is enforced by the database checks in ``repository`` and by a job queued at start that
submits the session when its time is up, whether or not its student is still there.

Submitting is exactly-once by construction: one conditional UPDATE moves the session
out of ACTIVE/PAUSED and only its winner scores, inserting the single result row in
the same transaction; every other submitter reads that row and answers the same.
"""

from __future__ import annotations

import math
import random
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from studyhall.exams import repository
from studyhall.exams.answers import (
    TimeExpired,
    forget_snapshot,
    remember_snapshot,
)
from studyhall.exams.models import Exam, ExamOverride, ExamQuestion, ExamResult, ExamSession
from studyhall.exams.schemas import (
    AnswerOut,
    AttemptOut,
    AttemptsOut,
    BreakdownOut,
    ExamIn,
    ExamOut,
    OverrideIn,
    OverrideOut,
    ResultOut,
    ReviewPolicy,
    SessionOut,
    StartBlocker,
    SubmitOut,
)
from studyhall.identity import repository as identity_repository
from studyhall.identity.models import User
from studyhall.identity.service import (
    cohort_members_among,
    is_cohort_member,
    list_cohorts,
    normalize_email,
)
from studyhall.leaderboards import boards as leaderboards
from studyhall.leaderboards import standings
from studyhall.payments.access import products_to_buy, require_access
from studyhall.platform.auth import Actor, ensure_owner_or_admin, require_staff
from studyhall.platform.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
from studyhall.platform.ids import new_id, parse_id
from studyhall.platform.jobs import NewJob
from studyhall.platform.runtime import Platform
from studyhall.questions import files
from studyhall.questions import repository as question_repository
from studyhall.questions.draw import DrawnQuestion, DrawRule, check_rules, draw
from studyhall.questions.frozen import FrozenVersion, frozen_versions, frozen_view
from studyhall.questions.render import Option, StudentQuestion, to_html
from studyhall.questions.review import explanation_html, right_answer_html
from studyhall.questions.scoring import Score, score
from studyhall.questions.service import bank_for, mark_seen

EXPIRE_JOB = "exams.expire_session"
AVAILABLE_LIMIT = 200
AUTO_RESUME_JOB = "exams.auto_resume"


class ExamNotOpen(Conflict):
    code = "exam_not_open"
    title = "The exam is not open"


class NoAttemptsLeft(Conflict):
    code = "no_attempts_left"
    title = "Every attempt allowed has been used"


class NotInCohort(Forbidden):
    code = "not_in_cohort"
    title = "This exam is for another cohort"


class PauseNotAllowed(Conflict):
    code = "pause_not_allowed"
    title = "This session cannot be paused"


class NotPaused(Conflict):
    code = "not_paused"
    title = "The session is not paused"


class ResultNotReady(Conflict):
    code = "result_not_ready"
    title = "The session has not been submitted"


# --- definitions ---------------------------------------------------------------------


def _exam_out(exam: Exam, question_count: int) -> ExamOut:
    return ExamOut(
        id=exam.id,
        owner_id=exam.owner_id,
        title=exam.title,
        instructions=exam.instructions,
        duration_seconds=exam.duration_seconds,
        question_count=question_count,
        opens_at=exam.opens_at,
        closes_at=exam.closes_at,
        attempts_allowed=exam.attempts_allowed,
        attempt_policy=exam.attempt_policy,
        shuffle_questions=exam.shuffle_questions,
        shuffle_options=exam.shuffle_options,
        on_expiry=exam.on_expiry,
        grace_seconds=exam.grace_seconds,
        pause_budget_seconds=exam.pause_budget_seconds,
        review_after_submit=msgspec.convert(exam.review_after_submit, ReviewPolicy),
        review_after_close=msgspec.convert(exam.review_after_close, ReviewPolicy),
        cohort_id=exam.cohort_id,
        product_id=exam.product_id,
        created_at=exam.created_at,
    )


def _question_count(exam: Exam, fixed: Sequence[ExamQuestion]) -> int:
    if exam.draw_rules is None:
        return len(fixed)
    return sum(int(rule["count"]) for rule in exam.draw_rules)


def _fixed_list(data: ExamIn) -> list[tuple[uuid.UUID, float | None]]:
    given = [data.question_ids is not None, data.questions is not None, data.draw is not None]
    if sum(given) != 1:
        raise InvalidInput("Give exactly one of questionIds, questions or draw")
    if data.question_ids is not None:
        return [(question_id, None) for question_id in data.question_ids]
    if data.questions is not None:
        return [(item.question_id, item.points) for item in data.questions]
    return []


async def create_exam(
    session: AsyncSession, platform: Platform, actor: Actor, data: ExamIn
) -> ExamOut:
    """A teacher's exam over questions of banks they may use."""
    require_staff(actor)
    fixed = _fixed_list(data)
    if data.draw is None and not fixed:
        raise InvalidInput("An exam needs at least one question")
    if len({question_id for question_id, _ in fixed}) != len(fixed):
        raise InvalidInput("A question appears twice in the exam")
    if data.opens_at and data.closes_at and data.closes_at <= data.opens_at:
        raise InvalidInput("The exam must close after it opens")
    for question_id, _ in fixed:
        found = await question_repository.question_with_version(session, question_id)
        if found is None:
            raise NotFound(f"No such question {question_id}")
        await bank_for(session, actor, found[0].bank_id)
    if data.draw is not None:
        await check_rules(session, actor, data.draw)
    if data.cohort_id is not None and not await _cohort_exists(session, data.cohort_id):
        raise NotFound("No such cohort")
    now = platform.clock.now()
    exam = Exam(
        id=new_id(),
        owner_id=actor.user_id,
        title=data.title.strip() or "Untitled exam",
        instructions=data.instructions,
        duration_seconds=data.duration_seconds,
        opens_at=data.opens_at,
        closes_at=data.closes_at,
        attempts_allowed=data.attempts_allowed,
        attempt_policy=data.attempt_policy,
        shuffle_questions=data.shuffle_questions,
        shuffle_options=data.shuffle_options,
        on_expiry=data.on_expiry,
        grace_seconds=data.grace_seconds if data.on_expiry == "grace" else 0,
        pause_budget_seconds=data.pause_budget_seconds,
        review_after_submit=msgspec.to_builtins(data.review_after_submit),
        review_after_close=msgspec.to_builtins(data.review_after_close),
        draw_rules=msgspec.to_builtins(data.draw) if data.draw is not None else None,
        cohort_id=data.cohort_id,
        product_id=data.product_id,
        created_at=now,
        updated_at=now,
    )
    questions = [
        ExamQuestion(exam_id=exam.id, position=position, question_id=question_id, points=points)
        for position, (question_id, points) in enumerate(fixed, start=1)
    ]
    await repository.add(session, exam)
    await repository.add(session, *questions)
    return _exam_out(exam, _question_count(exam, questions))


async def _cohort_exists(session: AsyncSession, cohort_id: uuid.UUID) -> bool:
    return await identity_repository.cohort_by_id(session, cohort_id) is not None


async def _exam(session: AsyncSession, exam_id: uuid.UUID) -> Exam:
    exam = await repository.exam_by_id(session, exam_id)
    if exam is None:
        raise NotFound("No such exam")
    return exam


async def exam_detail(session: AsyncSession, actor: Actor, exam_id: uuid.UUID) -> ExamOut:
    """The exam's rules (never its questions' keys) for its lobby or its teacher."""
    exam = await _exam(session, exam_id)
    return _exam_out(exam, _question_count(exam, await repository.exam_questions(session, exam.id)))


async def _exam_outs(session: AsyncSession, exams: Sequence[Exam]) -> list[ExamOut]:
    return [
        _exam_out(exam, _question_count(exam, await repository.exam_questions(session, exam.id)))
        for exam in exams
    ]


async def list_exams(session: AsyncSession, actor: Actor) -> list[ExamOut]:
    require_staff(actor)
    exams = await repository.exams_owned_by(session, None if actor.is_admin else actor.user_id)
    return await _exam_outs(session, exams)


async def available_exams(session: AsyncSession, platform: Platform, actor: Actor) -> list[ExamOut]:
    """Exams open now or later that this user may take: a student sees only the cohort
    exams of cohorts they belong to (staff may start any exam)."""
    exams = await repository.exams_not_closed(session, platform.clock.now(), AVAILABLE_LIMIT)
    if not actor.is_staff:
        mine = {cohort.id for cohort in await list_cohorts(session, actor)}
        exams = [exam for exam in exams if exam.cohort_id is None or exam.cohort_id in mine]
    return await _exam_outs(session, exams)


async def _owned_exam(session: AsyncSession, actor: Actor, exam_id: uuid.UUID) -> Exam:
    """An exam its teacher (or an admin) manages; anyone else's is missing."""
    exam = await _exam(session, exam_id)
    require_staff(actor)
    ensure_owner_or_admin(actor, exam.owner_id, what="exam")
    return exam


def _override_out(override: ExamOverride, user: User) -> OverrideOut:
    return OverrideOut(
        exam_id=override.exam_id,
        user_id=override.user_id,
        extra_seconds=override.extra_seconds,
        closes_at=override.closes_at,
        user_name=user.name,
        user_email=user.email,
    )


async def list_overrides(
    session: AsyncSession, actor: Actor, exam_id: uuid.UUID
) -> list[OverrideOut]:
    exam = await _owned_exam(session, actor, exam_id)
    return [_override_out(o, user) for o, user in await repository.overrides_of(session, exam.id)]


async def set_override(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    exam_id: uuid.UUID,
    user_id: uuid.UUID,
    data: OverrideIn,
) -> OverrideOut:
    """Accommodations apply to sessions started afterwards."""
    exam = await _owned_exam(session, actor, exam_id)
    user = await identity_repository.user_by_id(session, user_id)
    if user is None:
        raise NotFound("No such user")
    override = await repository.override_for(session, exam.id, user_id)
    now = platform.clock.now()
    if override is None:
        override = ExamOverride(exam_id=exam.id, user_id=user_id, updated_at=now)
        session.add(override)
    override.extra_seconds = data.extra_seconds
    override.closes_at = data.closes_at
    override.updated_at = now
    await session.flush()
    return _override_out(override, user)


async def set_override_by_email(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    exam_id: uuid.UUID,
    email: str,
    data: OverrideIn,
) -> OverrideOut:
    """The teacher's form names the student by email address."""
    await _owned_exam(session, actor, exam_id)  # before the lookup: no probing of accounts
    user = await identity_repository.user_by_email(session, normalize_email(email))
    if user is None:
        raise NotFound(f"No account uses {email.strip()}")
    return await set_override(session, platform, actor, exam_id, user.id, data)


# --- sessions ------------------------------------------------------------------------


def _remaining(exam_session: ExamSession, now: datetime) -> float:
    if exam_session.status == "PAUSED" and exam_session.paused_at is not None:
        return max((exam_session.ends_at - exam_session.paused_at).total_seconds(), 0.0)
    if exam_session.status != "ACTIVE":
        return 0.0
    return max((exam_session.ends_at - now).total_seconds(), 0.0)


def _shown(
    frozen: FrozenVersion, item: dict[str, Any], file_urls: dict[str, str]
) -> StudentQuestion:
    """The question as this session shows it: options in the session's order."""
    view = frozen_view(frozen, float(item["points"]), file_urls)
    order = item.get("optionOrder")
    if not order:
        return view
    by_id = {option.id: option for option in view.choices}
    choices: list[Option] = [by_id[index] for index in order if index in by_id]
    return msgspec.structs.replace(view, choices=choices)


def _session_view(
    platform: Platform,
    exam_session: ExamSession,
    shown: list[FrozenVersion],
    urls: dict[uuid.UUID, dict[str, str]],
    answers: Sequence[AnswerOut],
) -> SessionOut:
    """``shown``: the version of each of the session's questions, in its order."""
    question_ids = [frozen.question_id for frozen in shown]
    now = platform.clock.now()
    return SessionOut(
        session_id=exam_session.id,
        exam_id=exam_session.exam_id,
        attempt=exam_session.attempt,
        status=exam_session.status,  # type: ignore[arg-type]
        started_at=exam_session.started_at,
        ends_at=exam_session.ends_at,
        submit_by=exam_session.submit_by,
        remaining_seconds=round(_remaining(exam_session, now), 3),
        server_time=now,
        question_order=question_ids,
        questions=[
            _shown(frozen, item, urls.get(frozen.question_id, {}))
            for frozen, item in zip(shown, exam_session.questions, strict=True)
        ],
        answers=list(answers),
    )


async def _session_out(
    session: AsyncSession, platform: Platform, exam_session: ExamSession
) -> SessionOut:
    """The session as its student sees it, answers so far included."""
    version_ids = [parse_id(item["versionId"]) for item in exam_session.questions]
    versions = await frozen_versions(session, version_ids)
    shown = [versions[version_id] for version_id in version_ids]
    urls = await files.file_urls(session, platform, [frozen.question_id for frozen in shown])
    latest: dict[uuid.UUID, AnswerOut] = {}
    for row in await repository.journal(session, exam_session.id):
        latest[row.question_id] = AnswerOut(row.question_id, row.response, row.received_at)
    return _session_view(platform, exam_session, shown, urls, list(latest.values()))


async def _owned_session(
    session: AsyncSession, actor: Actor, session_id: uuid.UUID, *, refresh: bool = False
) -> ExamSession:
    """A student's own session; anyone else is told it does not exist."""
    exam_session = await repository.session_by_id(session, session_id, refresh=refresh)
    if exam_session is None or exam_session.user_id != actor.user_id:
        raise NotFound("No such session")
    return exam_session


async def _frozen_questions(
    session: AsyncSession, exam: Exam, seed: int
) -> list[tuple[DrawnQuestion, float | None]]:
    if exam.draw_rules is not None:
        rules = [msgspec.convert(rule, DrawRule) for rule in exam.draw_rules]
        return [(drawn, None) for drawn in await draw(session, rules, seed=seed)]
    items = await repository.exam_question_points(session, exam.id)
    current = await question_repository.current_version_ids(
        session, [question_id for question_id, _ in items]
    )
    return [
        (DrawnQuestion(question_id, *current[question_id]), points)
        for question_id, points in items
        if question_id in current
    ]


Paper = tuple[list[dict[str, Any]], list[FrozenVersion]]
"""What one session shows (versions, points, question and option order), and the version
of each of its questions in that order, for the caller to show them."""


async def _build_papers(session: AsyncSession, exam: Exam, seeds: Sequence[int]) -> list[Paper]:
    """Freeze what each new session shows, one per seed. A fixed list is read once for
    all of them; draw rules draw per seed."""
    fixed = None if exam.draw_rules is not None else await _frozen_questions(session, exam, 0)
    chosen_per_seed = [
        list(fixed) if fixed is not None else await _frozen_questions(session, exam, seed)
        for seed in seeds
    ]
    if not all(chosen_per_seed):
        raise ExamNotOpen("The exam has no questions left")
    rngs = [random.Random(seed) for seed in seeds]
    if exam.shuffle_questions:
        for rng, chosen in zip(rngs, chosen_per_seed, strict=True):
            rng.shuffle(chosen)
    # Mark first, then read: an in-place edit either committed before the mark (whose row
    # lock it waits on) and is read here, or waits and then makes a new version.
    version_ids = list({drawn.version_id for chosen in chosen_per_seed for drawn, _ in chosen})
    await mark_seen(session, version_ids)
    versions = await frozen_versions(session, version_ids)
    papers = []
    for rng, chosen in zip(rngs, chosen_per_seed, strict=True):
        items = []
        shown = []
        for drawn, points in chosen:
            frozen = versions[drawn.version_id]
            order = list(range(len(frozen.content.choices)))
            if exam.shuffle_options and frozen.content.kind in ("single", "multiple"):
                rng.shuffle(order)
            items.append(
                {
                    "questionId": str(drawn.question_id),
                    "versionId": str(drawn.version_id),
                    "version": drawn.version,
                    "points": frozen.points if points is None else points,
                    "optionOrder": order,
                }
            )
            shown.append(frozen)
        papers.append((items, shown))
    return papers


def _window(exam: Exam, override: ExamOverride | None, now: datetime) -> tuple[datetime, datetime]:
    """``ends_at`` and ``submit_by`` for a session starting now."""
    if exam.opens_at is not None and now < exam.opens_at:
        raise ExamNotOpen(f"The exam opens at {exam.opens_at.isoformat()}")
    closes_at = override.closes_at if override and override.closes_at else exam.closes_at
    if closes_at is not None and now >= closes_at:
        raise ExamNotOpen("The exam has closed")
    extra = override.extra_seconds if override else 0
    ends_at = now + timedelta(seconds=exam.duration_seconds + extra)
    if closes_at is not None:
        ends_at = min(ends_at, closes_at)
    return ends_at, ends_at + timedelta(seconds=exam.grace_seconds)


async def _schedule_expiry(
    session: AsyncSession, platform: Platform, exam_session: ExamSession
) -> None:
    delay = (exam_session.submit_by - platform.clock.now()).total_seconds()
    await platform.enqueue(
        session,
        EXPIRE_JOB,
        {"sessionId": str(exam_session.id)},
        dedupe_key=f"{EXPIRE_JOB}:{exam_session.id}:{exam_session.submit_by.timestamp()}",
        delay_seconds=max(delay, 0.0),
    )


def _new_session(
    exam: Exam, actor: Actor, attempt: int, window: tuple[datetime, datetime], now: datetime
) -> ExamSession:
    ends_at, submit_by = window
    return ExamSession(
        id=new_id(),
        exam_id=exam.id,
        user_id=actor.user_id,
        attempt=attempt,
        status="ACTIVE",
        seed=secrets.randbits(62),
        started_at=now,
        ends_at=ends_at,
        submit_by=submit_by,
        paused_at=None,
        paused_seconds=0,
        questions=[],
    )


async def _gate(session: AsyncSession, platform: Platform, actor: Actor, exam: Exam) -> None:
    """A new attempt of a paid exam needs an entitlement (402 with what to buy); an
    attempt already running stays open to its student."""
    await require_access(session, platform, actor, exam_id=exam.id, product_id=exam.product_id)


def _may_take(exam: Exam, actor: Actor, members: set[uuid.UUID]) -> bool:
    """``members``: the exam's cohort members among those asking (when it has a cohort)."""
    return exam.cohort_id is None or actor.is_staff or actor.user_id in members


async def start_session(
    session: AsyncSession, platform: Platform, actor: Actor, exam_id: uuid.UUID
) -> tuple[SessionOut, bool]:
    """Start an attempt, or return the one still running (False: nothing new started)."""
    exam = await _exam(session, exam_id)
    if exam.cohort_id is not None and not _may_take(
        exam, actor, await cohort_members_among(session, exam.cohort_id, [actor.user_id])
    ):
        raise NotInCohort()
    now = platform.clock.now()
    previous = await repository.sessions_of(session, exam.id, actor.user_id)
    running = next((s for s in previous if s.status in repository.OPEN_STATUSES), None)
    if running is not None and (running.status == "PAUSED" or now <= running.submit_by):
        return await _session_out(session, platform, running), False
    if running is not None:
        await submit_expired(session, platform, running.id)
    await _gate(session, platform, actor, exam)
    if len(previous) >= exam.attempts_allowed:
        raise NoAttemptsLeft(f"{exam.attempts_allowed} attempt(s) allowed")
    window = _window(exam, await repository.override_for(session, exam.id, actor.user_id), now)
    exam_session = _new_session(exam, actor, len(previous) + 1, window, now)
    [(exam_session.questions, shown)] = await _build_papers(session, exam, [exam_session.seed])
    if not await repository.insert_sessions(session, [exam_session]):
        # Another request started this attempt a moment ago: answer with that one.
        for other in await repository.sessions_of(session, exam.id, actor.user_id):
            if other.attempt == exam_session.attempt:
                return await _session_out(session, platform, other), False
        raise ServiceUnavailable("The exam could not be started; retry")
    return (await _opened(session, platform, [(exam_session, shown)]))[0], True


async def _opened(
    session: AsyncSession,
    platform: Platform,
    new_sessions: Sequence[tuple[ExamSession, list[FrozenVersion]]],
) -> list[SessionOut]:
    """What follows the insert of new sessions (each with the versions it shows): their
    expiry jobs, the save path's view of them, and what their students see (nothing
    answered yet)."""
    now = platform.clock.now()
    await platform.enqueue_many(
        session,
        EXPIRE_JOB,
        [
            NewJob(
                {"sessionId": str(started.id)},
                dedupe_key=f"{EXPIRE_JOB}:{started.id}:{started.submit_by.timestamp()}",
                delay_seconds=max((started.submit_by - now).total_seconds(), 0.0),
            )
            for started, _ in new_sessions
        ],
    )
    question_ids = list({frozen.question_id for _, shown in new_sessions for frozen in shown})
    urls = await files.file_urls(session, platform, question_ids)
    views = []
    for started, shown in new_sessions:
        await remember_snapshot(platform, started, shown)
        views.append(_session_view(platform, started, shown, urls, []))
    return views


StartOutcome = SessionOut | DomainError | None
"""A new session; why this student may not start; or None: start alone (see below)."""


async def start_many(
    session: AsyncSession, platform: Platform, exam_id: uuid.UUID, actors: Sequence[Actor]
) -> list[StartOutcome]:
    """First attempts of one exam for many students, in the caller's transaction: the
    exam, its questions, overrides and cohort are read once for all of them.

    A student who has any session of the exam already (or asks twice in this batch, or
    whose insert met a concurrent start) gets None and goes through
    :func:`start_session`, which knows about running sessions and later attempts."""
    outcomes: list[StartOutcome] = [None] * len(actors)
    try:
        exam = await _exam(session, exam_id)
    except DomainError as refused:
        return [refused] * len(actors)
    now = platform.clock.now()
    user_ids = [actor.user_id for actor in actors]
    tried = await repository.users_with_sessions(session, exam.id, user_ids)
    members = (
        set()
        if exam.cohort_id is None
        else await cohort_members_among(session, exam.cohort_id, user_ids)
    )
    overrides = await repository.overrides_among(session, exam.id, user_ids)
    # A free exam (nothing to buy even without an account) needs no check per student.
    paid = bool(
        await products_to_buy(session, platform, None, exam_id=exam.id, product_id=exam.product_id)
    )
    new: dict[int, ExamSession] = {}
    for index, actor in enumerate(actors):
        if actor.user_id in tried:
            continue
        tried.add(actor.user_id)
        if not _may_take(exam, actor, members):
            outcomes[index] = NotInCohort()
            continue
        try:
            if paid:
                await _gate(session, platform, actor, exam)
            window = _window(exam, overrides.get(actor.user_id), now)
        except DomainError as refused:
            outcomes[index] = refused
            continue
        new[index] = _new_session(exam, actor, 1, window, now)
    if not new:
        return outcomes
    try:
        papers = await _build_papers(session, exam, [s.seed for s in new.values()])
    except DomainError as refused:
        return [refused if index in new else outcome for index, outcome in enumerate(outcomes)]
    shown_by_index = {}
    for (index, started), (items, shown) in zip(new.items(), papers, strict=True):
        started.questions = items
        shown_by_index[index] = shown
    inserted = await repository.insert_sessions(session, list(new.values()))
    opened = [index for index, started in new.items() if started.id in inserted]
    views = await _opened(session, platform, [(new[i], shown_by_index[i]) for i in opened])
    for index, view in zip(opened, views, strict=True):
        outcomes[index] = view
    return outcomes


async def session_view(
    session: AsyncSession, platform: Platform, actor: Actor, session_id: uuid.UUID
) -> SessionOut:
    return await _session_out(session, platform, await _owned_session(session, actor, session_id))


def _still_running(exam_session: ExamSession, now: datetime) -> bool:
    """Paused, or active before its submit deadline (an overdue one is as good as submitted)."""
    return exam_session.status == "PAUSED" or (
        exam_session.status == "ACTIVE" and now <= exam_session.submit_by
    )


async def _start_blocker(
    session: AsyncSession,
    actor: Actor,
    exam: Exam,
    override: ExamOverride | None,
    used: int,
    now: datetime,
) -> StartBlocker | None:
    """Why ``start_session`` would refuse a new attempt now, by the same rules."""
    if (
        exam.cohort_id is not None
        and not actor.is_staff
        and not await is_cohort_member(session, exam.cohort_id, actor.user_id)
    ):
        return "not_in_cohort"
    if used >= exam.attempts_allowed:
        return "no_attempts_left"
    try:
        _window(exam, override, now)
    except ExamNotOpen:
        return "not_open" if exam.opens_at is not None and now < exam.opens_at else "closed"
    return None


async def my_attempts(
    session: AsyncSession, platform: Platform, actor: Actor, exam_id: uuid.UUID
) -> AttemptsOut:
    """The lobby's view of one exam for its student: attempts so far, the one still
    running, this student's time and window, and what stops a new attempt."""
    exam = await _exam(session, exam_id)
    now = platform.clock.now()
    previous = await repository.sessions_of(session, exam.id, actor.user_id)
    override = await repository.override_for(session, exam.id, actor.user_id)
    running = next((s for s in previous if _still_running(s, now)), None)
    return AttemptsOut(
        exam_id=exam.id,
        attempts_allowed=exam.attempts_allowed,
        attempts_left=max(exam.attempts_allowed - len(previous), 0),
        open_session_id=running.id if running is not None else None,
        duration_seconds=exam.duration_seconds + (override.extra_seconds if override else 0),
        closes_at=override.closes_at if override and override.closes_at else exam.closes_at,
        blocked_by=(
            None
            if running is not None
            else await _start_blocker(session, actor, exam, override, len(previous), now)
        ),
        attempts=[
            AttemptOut(
                session_id=s.id,
                attempt=s.attempt,
                status=s.status,  # type: ignore[arg-type]
                started_at=s.started_at,
                ends_at=s.ends_at,
                submitted_at=s.submitted_at,
            )
            for s in previous
        ],
    )


async def pause(
    session: AsyncSession, platform: Platform, actor: Actor, session_id: uuid.UUID
) -> SessionOut:
    """Stop the clock, if the exam has a pause budget left; it restarts by itself when the
    budget runs out."""
    exam_session = await _owned_session(session, actor, session_id)
    exam = await _exam(session, exam_session.exam_id)
    now = platform.clock.now()
    budget = exam.pause_budget_seconds
    if exam_session.status == "PAUSED":
        return await _session_out(session, platform, exam_session)
    if exam_session.status != "ACTIVE" or now > exam_session.ends_at:
        raise TimeExpired() if exam_session.status == "ACTIVE" else PauseNotAllowed()
    if budget is None or exam_session.paused_seconds >= budget:
        raise PauseNotAllowed("This exam allows no (more) pausing")
    exam_session.status = "PAUSED"
    exam_session.paused_at = now
    await session.flush()
    await platform.enqueue(
        session,
        AUTO_RESUME_JOB,
        {"sessionId": str(exam_session.id)},
        dedupe_key=f"{AUTO_RESUME_JOB}:{exam_session.id}:{now.timestamp()}",
        delay_seconds=budget - exam_session.paused_seconds,
    )
    await forget_snapshot(platform, exam_session.id)
    return await _session_out(session, platform, exam_session)


async def _restart_clock(
    session: AsyncSession, platform: Platform, exam_session: ExamSession, exam: Exam
) -> None:
    """Credit the pause (within the budget) to the session's deadlines."""
    assert exam_session.paused_at is not None
    now = platform.clock.now()
    left = (exam.pause_budget_seconds or 0) - exam_session.paused_seconds
    credited = max(min(math.ceil((now - exam_session.paused_at).total_seconds()), left), 0)
    exam_session.paused_seconds += credited
    exam_session.ends_at += timedelta(seconds=credited)
    exam_session.submit_by += timedelta(seconds=credited)
    exam_session.status = "ACTIVE"
    exam_session.paused_at = None
    await session.flush()
    await _schedule_expiry(session, platform, exam_session)
    await forget_snapshot(platform, exam_session.id)


async def resume(
    session: AsyncSession, platform: Platform, actor: Actor, session_id: uuid.UUID
) -> SessionOut:
    exam_session = await _owned_session(session, actor, session_id)
    if exam_session.status != "PAUSED":
        raise NotPaused()
    await _restart_clock(
        session, platform, exam_session, await _exam(session, exam_session.exam_id)
    )
    return await _session_out(session, platform, exam_session)


async def auto_resume(session: AsyncSession, platform: Platform, session_id: uuid.UUID) -> None:
    """The pause budget ran out: the clock runs again."""
    exam_session = await repository.session_by_id(session, session_id)
    if exam_session is None or exam_session.status != "PAUSED":
        return
    await _restart_clock(
        session, platform, exam_session, await _exam(session, exam_session.exam_id)
    )


# --- submit and results --------------------------------------------------------------


def _submit_out(exam_session: ExamSession, result: ExamResult | None) -> SubmitOut:
    if result is None:
        return SubmitOut(status=exam_session.status, session_id=exam_session.id)  # type: ignore[arg-type]
    pending = result.pending_grades > 0
    return SubmitOut(
        status="SCORING" if pending else "SCORED",
        session_id=exam_session.id,
        score=None if pending else result.score,
        max_score=None if pending else result.max_score,
        percentage=None if pending else _percentage(result),
    )


def _percentage(result: ExamResult) -> float:
    return round(100 * result.score / result.max_score, 2) if result.max_score else 0.0


Grades = dict[tuple[uuid.UUID, bytes], Score | None]
"""Grades already given in this batch, by version and encoded response: a burst of
submits answers each choice question with a handful of distinct responses."""


def _graded(frozen: FrozenVersion, response: Any, grades: Grades) -> Score | None:
    """``score`` once per (version, response) in a batch; scoring is a pure function of
    the two, and the encoding tells ``true`` from ``1`` and ``1`` from ``1.0``."""
    if response is None:
        return score(frozen.content, None)
    key = (frozen.id, _response_key.encode(response))
    if key not in grades:
        grades[key] = score(frozen.content, response)
    return grades[key]


_response_key = msgspec.json.Encoder()


def _score(
    exam_session: ExamSession,
    versions: list[FrozenVersion],
    latest: dict[uuid.UUID, Any],
    now: datetime,
    grades: Grades,
) -> ExamResult:
    """Score the latest answer to each question (``versions``: theirs, in the session's
    order; ``latest``: the responses by question); essays wait for a person."""
    breakdown = []
    total = 0.0
    maximum = 0.0
    pending = 0
    for item, frozen in zip(exam_session.questions, versions, strict=True):
        if frozen.content.kind == "description":
            continue
        question_id = item["questionId"]
        points = float(item["points"])
        response = latest.get(parse_id(question_id))
        graded = _graded(frozen, response, grades)
        maximum += points
        if graded is None and response is not None:
            pending += 1
            awarded = fraction = correct = feedback = None
        else:
            fraction = graded.fraction if graded else 0.0
            awarded = round(points * fraction, 6)
            total += awarded
            correct = graded.correct if graded else False
            feedback = graded.feedback if graded else None
        breakdown.append(
            {
                "questionId": question_id,
                "points": points,
                "answered": response is not None,
                "response": response,
                "awarded": awarded,
                "fraction": fraction,
                "correct": correct,
                "feedback": feedback,
            }
        )
    return ExamResult(
        session_id=exam_session.id,
        exam_id=exam_session.exam_id,
        user_id=exam_session.user_id,
        score=round(total, 6),
        max_score=round(maximum, 6),
        breakdown=breakdown,
        pending_grades=pending,
        submitted_at=exam_session.submitted_at or now,
        scored_at=now,
    )


async def _session_versions(
    session: AsyncSession, exam_session: ExamSession
) -> list[FrozenVersion]:
    """The frozen version of each of the session's questions, in its order."""
    ids = [parse_id(item["versionId"]) for item in exam_session.questions]
    versions = await frozen_versions(session, ids)
    return [versions[version_id] for version_id in ids]


def _scored_by_rule(versions: list[FrozenVersion]) -> bool:
    """Nothing a person must grade: the submit is final at once, in the closing UPDATE."""
    return all(
        score(frozen.content, None) is not None or frozen.content.kind == "description"
        for frozen in versions
    )


def _closed(exam_session: ExamSession, status: str, now: datetime, by: str) -> None:
    """What the closing UPDATE wrote, without reading the row back (the rest of it cannot
    change any more) and without marking the object dirty (no second UPDATE at flush)."""
    for name, value in (("status", status), ("submitted_at", now), ("submitted_by", by)):
        set_committed_value(exam_session, name, value)


async def _score_closed(
    session: AsyncSession,
    platform: Platform,
    closed: Sequence[tuple[ExamSession, list[FrozenVersion]]],
    now: datetime,
) -> list[ExamResult]:
    """Score sessions this transaction closed (each with its versions, in its order):
    one read of their answers, one INSERT of their results; final ones stand at once."""
    if not closed:
        return []
    answers = await repository.latest_answers_of(session, [s.id for s, _ in closed])
    grades: Grades = {}
    results = [_score(s, versions, answers[s.id], now, grades) for s, versions in closed]
    await repository.insert_results(session, results)
    final = []
    for (exam_session, _), result in zip(closed, results, strict=True):
        if result.pending_grades == 0:
            if exam_session.status != "SCORED":
                await repository.set_status(session, exam_session.id, "SCORED")
                set_committed_value(exam_session, "status", "SCORED")
            final.append(result)
        await forget_snapshot(platform, exam_session.id)
    await results_final(session, platform, final)
    return results


async def _close_and_score(
    session: AsyncSession, platform: Platform, exam_session: ExamSession, *, by: str
) -> tuple[bool, ExamResult | None]:
    """Submit the session once: ``(True, its result)`` for the caller that did it (no result
    when discarded), ``(False, None)`` for every other."""
    discard: frozenset[uuid.UUID] = frozenset()
    if by == "timeout" and (await _exam(session, exam_session.exam_id)).on_expiry == "discard":
        discard = frozenset({exam_session.exam_id})
    now = platform.clock.now()
    closed = await _close_many(session, platform, [exam_session], now, by=by, discard=discard)
    if exam_session.id not in closed:
        return False, None
    return True, closed[exam_session.id]


async def results_final(
    session: AsyncSession, platform: Platform, results: Sequence[ExamResult]
) -> None:
    """Results just became final (scored at submit, or their last essay graded), inside
    the transaction that made them so: the place where standings learn about them."""
    await standings.record(session, platform, results)


async def submit(
    session: AsyncSession, platform: Platform, actor: Actor, session_id: uuid.UUID
) -> SubmitOut:
    """The student's submit; after the deadline it counts as the timeout submit it is.

    Every submit of a session, whatever its ``Idempotency-Key`` (the caller checks there
    is one), answers with the one stored result."""
    exam_session = await _owned_session(session, actor, session_id)
    late = platform.clock.now() > exam_session.submit_by
    won, result = await _close_and_score(
        session, platform, exam_session, by="timeout" if late else "student"
    )
    if not won:
        # Another submit (or the expiry job) did it: answer with what that one stored.
        exam_session = await _owned_session(session, actor, session_id, refresh=True)
        result = await repository.result_for(session, exam_session.id)
    if exam_session.status == "DISCARDED":
        raise TimeExpired("The time ran out before the exam was submitted")
    return _submit_out(exam_session, result)


SubmitOutcome = SubmitOut | DomainError | None
"""A result; why this submit is refused; or None: submit alone (see below)."""


async def submit_many(
    session: AsyncSession, platform: Platform, requests: Sequence[tuple[Actor, uuid.UUID]]
) -> list[SubmitOutcome]:
    """Students' submits in the caller's transaction: one read of the sessions, one
    closing UPDATE per outcome status, one read of their answers, one INSERT of results.

    The plain case only: a session submitted twice in the batch, one already closed, or
    a submit past the deadline gets None and goes through :func:`submit`, which answers
    with the stored result or applies the expiry rule."""
    outcomes: list[SubmitOutcome] = [None] * len(requests)
    now = platform.clock.now()
    found = await repository.sessions_by_ids(session, [session_id for _, session_id in requests])
    chosen: dict[int, ExamSession] = {}
    taken: set[uuid.UUID] = set()
    for index, (actor, session_id) in enumerate(requests):
        exam_session = found.get(session_id)
        if exam_session is None or exam_session.user_id != actor.user_id:
            outcomes[index] = NotFound("No such session")
        elif (
            session_id not in taken
            and exam_session.status in repository.OPEN_STATUSES
            and now <= exam_session.submit_by
        ):
            taken.add(session_id)
            chosen[index] = exam_session
    closed = await _close_many(session, platform, list(chosen.values()), now, by="student")
    for index, exam_session in chosen.items():
        if exam_session.id in closed:
            outcomes[index] = _submit_out(exam_session, closed[exam_session.id])
    return outcomes


async def _close_many(
    session: AsyncSession,
    platform: Platform,
    open_sessions: Sequence[ExamSession],
    now: datetime,
    *,
    by: str,
    discard: frozenset[uuid.UUID] = frozenset(),
) -> dict[uuid.UUID, ExamResult | None]:
    """Close many sessions at once, each only if still open: one conditional UPDATE per
    outcome status, then one read of their answers and one INSERT of their results.
    ``discard``: exams whose time-up sessions count for nothing. The sessions this call
    closed, with their results (None when discarded)."""
    if not open_sessions:
        return {}
    version_ids = {item["versionId"] for s in open_sessions for item in s.questions}
    versions = await frozen_versions(session, [parse_id(version_id) for version_id in version_ids])
    shown = {
        s.id: [versions[parse_id(item["versionId"])] for item in s.questions] for s in open_sessions
    }
    by_status: dict[str, list[ExamSession]] = {}
    for exam_session in open_sessions:
        status = (
            "DISCARDED"
            if exam_session.exam_id in discard
            else "SCORED"
            if _scored_by_rule(shown[exam_session.id])
            else "SCORING"
        )
        by_status.setdefault(status, []).append(exam_session)
    done: dict[uuid.UUID, ExamResult | None] = {}
    scored = []
    for status, group in by_status.items():
        won = await repository.close_sessions(
            session, [s.id for s in group], status=status, now=now, by=by
        )
        for exam_session in group:
            if exam_session.id not in won:
                continue
            _closed(exam_session, status, now, by)
            if status == "DISCARDED":
                done[exam_session.id] = None
                await forget_snapshot(platform, exam_session.id)
            else:
                scored.append(exam_session)
    results = await _score_closed(session, platform, [(s, shown[s.id]) for s in scored], now)
    done.update((result.session_id, result) for result in results)
    return done


async def submit_expired(session: AsyncSession, platform: Platform, session_id: uuid.UUID) -> None:
    """The expiry job: submit a session whose time is up, unless it was paused or moved."""
    exam_session = await repository.session_by_id(session, session_id)
    if exam_session is None or exam_session.status != "ACTIVE":
        return
    if platform.clock.now() < exam_session.submit_by:
        return
    await _close_and_score(session, platform, exam_session, by="timeout")


async def expire_many(
    session: AsyncSession, platform: Platform, session_ids: Sequence[uuid.UUID]
) -> int:
    """:func:`submit_expired` for many sessions at once (the expiry job takes its own and
    other overdue ones along): a burst of time-ups at one instant costs a few statements
    per batch, not per session. How many this call closed."""
    now = platform.clock.now()
    found = await repository.sessions_by_ids(session, session_ids)
    due = [s for s in found.values() if s.status == "ACTIVE" and now >= s.submit_by]
    exams = {exam_id: await _exam(session, exam_id) for exam_id in {s.exam_id for s in due}}
    discard = frozenset(exam.id for exam in exams.values() if exam.on_expiry == "discard")
    return len(await _close_many(session, platform, due, now, by="timeout", discard=discard))


def _review_policy(exam: Exam, now: datetime) -> ReviewPolicy:
    closed = exam.closes_at is not None and now >= exam.closes_at
    policy = exam.review_after_close if closed else exam.review_after_submit
    return msgspec.convert(policy, ReviewPolicy)


async def result(
    session: AsyncSession, platform: Platform, actor: Actor, session_id: uuid.UUID
) -> ResultOut:
    """The score and a per-question breakdown, showing only what the review policy allows."""
    exam_session = await _owned_session(session, actor, session_id)
    if exam_session.status in repository.OPEN_STATUSES:
        raise ResultNotReady()
    stored = await repository.result_for(session, exam_session.id)
    if stored is None:
        return ResultOut(
            session_id=exam_session.id,
            exam_id=exam_session.exam_id,
            status=exam_session.status,  # type: ignore[arg-type]
            submitted_at=exam_session.submitted_at,
        )
    policy = _review_policy(await _exam(session, exam_session.exam_id), platform.clock.now())
    final = stored.pending_grades == 0
    versions = await frozen_versions(
        session, [parse_id(item["versionId"]) for item in exam_session.questions]
    )
    by_question = {
        parse_id(item["questionId"]): versions[parse_id(item["versionId"])]
        for item in exam_session.questions
    }
    return ResultOut(
        session_id=exam_session.id,
        exam_id=exam_session.exam_id,
        status="SCORED" if final else "SCORING",
        submitted_at=stored.submitted_at,
        score=stored.score if policy.score and final else None,
        max_score=stored.max_score if policy.score else None,
        percentage=_percentage(stored) if policy.score and final else None,
        rank=(
            await leaderboards.rank(session, platform, stored.exam_id, stored.user_id)
            if policy.score and final
            else None
        ),
        pending_grades=stored.pending_grades,
        breakdown=[
            _breakdown(entry, by_question[uuid.UUID(entry["questionId"])], policy)
            for entry in stored.breakdown
        ],
    )


def _breakdown(entry: dict[str, Any], frozen: FrozenVersion, policy: ReviewPolicy) -> BreakdownOut:
    content = frozen.content
    fmt = content.text_format
    return BreakdownOut(
        question_id=uuid.UUID(entry["questionId"]),
        points=entry["points"],
        answered=entry["answered"],
        awarded=entry["awarded"] if policy.score else None,
        correct=entry["correct"] if policy.correctness else None,
        feedback_html=(
            to_html(entry["feedback"], fmt)
            if policy.explanations and entry.get("feedback")
            else None
        ),
        right_answer_html=right_answer_html(content) if policy.right_answers else None,
        explanation_html=explanation_html(content) if policy.explanations else None,
    )
