"""What a stored question version holds: its stem and its answer key.

The answer data reuses the interchange structs of ``formats.model`` so importers,
the bank and exporters share one vocabulary. Options are identified by their
index in the stored list (stable within a version): a session shuffles what it
*shows*, never the ids, so option order can never change a score.

``StudentResponse`` shapes, per kind (the ``choice`` of an answer save):
- single: ``int`` (a choice index)
- multiple: ``list[int]`` (choice indexes)
- truefalse: ``bool``
- numerical: ``float | int | str`` (a number, or its text)
- shortanswer: ``str``
- matching: ``list[tuple[int, int]]`` (prompt pair index, answer pair index)
- ordering: ``list[int]`` (item indexes in the order the student put them)
- essay: ``str``; description: no response.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from studyhall.questions.formats.model import (
    Choice,
    MatchPair,
    NumericAnswer,
    ShortAnswer,
    TextFormat,
)

StoredKind = Literal[
    "single",
    "multiple",
    "truefalse",
    "numerical",
    "shortanswer",
    "matching",
    "ordering",
    "essay",
    "description",
]
OBJECTIVE_KINDS: frozenset[str] = frozenset(
    {"single", "multiple", "truefalse", "numerical", "shortanswer", "matching", "ordering"}
)
Difficulty = Literal["easy", "medium", "hard"]


class QuestionContent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A question version as stored: stem, feedback and the full answer key."""

    kind: StoredKind
    text: str
    text_format: TextFormat = "moodle"
    general_feedback: str | None = None
    general_feedback_format: TextFormat | None = None
    choices: list[Choice] = []
    correct: bool | None = None
    feedback_true: str | None = None
    feedback_false: str | None = None
    numeric_answers: list[NumericAnswer] = []
    short_answers: list[ShortAnswer] = []
    case_sensitive: bool = False
    pairs: list[MatchPair] = []
    # Ordering: the items in their correct order.
    items: list[str] = []
    # Multiple response: the lowest score a response can get (0 = no negative total).
    score_floor: float = 0.0
