"""Live quiz questions: the stored definition, authoring rules, answer shapes and keys.

A quiz keeps its questions as one JSON document (like a bank's question version), so a
game plays exactly what the quiz held when it started. Options are identified by their
index; an ordering question shows its options as authored and ``correctOptions`` gives
the right order.
"""

from __future__ import annotations

import math
import random
import uuid
from typing import Any, Literal, cast

import msgspec

from studyhall.live.schemas import QuestionIn
from studyhall.live.scoring import POINT_FACTORS, PointsLevel
from studyhall.platform.errors import InvalidInput
from studyhall.questions.content import QuestionContent

QuestionType = Literal["single", "multiple", "truefalse", "text", "poll", "numeric", "ordering"]
QUESTION_TYPES: tuple[str, ...] = (
    "single",
    "multiple",
    "truefalse",
    "text",
    "poll",
    "numeric",
    "ordering",
)
OPTION_TYPES = frozenset({"single", "multiple", "truefalse", "poll", "ordering"})
MIN_TIME_LIMIT = 5
MAX_TIME_LIMIT = 240
DEFAULT_TIME_LIMIT = 20
MAX_OPTIONS = 8
MAX_TEXT = 500
MAX_OPTION_TEXT = 200
MAX_QUESTIONS = 100
MAX_TEXT_ANSWER = 200
MAX_IMAGE_ALT = 200
TRUE_FALSE = ["True", "False"]
CHOICE_MARKS: tuple[tuple[str, str], ...] = (
    ("triangle", "red"),
    ("diamond", "blue"),
    ("circle", "gold"),
    ("square", "green"),
    ("star", "purple"),
    ("heart", "orange"),
    ("hexagon", "teal"),
    ("cross", "pink"),
)
"""The shape and colour of each option, by index (``MAX_OPTIONS`` of them): the host's
screen and the players' buttons show the same mark, so a player who sees only buttons
knows which one is which option on the host's screen."""


class LiveQuestion(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    """One question as a quiz stores it, answer key included (never sent to players)."""

    id: str
    type: QuestionType
    text: str
    options: list[str] = []
    correct_options: list[int] = []
    accepted_answers: list[str] = []
    correct_value: float | None = None
    tolerance: float = 0.0
    min: float | None = None
    max: float | None = None
    time_limit_seconds: int = DEFAULT_TIME_LIMIT
    points: PointsLevel = "standard"
    image: str | None = None
    """The id of a ``LiveQuizImage`` of the quiz's owner."""
    image_alt: str | None = None

    @property
    def factor(self) -> int:
        return 0 if self.type == "poll" else POINT_FACTORS[self.points]

    @property
    def scored(self) -> bool:
        return self.factor > 0


class QuestionProblem(msgspec.Struct, frozen=True):
    """One reason a question was refused: its index, a stable code and a sentence."""

    question: int
    code: str
    message: str


class InvalidQuiz(InvalidInput):
    code = "invalid_quiz"
    title = "The quiz is not complete or not consistent"


class InvalidAnswer(InvalidInput):
    code = "invalid_answer"
    title = "The answer does not fit the question"


def check_common(index: int, data: QuestionIn, problems: list[QuestionProblem]) -> None:
    """The rules every question follows, inline or from a bank: time limit and points."""
    if not MIN_TIME_LIMIT <= data.time_limit_seconds <= MAX_TIME_LIMIT:
        problems.append(
            QuestionProblem(
                index,
                "time_limit_out_of_range",
                f"timeLimitSeconds must be {MIN_TIME_LIMIT} to {MAX_TIME_LIMIT}",
            )
        )
    if data.points is not None and data.points not in POINT_FACTORS:
        problems.append(
            QuestionProblem(index, "invalid_points", "points must be none, standard or double")
        )


def build_question(
    index: int, data: QuestionIn, problems: list[QuestionProblem]
) -> LiveQuestion | None:
    """Check one inline question; None (and its problems added) when refused."""
    found: list[QuestionProblem] = []

    def refuse(code: str, message: str) -> None:
        found.append(QuestionProblem(index, code, message))

    check_common(index, data, found)
    kind = data.type
    if kind not in QUESTION_TYPES:
        refuse("unknown_question_type", f"type must be one of {', '.join(QUESTION_TYPES)}")
        problems.extend(found)
        return None
    text = (data.text or "").strip()
    if not text or len(text) > MAX_TEXT:
        refuse("invalid_text", f"text must be 1 to {MAX_TEXT} characters")
    points = data.points
    if kind == "poll" and points not in (None, "none"):
        refuse("poll_is_unscored", "a poll is never scored; leave points out or use none")
    options = [option.strip() for option in data.options]
    correct = list(data.correct_options)
    accepted = [answer.strip() for answer in data.accepted_answers]
    if kind == "truefalse" and not options:
        options = list(TRUE_FALSE)
    if kind in OPTION_TYPES:
        low = 2
        if not low <= len(options) <= MAX_OPTIONS or any(
            not option or len(option) > MAX_OPTION_TEXT for option in options
        ):
            refuse(
                "invalid_options",
                f"give 2 to {MAX_OPTIONS} options of 1 to {MAX_OPTION_TEXT} characters",
            )
        elif kind == "truefalse" and len(options) != 2:
            refuse("invalid_options", "a true/false question has exactly two options")
    elif options:
        refuse("unexpected_options", f"a {kind} question takes no options")
    in_range = all(0 <= choice < len(options) for choice in correct)
    if kind in ("single", "truefalse") and (len(correct) != 1 or not in_range):
        refuse("invalid_correct_options", "give exactly one correct option index")
    elif kind == "multiple" and (not correct or not in_range or len(set(correct)) != len(correct)):
        refuse("invalid_correct_options", "give one or more distinct correct option indexes")
    elif kind == "ordering" and sorted(correct) != list(range(len(options))):
        refuse("invalid_correct_options", "give the right order as every option index once")
    elif kind in ("poll", "text", "numeric") and correct:
        refuse("unexpected_correct_options", f"a {kind} question takes no correctOptions")
    if kind == "text":
        if not accepted or any(not answer or len(answer) > MAX_TEXT_ANSWER for answer in accepted):
            refuse("missing_accepted_answers", "give one or more accepted answers")
    elif accepted:
        refuse("unexpected_accepted_answers", f"a {kind} question takes no acceptedAnswers")
    value, tolerance = data.correct_value, data.tolerance
    low_bound, high_bound = data.min, data.max
    if kind == "numeric":
        if value is None or not math.isfinite(value):
            refuse("missing_correct_value", "a numeric question needs correctValue")
        if not math.isfinite(tolerance) or tolerance < 0:
            refuse("invalid_tolerance", "tolerance must be zero or more")
        if (low_bound is None) != (high_bound is None) or (
            low_bound is not None
            and high_bound is not None
            and (
                not low_bound < high_bound
                or (value is not None and not low_bound <= value <= high_bound)
            )
        ):
            refuse("invalid_slider_range", "a slider needs min < max around correctValue")
    elif value is not None or low_bound is not None or high_bound is not None:
        refuse("unexpected_correct_value", f"a {kind} question takes no correctValue or range")
    if found:
        problems.extend(found)
        return None
    return LiveQuestion(
        id=str(uuid.uuid4()),
        type=cast(QuestionType, kind),
        text=text,
        options=options,
        correct_options=correct,
        accepted_answers=accepted,
        correct_value=value,
        tolerance=tolerance,
        min=low_bound,
        max=high_bound,
        time_limit_seconds=data.time_limit_seconds,
        points=cast(PointsLevel, "none" if kind == "poll" else (points or "standard")),
    )


def from_bank(
    content: QuestionContent, *, time_limit: int, points: PointsLevel, seed: str
) -> LiveQuestion | None:
    """A bank question in live form, or None for a kind a live game cannot play
    (matching, essay, description). The right options are those worth full marks."""
    common: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "text": content.text,
        "time_limit_seconds": time_limit,
        "points": points,
    }
    if content.kind in ("single", "multiple"):
        options = [choice.text for choice in content.choices]
        right = [i for i, choice in enumerate(content.choices) if choice.fraction > 0]
        if content.kind == "single":
            right = [max(range(len(options)), key=lambda i: content.choices[i].fraction)]
        return LiveQuestion(type=content.kind, options=options, correct_options=right, **common)
    if content.kind == "truefalse" and content.correct is not None:
        return LiveQuestion(
            type="truefalse",
            options=list(TRUE_FALSE),
            correct_options=[0 if content.correct else 1],
            **common,
        )
    if content.kind == "shortanswer":
        accepted = [answer.text for answer in content.short_answers if answer.fraction >= 1]
        return LiveQuestion(type="text", accepted_answers=accepted, **common) if accepted else None
    if content.kind == "numerical":
        for answer in content.numeric_answers:
            if answer.fraction >= 1 and answer.value is not None:
                return LiveQuestion(
                    type="numeric",
                    correct_value=answer.value,
                    tolerance=answer.tolerance,
                    **common,
                )
        return None
    if content.kind == "ordering" and len(content.items) >= 2:
        shown = list(range(len(content.items)))
        random.Random(seed).shuffle(shown)
        options = [content.items[i] for i in shown]
        order = sorted(range(len(shown)), key=lambda position: shown[position])
        return LiveQuestion(type="ordering", options=options, correct_options=order, **common)
    return None


# --- answers ----------------------------------------------------------------------------------


def _index(raw: Any, size: int) -> int:
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < size:
        raise InvalidAnswer(f"selectedOption must be an option index from 0 to {size - 1}")
    return raw


def parse_response(question: LiveQuestion, raw: Any) -> Any:
    """The answer in its canonical shape for the question's type; 422 ``invalid_answer``
    when it does not fit (an option index, a list of them, true/false, a number, a text)."""
    size = len(question.options)
    if question.type in ("single", "poll"):
        return _index(raw, size)
    if question.type == "truefalse":
        if isinstance(raw, bool):
            return 0 if raw else 1
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return 0 if raw.strip().lower() == "true" else 1
        return _index(raw, size)
    if question.type in ("multiple", "ordering"):
        items = raw if isinstance(raw, list) else [raw]
        chosen = [_index(item, size) for item in items]
        if len(set(chosen)) != len(chosen) or not chosen:
            raise InvalidAnswer("selectedOption must list distinct option indexes")
        if question.type == "ordering" and len(chosen) != size:
            raise InvalidAnswer("an ordering lists every option index once")
        return sorted(chosen) if question.type == "multiple" else chosen
    if question.type == "numeric":
        if isinstance(raw, str):
            try:
                raw = float(raw.strip())
            except ValueError:
                raise InvalidAnswer("selectedOption must be a number") from None
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise InvalidAnswer("selectedOption must be a number")
        return raw
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_TEXT_ANSWER:
        raise InvalidAnswer(f"selectedOption must be a text of 1 to {MAX_TEXT_ANSWER} characters")
    return raw.strip()


def _normal_text(text: str) -> str:
    return " ".join(text.casefold().split())


def is_correct(question: LiveQuestion, response: Any) -> bool | None:
    """Whether a parsed response is right; None for a question nobody can get wrong (a poll)."""
    if question.type == "poll":
        return None
    if question.type in ("single", "truefalse"):
        return bool(response == question.correct_options[0])
    if question.type == "multiple":
        return bool(response == sorted(question.correct_options))
    if question.type == "ordering":
        return bool(response == question.correct_options)
    if question.type == "numeric":
        assert question.correct_value is not None
        # A hair of slack so 0.1 + 0.2 is within 0 tolerance of 0.3.
        slack = 1e-9 * max(1.0, abs(question.correct_value))
        return abs(float(response) - question.correct_value) <= question.tolerance + slack
    accepted = {_normal_text(answer) for answer in question.accepted_answers}
    return _normal_text(str(response)) in accepted


def answer_view(question: LiveQuestion, index: int, count: int) -> dict[str, Any]:
    """Only what it takes to answer a question shown on the host's screen: its type,
    each option's id with its mark (never its text), the slider's range."""
    view: dict[str, Any] = {
        "questionId": question.id,
        "index": index,
        "count": count,
        "type": question.type,
        "timeLimitSeconds": question.time_limit_seconds,
        "points": question.points,
    }
    if question.options:
        view["choices"] = [
            {"id": option, "shape": shape, "color": color}
            for option, (shape, color) in enumerate(CHOICE_MARKS[: len(question.options)])
        ]
    if question.min is not None:
        view["min"], view["max"] = question.min, question.max
    return view


def player_view(
    question: LiveQuestion, index: int, count: int, image_url: str | None = None
) -> dict[str, Any]:
    """What a player sees of a question: no key, no tolerance, no accepted answers."""
    view = answer_view(question, index, count)
    view["text"], view["options"] = question.text, question.options
    if image_url is not None:
        view["imageUrl"], view["imageAlt"] = image_url, question.image_alt
    return view


def key_view(question: LiveQuestion) -> dict[str, Any]:
    """The right answer as revealed after a question closes."""
    if question.type == "text":
        return {"acceptedAnswers": question.accepted_answers}
    if question.type == "numeric":
        return {"correctValue": question.correct_value, "tolerance": question.tolerance}
    if question.type == "poll":
        return {}
    return {"correctOptions": question.correct_options}
