"""Suspicion reports for an exam's owner (or an admin): evidence gathered, rules applied.

Computed on demand from the tables, so a report is always current, including for
sessions still running, and nothing has to be kept in step. The pairwise comparison
is the only costly part (measured: 0.05 s for 200 attempts of 60 questions, 0.3 s
for 500, and 1.9 s for 500 in the worst case, where everyone shares every wrong
answer). Anyone but the exam's owner or an admin, the session's own student
included, is told it does not exist.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.exams import integrity_repository as repository
from studyhall.exams import integrity_rules as rules
from studyhall.exams import repository as exam_repository
from studyhall.exams.models import Exam, ExamSession
from studyhall.exams.schemas import (
    ExamIntegrityOut,
    IntegrityReasonOut,
    SessionIntegrityDetailOut,
    SessionIntegrityOut,
    SignalOut,
)
from studyhall.platform.auth import Actor, ensure_owner_or_admin
from studyhall.platform.errors import NotFound
from studyhall.platform.ids import parse_id
from studyhall.questions.frozen import frozen_versions

SIGNALS_SHOWN = 500


async def _owned_exam(session: AsyncSession, actor: Actor, exam_id: uuid.UUID, what: str) -> Exam:
    exam = await exam_repository.exam_by_id(session, exam_id)
    if exam is None:
        raise NotFound(f"No such {what}")
    ensure_owner_or_admin(actor, exam.owner_id, what=what)
    return exam


async def _words_by_question(
    session: AsyncSession, exam_sessions: Sequence[ExamSession]
) -> dict[uuid.UUID, dict[uuid.UUID, int]]:
    """Per session, the words each of its questions (its frozen version) asks to read."""
    version_ids = {parse_id(item["versionId"]) for s in exam_sessions for item in s.questions}
    versions = await frozen_versions(session, list(version_ids))
    words = {version_id: rules.reading_words(v.content) for version_id, v in versions.items()}
    return {
        s.id: {
            parse_id(item["questionId"]): words.get(parse_id(item["versionId"]), 0)
            for item in s.questions
        }
        for s in exam_sessions
    }


async def _reports(
    session: AsyncSession, exam: Exam, focus: uuid.UUID | None = None
) -> list[SessionIntegrityOut]:
    """The report of every session of the exam, or only of ``focus`` (compared with all)."""
    everyone = await repository.sessions_with_names(session, exam.id)
    names = {exam_session.id: name for exam_session, name in everyone}
    reported = [(s, name) for s, name in everyone if focus is None or s.id == focus]
    counts = await repository.signal_counts(session, exam.id, focus)
    saves = await repository.first_saves(session, exam.id, focus)
    origins = await repository.save_origins(session, exam.id, focus)
    words = await _words_by_question(session, [s for s, _ in reported])
    by_session = {s.id: s for s, _ in everyone}
    sheets = [
        rules.answer_sheet(session_id, by_session[session_id].user_id, breakdown)
        for session_id, breakdown in (await repository.result_breakdowns(session, exam.id)).items()
        if session_id in by_session
    ]
    # Up to a couple of seconds of CPU for a large exam: kept off the event loop, so the
    # process goes on acknowledging saves meanwhile.
    pairs = await asyncio.to_thread(rules.similar_pairs, sheets, focus)
    reports = []
    for exam_session, name in reported:
        addresses, agents = origins.get(exam_session.id, (set(), set()))
        session_counts = counts.get(exam_session.id, {})
        reasons: list[IntegrityReasonOut] = rules.signal_reasons(session_counts)
        fast = rules.fast_answers_reason(
            exam_session.started_at, saves.get(exam_session.id, []), words[exam_session.id]
        )
        reasons += [fast] if fast else []
        reasons += rules.origin_reasons(addresses, agents)
        reasons += [
            rules.similar_answers_reason(pair, exam_session.id, names[pair.other(exam_session.id)])
            for pair in pairs
            if exam_session.id in (pair.first, pair.second)
        ]
        reports.append(
            SessionIntegrityOut(
                session_id=exam_session.id,
                exam_id=exam.id,
                user_id=exam_session.user_id,
                user_name=name,
                attempt=exam_session.attempt,
                status=exam_session.status,  # type: ignore[arg-type]
                started_at=exam_session.started_at,
                reasons=reasons,
                signal_counts=session_counts,
                addresses=sorted(addresses),
                user_agents=sorted(agents),
            )
        )
    return reports


async def exam_report(session: AsyncSession, actor: Actor, exam_id: uuid.UUID) -> ExamIntegrityOut:
    """The exam's flagged sessions, the most reasons first."""
    exam = await _owned_exam(session, actor, exam_id, "exam")
    reports = await _reports(session, exam)
    flagged = sorted(
        (report for report in reports if report.reasons),
        key=lambda report: (-len(report.reasons), report.started_at),
    )
    return ExamIntegrityOut(
        exam_id=exam.id,
        title=exam.title,
        session_count=len(reports),
        flagged_count=len(flagged),
        sessions=flagged,
    )


async def session_report(
    session: AsyncSession, actor: Actor, session_id: uuid.UUID
) -> SessionIntegrityDetailOut:
    """One session's reasons (none, if it looks honest) and its latest signals."""
    exam_session = await exam_repository.session_by_id(session, session_id)
    if exam_session is None:
        raise NotFound("No such session")
    exam = await _owned_exam(session, actor, exam_session.exam_id, "session")
    (report,) = await _reports(session, exam, exam_session.id)
    signals = await repository.latest_signals(session, exam_session.id, SIGNALS_SHOWN)
    return SessionIntegrityDetailOut(
        **msgspec.structs.asdict(report),
        signals=[
            SignalOut(signal.kind, signal.client_at, signal.received_at, signal.detail)
            for signal in signals
        ],
    )
