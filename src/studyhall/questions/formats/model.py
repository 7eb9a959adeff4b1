"""The neutral form every importer produces and every exporter consumes.

GIFT, Aiken and Moodle XML all describe the same Moodle question types, so they
meet in one set of plain, frozen structs. The question bank stores from this
form and exports to it; nothing here knows about a database or HTTP.

Rich texts carry a format (Moodle's ``moodle``, ``html``, ``plain`` or
``markdown``). The question text names the format; an answer or feedback keeps
its own ``*_format`` only when it differs from the question's (``None`` means
"same as the question"), which is how Moodle lets one choice be HTML inside a
Markdown question.
"""

from __future__ import annotations

from typing import Literal

import msgspec

QuestionKind = Literal[
    "single",
    "multiple",
    "truefalse",
    "numerical",
    "shortanswer",
    "matching",
    "essay",
    "description",
]
TextFormat = Literal["moodle", "html", "plain", "markdown"]
TEXT_FORMATS: tuple[TextFormat, ...] = ("moodle", "html", "plain", "markdown")
BLANK = "_____"
"""Marks where the answer block stood in a missing-word question's text."""


class Choice(msgspec.Struct, frozen=True, kw_only=True):
    """One option of a single or multiple choice question.

    ``fraction`` is the share of the mark it earns, -1.0 to 1.0 (negative marking).
    """

    text: str
    fraction: float
    feedback: str | None = None
    text_format: TextFormat | None = None
    feedback_format: TextFormat | None = None


class NumericAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """One graded answer of a numerical question.

    Either ``value`` with ``tolerance`` (accepts value ± tolerance), or the range
    ``min``..``max``; with all three ``None`` it is Moodle's ``*`` answer that
    matches any response (used for "wrong answer" feedback).
    """

    value: float | None = None
    tolerance: float = 0.0
    min: float | None = None
    max: float | None = None
    fraction: float = 1.0
    feedback: str | None = None
    feedback_format: TextFormat | None = None


class ShortAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """One accepted response of a short-answer question (``*`` is a wildcard)."""

    text: str
    fraction: float = 1.0
    feedback: str | None = None
    feedback_format: TextFormat | None = None


class MatchPair(msgspec.Struct, frozen=True, kw_only=True):
    """A prompt and the answer it matches; an empty prompt is an extra distractor answer."""

    prompt: str
    answer: str
    prompt_format: TextFormat | None = None


class ParsedQuestion(msgspec.Struct, frozen=True, kw_only=True):
    """One question in interchange form; only the fields of its ``kind`` are filled.

    ``line`` is the 1-based source line where the question starts (0 when it did
    not come from a file), so import reports can point at it.
    """

    kind: QuestionKind
    text: str
    text_format: TextFormat = "moodle"
    title: str | None = None
    category: str | None = None
    idnumber: str | None = None
    tags: list[str] = []
    general_feedback: str | None = None
    general_feedback_format: TextFormat | None = None
    line: int = 0
    choices: list[Choice] = []
    correct: bool | None = None
    feedback_true: str | None = None
    feedback_true_format: TextFormat | None = None
    feedback_false: str | None = None
    feedback_false_format: TextFormat | None = None
    numeric_answers: list[NumericAnswer] = []
    short_answers: list[ShortAnswer] = []
    pairs: list[MatchPair] = []


class ParseIssue(msgspec.Struct, frozen=True):
    """Why one question (or stray piece of a file) was not imported, and where."""

    line: int
    message: str


class ParseReport(msgspec.Struct, frozen=True):
    """What a file yielded: the questions that parsed and one issue per one that did not."""

    questions: list[ParsedQuestion]
    errors: list[ParseIssue]
