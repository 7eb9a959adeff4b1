"""Suspicion rules: each reads one kind of evidence and says why a session is worth a look.

Nothing here decides anything; a reason is a prompt for a person, and its message says
what was measured against which threshold. The thresholds are documented in
``docs/decisions.md`` (Integrity):

- leaving the page: ``max(focus-lost, page-hidden)`` counts one departure (switching
  tabs fires both, switching windows only the first), flagged from 5;
- copy, cut and paste together, flagged from 3;
- fast answers: a question's first save came sooner after the previous first save (or
  the start) than reading it takes at 500 words a minute (skimming speed; careful
  silent reading is about 240), and never less than 2 seconds; flagged when at least 3
  answers and at least half of all answers were that fast;
- saves from 2 or more client addresses, or from 2 or more user agents;
- similar answer sheets (Harpp and Hogan's index): two students' attempts with at least
  3 identical wrong answers (EEIC) and at least as many identical wrong answers as
  questions answered differently (EEIC / D >= 1). Honest students share right answers;
  sharing the same wrong ones, and rarely differing, is what copying leaves behind.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any

import msgspec

from studyhall.exams.schemas import IntegrityReasonOut
from studyhall.questions.content import QuestionContent

LEFT_PAGE_THRESHOLD = 5
CLIPBOARD_THRESHOLD = 3
READING_WORDS_PER_MINUTE = 500
MIN_ANSWER_SECONDS = 2.0
FAST_ANSWERS_MIN = 3
FAST_ANSWERS_SHARE = 0.5
SEVERAL_ORIGINS = 2
MIN_SHARED_WRONG = 3
SHARED_WRONG_PER_DIFFERENCE = 1.0

_WORD = re.compile(r"\w+")
_TAG = re.compile(r"<[^>]*>")


def signal_reasons(counts: Mapping[str, int]) -> list[IntegrityReasonOut]:
    reasons = []
    departures = max(counts.get("focus-lost", 0), counts.get("page-hidden", 0))
    if departures >= LEFT_PAGE_THRESHOLD:
        reasons.append(
            IntegrityReasonOut(
                code="left_page",
                message=f"Left the exam page {departures} times",
                count=departures,
                threshold=LEFT_PAGE_THRESHOLD,
            )
        )
    clipboard = sum(counts.get(kind, 0) for kind in ("copy", "cut", "paste"))
    if clipboard >= CLIPBOARD_THRESHOLD:
        reasons.append(
            IntegrityReasonOut(
                code="clipboard",
                message=f"Used copy, cut or paste {clipboard} times",
                count=clipboard,
                threshold=CLIPBOARD_THRESHOLD,
            )
        )
    return reasons


def reading_words(content: QuestionContent) -> int:
    """Words a student must read to answer: the stem and everything offered to choose from."""
    texts = [content.text, *(choice.text for choice in content.choices), *content.items]
    texts += [f"{pair.prompt} {pair.answer}" for pair in content.pairs]
    return sum(len(_WORD.findall(_TAG.sub(" ", text))) for text in texts)


def reading_seconds(words: int) -> float:
    return max(MIN_ANSWER_SECONDS, words * 60 / READING_WORDS_PER_MINUTE)


def fast_answers_reason(
    started_at: datetime,
    first_saves: Sequence[tuple[uuid.UUID, datetime]],
    words: Mapping[uuid.UUID, int],
) -> IntegrityReasonOut | None:
    """``first_saves``: each question's first save, in time order; ``words`` per question."""
    fast = 0
    previous = started_at
    for question_id, saved_at in first_saves:
        if (saved_at - previous).total_seconds() < reading_seconds(words.get(question_id, 0)):
            fast += 1
        previous = saved_at
    answered = len(first_saves)
    if fast < FAST_ANSWERS_MIN or fast < FAST_ANSWERS_SHARE * answered:
        return None
    return IntegrityReasonOut(
        code="fast_answers",
        message=(
            f"Answered {fast} of {answered} questions faster than reading them takes "
            f"({READING_WORDS_PER_MINUTE} words a minute, at least "
            f"{MIN_ANSWER_SECONDS:g} s each)"
        ),
        count=fast,
        threshold=FAST_ANSWERS_MIN,
    )


def origin_reasons(
    addresses: Iterable[str], user_agents: Iterable[str]
) -> list[IntegrityReasonOut]:
    reasons = []
    address_count = len(set(addresses))
    if address_count >= SEVERAL_ORIGINS:
        reasons.append(
            IntegrityReasonOut(
                code="several_ips",
                message=f"Answers were saved from {address_count} network addresses",
                count=address_count,
                threshold=SEVERAL_ORIGINS,
            )
        )
    agent_count = len(set(user_agents))
    if agent_count >= SEVERAL_ORIGINS:
        reasons.append(
            IntegrityReasonOut(
                code="several_user_agents",
                message=f"Answers were saved from {agent_count} different browsers",
                count=agent_count,
                threshold=SEVERAL_ORIGINS,
            )
        )
    return reasons


@dataclass(frozen=True, slots=True)
class AnswerSheet:
    """A scored attempt's final answers: question id -> (canonical response, correct)."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    answers: Mapping[str, tuple[bytes, bool]]


def answer_sheet(
    session_id: uuid.UUID, user_id: uuid.UUID, breakdown: Sequence[Mapping[str, Any]]
) -> AnswerSheet:
    """From a result's breakdown: answered questions whose correctness is known (an essay
    waiting for its grader is left out)."""
    answers = {
        str(entry["questionId"]): (
            msgspec.json.encode(entry.get("response"), order="sorted"),
            bool(entry["correct"]),
        )
        for entry in breakdown
        if entry.get("answered") and entry.get("correct") is not None
    }
    return AnswerSheet(session_id, user_id, answers)


@dataclass(frozen=True, slots=True)
class SimilarPair:
    first: uuid.UUID
    second: uuid.UUID
    shared_wrong: int
    differences: int

    def other(self, session_id: uuid.UUID) -> uuid.UUID:
        return self.second if session_id == self.first else self.first


def _differences(one: AnswerSheet, other: AnswerSheet) -> int:
    """Questions either answered where the two responses are not the same."""
    questions = one.answers.keys() | other.answers.keys()
    return sum(
        1
        for question in questions
        if (one.answers.get(question) or (b"",))[0] != (other.answers.get(question) or (b"",))[0]
    )


def similar_pairs(
    sheets: Sequence[AnswerSheet], focus: uuid.UUID | None = None
) -> list[SimilarPair]:
    """Pairs of different students' attempts with improbably similar answers (see the
    module docstring), every pair of the exam or only those with ``focus``.

    Identical wrong answers are grouped first and only pairs meeting in a group are
    compared in full. In the worst case (everyone giving the same wrong answers) that is
    still every pair: O(n² · questions) per exam, acceptable for the few hundred attempts
    an exam has here (see ``integrity_service`` for measured times)."""
    groups: dict[tuple[str, bytes], list[int]] = {}
    for index, sheet in enumerate(sheets):
        for question, (response, correct) in sheet.answers.items():
            if not correct:
                groups.setdefault((question, response), []).append(index)
    focus_index = next((i for i, s in enumerate(sheets) if s.session_id == focus), None)
    shared: Counter[tuple[int, int]] = Counter()
    for members in groups.values():
        if focus_index is None:
            shared.update(combinations(members, 2))
        elif focus_index in members:
            shared.update(
                (min(focus_index, m), max(focus_index, m)) for m in members if m != focus_index
            )
    pairs = []
    for (a, b), count in shared.items():
        one, other = sheets[a], sheets[b]
        if count < MIN_SHARED_WRONG or one.user_id == other.user_id:
            continue
        differences = _differences(one, other)
        if count >= SHARED_WRONG_PER_DIFFERENCE * max(differences, 1):
            pairs.append(SimilarPair(one.session_id, other.session_id, count, differences))
    return pairs


def similar_answers_reason(
    pair: SimilarPair, session_id: uuid.UUID, other_name: str
) -> IntegrityReasonOut:
    differs = {0: "no question", 1: "1 question"}.get(
        pair.differences, f"{pair.differences} questions"
    )
    return IntegrityReasonOut(
        code="similar_answers",
        message=(
            f"Shares {pair.shared_wrong} identical wrong answers with {other_name}'s attempt "
            f"and differs on {differs}"
        ),
        count=pair.shared_wrong,
        threshold=MIN_SHARED_WRONG,
        other_session_id=pair.other(session_id),
    )
