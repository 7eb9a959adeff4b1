"""Score one student response against one stored question version, the way Moodle does.

Pure functions with no I/O, so the exam submit path, the live quiz and the tests
all share one set of rules. A response arrives in the shape ``content`` documents
per kind; ``validate_response`` checks only that shape (the answer-save endpoint
turns ``InvalidResponse`` into a 422), and ``score`` checks it again before grading,
so a malformed response can never be scored by accident.

Options are compared by what the student chose (its stored index, or the answer's
text for matching), never by where they were displayed, and sums use ``math.fsum``,
so shuffling or reordering options cannot change a score by even one ulp.
"""

from __future__ import annotations

import decimal
import math
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal

import msgspec

from studyhall.questions.content import QuestionContent
from studyhall.questions.formats.model import NumericAnswer

MAX_TEXT_LENGTH = 10_000
"""Longest short-answer or numeric text a student may send."""
MAX_ESSAY_LENGTH = 100_000
"""Longest essay a student may send: room for a long answer, not for abuse."""

# Moodle counts a fraction above 0.999999 as right: weights such as 3 x 33.33333%
# must earn full marks.
_FULL_MARKS_SLACK = 1e-6
# Enough digits that value ± tolerance is exact for any pair of finite floats written
# by repr() (at most 17 significant digits, exponents -324..308); Inexact would say otherwise.
_EXACT = decimal.Context(prec=1000, traps=[decimal.Inexact, decimal.InvalidOperation])
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHITESPACE = re.compile(r"\s+")
# A run of unescaped asterisks is one wildcard; ``\*`` is a literal asterisk (Moodle's rule).
_WILDCARD = re.compile(r"(?<!\\)\*+")


class InvalidResponse(ValueError):
    """A response whose shape does not fit its question's kind."""


class Score(msgspec.Struct, frozen=True):
    """What one response earned: a share of the question's points (already clamped to
    the kind's bounds), whether that is full marks, and the feedback the student sees."""

    fraction: float
    correct: bool
    feedback: str | None


_UNANSWERED = Score(0.0, False, None)


def validate_response(content: QuestionContent, response: object) -> None:
    """Raise ``InvalidResponse`` unless ``response`` has the shape ``content.kind`` takes.

    ``None`` (not answered) is valid for every kind."""
    if response is not None:
        _PARSERS[content.kind](content, response)


def score(content: QuestionContent, response: object) -> Score | None:
    """Grade ``response``; ``None`` for essays and descriptions, which no rule can grade.

    Not answering (``None``) earns 0 on every objective kind, never a negative mark."""
    grade = _GRADERS.get(content.kind)
    if grade is None:
        validate_response(content, response)
        return None
    if response is None:
        return _UNANSWERED
    return grade(content, response)


def _finish(fraction: float, lowest: float, feedback: str | None) -> Score:
    clamped = min(max(fraction, lowest), 1.0)
    if clamped > 1.0 - _FULL_MARKS_SLACK:
        clamped = 1.0
    # + 0.0 turns a -0.0 (a choice weighted -0%) into 0.0 for every reader downstream.
    return Score(clamped + 0.0, clamped == 1.0, feedback)


def _share(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def _kind_of(value: object) -> str:
    return type(value).__name__


# --- shape checks: each returns the response in the form its grader needs ---


def _index(value: object, size: int, what: str) -> int:
    # bool is an int subclass, but True is not "choice 1".
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidResponse(f"a {what} must be given by its integer index, not {_kind_of(value)}")
    if not 0 <= value < size:
        raise InvalidResponse(f"there is no {what} {value} (this question has {size})")
    return value


def _distinct_indexes(value: object, size: int, what: str) -> list[int]:
    if not isinstance(value, list | tuple):
        raise InvalidResponse(f"expected a list of {what} indexes, not {_kind_of(value)}")
    indexes = [_index(item, size, what) for item in value]
    if len(set(indexes)) != len(indexes):
        twice = next(index for index in indexes if indexes.count(index) > 1)
        raise InvalidResponse(f"{what} {twice} is given more than once")
    return indexes


def _text(value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidResponse(f"expected text, not {_kind_of(value)}")
    if len(value) > limit:
        raise InvalidResponse(f"the answer is {len(value)} characters long; the limit is {limit}")
    return value


def _single(content: QuestionContent, response: object) -> int:
    return _index(response, len(content.choices), "choice")


def _multiple(content: QuestionContent, response: object) -> list[int]:
    return _distinct_indexes(response, len(content.choices), "choice")


def _truth(content: QuestionContent, response: object) -> bool:
    if not isinstance(response, bool):
        raise InvalidResponse(
            f"a true/false answer must be true or false, not {_kind_of(response)}"
        )
    return response


def _number(content: QuestionContent, response: object) -> Decimal | None:
    """The response as an exact Decimal, or ``None`` for a blank text (not answered)."""
    if isinstance(response, bool) or not isinstance(response, int | float | str):
        raise InvalidResponse(f"a numerical answer must be a number, not {_kind_of(response)}")
    if isinstance(response, int):
        return Decimal(response)
    if isinstance(response, float):
        if not math.isfinite(response):
            raise InvalidResponse("a numerical answer must be a finite number")
        # repr() is the shortest text that reads back as this float: 0.2, not 0.2000000000000000111.
        return Decimal(repr(response))
    text = _text(response, MAX_TEXT_LENGTH).strip()
    if not text:
        return None
    if not _NUMBER_TEXT.fullmatch(text):
        raise InvalidResponse(f"{text[:40]!r} is not a number (write e.g. 12, -0.5 or 6.02e23)")
    try:
        return Decimal(text)
    except decimal.InvalidOperation:
        raise InvalidResponse(f"{text[:40]!r} is too large or too small a number") from None


def _short(content: QuestionContent, response: object) -> str:
    return _text(response, MAX_TEXT_LENGTH)


def _matching(content: QuestionContent, response: object) -> dict[int, int]:
    """Prompt index -> chosen answer index; prompts left out are unanswered."""
    pairs = content.pairs
    if not isinstance(response, list | tuple):
        raise InvalidResponse(
            f"expected a list of [prompt, answer] pairs, not {_kind_of(response)}"
        )
    chosen: dict[int, int] = {}
    for entry in response:
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            raise InvalidResponse("each match must be a [prompt index, answer index] pair")
        prompt = _index(entry[0], len(pairs), "prompt")
        if not pairs[prompt].prompt:
            raise InvalidResponse(f"pair {prompt} is an extra answer, not a prompt")
        if prompt in chosen:
            raise InvalidResponse(f"prompt {prompt} is matched more than once")
        chosen[prompt] = _index(entry[1], len(pairs), "answer")
    return chosen


def _ordering(content: QuestionContent, response: object) -> list[int]:
    size = len(content.items)
    order = _distinct_indexes(response, size, "item")
    if len(order) != size:
        raise InvalidResponse(f"an ordering must place all {size} items, not {len(order)}")
    return order


def _essay(content: QuestionContent, response: object) -> str:
    return _text(response, MAX_ESSAY_LENGTH)


def _description(content: QuestionContent, response: object) -> None:
    raise InvalidResponse("a description takes no answer")


# --- grading ---


def _grade_single(content: QuestionContent, response: object) -> Score:
    """The chosen choice's weight; a negative weight is negative marking."""
    choice = content.choices[_single(content, response)]
    return _finish(choice.fraction, -1.0, choice.feedback)


def _grade_multiple(content: QuestionContent, response: object) -> Score:
    """The sum of the chosen weights, never below the question's floor.

    Every chosen option's feedback is shown, in the question's own order."""
    chosen = set(_multiple(content, response))
    if not chosen:
        return _UNANSWERED
    picked = [choice for index, choice in enumerate(content.choices) if index in chosen]
    feedback = "\n\n".join(choice.feedback for choice in picked if choice.feedback)
    total = math.fsum(choice.fraction for choice in picked)
    return _finish(total, content.score_floor, feedback or None)


def _grade_truefalse(content: QuestionContent, response: object) -> Score:
    """Full marks for the right value; the feedback belongs to the value chosen."""
    said = _truth(content, response)
    feedback = content.feedback_true if said else content.feedback_false
    return _finish(1.0 if said == content.correct else 0.0, 0.0, feedback)


def _decimal(number: float) -> Decimal:
    return Decimal(repr(number))


def _accepts(answer: NumericAnswer, number: Decimal) -> bool:
    """value ± tolerance, or min..max, both ends included and compared exactly.

    A bound that is absent is open, so Moodle's ``*`` answer (no value, min or max)
    accepts any number."""
    if answer.value is not None:
        value, margin = _decimal(answer.value), _decimal(abs(answer.tolerance))
        low: Decimal | None = _EXACT.subtract(value, margin)
        high: Decimal | None = _EXACT.add(value, margin)
    else:
        low = None if answer.min is None else _decimal(answer.min)
        high = None if answer.max is None else _decimal(answer.max)
    return (low is None or low <= number) and (high is None or number <= high)


def _grade_numerical(content: QuestionContent, response: object) -> Score:
    """The best weight among the answers the number falls within."""
    number = _number(content, response)
    if number is None:
        return _UNANSWERED
    accepted = [answer for answer in content.numeric_answers if _accepts(answer, number)]
    best = max(accepted, key=lambda answer: answer.fraction, default=None)
    return _UNANSWERED if best is None else _finish(best.fraction, -1.0, best.feedback)


def _normalise(text: str, case_sensitive: bool) -> str:
    """Trim, collapse whitespace runs and fold case, so "  Paris " matches "paris"."""
    text = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()
    return text if case_sensitive else unicodedata.normalize("NFC", text.casefold())


def _wildcard_pattern(answer: str) -> re.Pattern[str]:
    """A regex for a whole response, ``*`` standing for any run of characters.

    Every literal part is escaped. Each middle part is matched at its leftmost place
    inside an atomic group, which is enough for ``*``-only patterns and keeps
    matching linear: a plain ``.*a.*a.*b`` could backtrack for hours on a long answer."""
    first, *rest = (re.escape(part.replace("\\*", "*")) for part in _WILDCARD.split(answer))
    if not rest:
        return re.compile(first)
    *middle, last = rest
    return re.compile(first + "".join(f"(?>.*?{part})" for part in middle) + ".*" + last, re.DOTALL)


def _grade_shortanswer(content: QuestionContent, response: object) -> Score:
    """The best weight among the accepted answers the text matches as a whole."""
    text = _normalise(_short(content, response), content.case_sensitive)
    if not text:
        return _UNANSWERED
    accepted = [
        answer
        for answer in content.short_answers
        if _wildcard_pattern(_normalise(answer.text, content.case_sensitive)).fullmatch(text)
    ]
    best = max(accepted, key=lambda answer: answer.fraction, default=None)
    return _UNANSWERED if best is None else _finish(best.fraction, -1.0, best.feedback)


def _grade_matching(content: QuestionContent, response: object) -> Score:
    """The share of prompts matched right. An answer counts by its text, because the
    student sees answers de-duplicated by text and cannot tell equal ones apart."""
    chosen = _matching(content, response)
    pairs = content.pairs
    prompts = [index for index, pair in enumerate(pairs) if pair.prompt]
    hits = sum(
        1
        for index in prompts
        if index in chosen and pairs[chosen[index]].answer == pairs[index].answer
    )
    return _finish(_share(hits, len(prompts)), 0.0, None)


def _grade_ordering(content: QuestionContent, response: object) -> Score:
    """The share of items in their right absolute position.

    Partial credit rather than all-or-nothing: one swapped pair in a list of ten
    should not cost the whole mark."""
    order = _ordering(content, response)
    hits = sum(1 for position, item in enumerate(order) if position == item)
    return _finish(_share(hits, len(order)), 0.0, None)


_PARSERS: dict[str, Callable[[QuestionContent, object], object]] = {
    "single": _single,
    "multiple": _multiple,
    "truefalse": _truth,
    "numerical": _number,
    "shortanswer": _short,
    "matching": _matching,
    "ordering": _ordering,
    "essay": _essay,
    "description": _description,
}
_GRADERS: dict[str, Callable[[QuestionContent, object], Score]] = {
    "single": _grade_single,
    "multiple": _grade_multiple,
    "truefalse": _grade_truefalse,
    "numerical": _grade_numerical,
    "shortanswer": _grade_shortanswer,
    "matching": _grade_matching,
    "ordering": _grade_ordering,
}
