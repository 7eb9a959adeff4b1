"""Moodle GIFT import and export.

Parsing follows Moodle's own importer (``question/format/gift/format.php``) rule
for rule, so a file types here the way it types in Moodle: questions are blocks
separated by blank lines, every line is trimmed, ``//`` lines are comments
(their ``[id:...]``/``[tag:...]`` tokens are kept), a block starting with
``$CATEGORY:`` switches category, the first ``{`` and ``}`` delimit the answers,
and text after the ``}`` makes a missing-word question.

Where Moodle silently guesses at a malformed question, this parser reports it
instead (a teacher should hear about a typo, not find a strange question later):
an unclosed title, a second or nested answer block, answers without ``=``/``~``,
a weight after ``=``, malformed weights and numbers, ``->`` pairs with feedback,
and lower-case ``{true}``. The one leniency: a question written right under its
``$CATEGORY:`` line (no blank line) is read, where Moodle would swallow it into
the category's name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise

import msgspec

from studyhall.questions.formats.model import (
    BLANK,
    TEXT_FORMATS,
    Choice,
    MatchPair,
    NumericAnswer,
    ParsedQuestion,
    ParseIssue,
    ParseReport,
    QuestionKind,
    ShortAnswer,
    TextFormat,
)

__all__ = ["parse_gift", "write_gift"]

_TRIM = " \t\n\r\x00\x0b"
"""PHP's trim() set: Moodle trims with it, so "the same text" means the same here."""

# While a question's structure is parsed, escaped control characters stand in as
# Unicode noncharacters (reserved for internal use), as Moodle's "&&058;" do.
_PLACEHOLDERS = {":": "\ufdd0", "#": "\ufdd1", "=": "\ufdd2", "{": "\ufdd3"}
_PLACEHOLDERS |= {"}": "\ufdd4", "~": "\ufdd5", "n": "\ufdd6", "\\": "\\"}
_ESCAPE = re.compile(r"\\([\\:#={}~n])")
_RESERVED = re.compile("[\ufdd0-\ufdd6]")
_RESTORE = str.maketrans(
    {held: "\n" if char == "n" else char for char, held in _PLACEHOLDERS.items() if char != "\\"}
)
_WRITE_ESCAPES = str.maketrans(
    {"\n" if char == "n" else char: "\\" + char for char in _PLACEHOLDERS} | {"\r": ""}
)
_CATEGORY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": ""})

_FORMATS: dict[str, TextFormat] = {name: name for name in TEXT_FORMATS}
_TRUE_FALSE = {"T": True, "TRUE": True, "F": False, "FALSE": False}
_MARKER = re.compile("[=~]")
_WEIGHT_SHAPE = re.compile(r"%(-*[0-9.]*)%")  # what Moodle's weight regex starts to accept
_DECIMAL = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_IDNUMBER = re.compile(r"\[id:((?:\\\]|[^\]\x00-\x1f\x7f])+)\]")
_TAG = re.compile(r"\[tag:((?:\\\]|[^\]<>`\x00-\x1f\x7f])+)\]")


class _Broken(Exception):
    """A question that cannot be imported; ``at`` is an offset into its block's source."""

    def __init__(self, at: int, message: str) -> None:
        super().__init__(message)
        self.at = at
        self.message = message


@dataclass
class _Block:
    """The trimmed lines between two blank lines, comments kept apart."""

    lines: list[str] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def line_at(self, source: str, at: int) -> int:
        """Source line of an offset into the joined block (escapes never span lines)."""
        return self.numbers[source.count("\n", 0, at)]


@dataclass(frozen=True, slots=True)
class _Header:
    """What a question gets from around it: category, start line, comment tokens."""

    category: str | None
    line: int
    idnumber: str | None
    tags: list[str]

    def question(
        self, kind: QuestionKind, text: str, text_format: TextFormat, title: str | None
    ) -> ParsedQuestion:
        return ParsedQuestion(
            kind=kind,
            text=text,
            text_format=text_format,
            title=title,
            category=self.category,
            idnumber=self.idnumber,
            tags=self.tags,
            line=self.line,
        )


@dataclass(frozen=True, slots=True)
class _Item:
    """One answer inside ``{...}``: its ``=``/``~`` marker ("" if none) and raw text."""

    marker: str
    raw: str
    at: int


def parse_gift(text: str) -> ParseReport:
    """Parse a GIFT file; each broken question becomes one line-numbered issue, the rest import."""
    questions: list[ParsedQuestion] = []
    errors: list[ParseIssue] = []
    category: str | None = None
    for block in _blocks(text):
        joined = "\n".join(block.lines)
        reserved = _RESERVED.search(joined)
        if reserved:
            line = block.line_at(joined, reserved.start())
            errors.append(
                ParseIssue(line, "contains a reserved Unicode noncharacter (U+FDD0-U+FDD6)")
            )
            continue
        source = _ESCAPE.sub(_placeholder, joined) if "\\" in joined else joined
        start = 0
        if source.startswith("$CATEGORY:"):
            end = source.find("\n")
            start = len(source) + 1 if end < 0 else end + 1
            category = _text(source[len("$CATEGORY:") : start - 1]) or None
            if start >= len(source):
                continue
        header = _Header(
            category, block.line_at(source, start), *_idnumber_and_tags(block.comments)
        )
        try:
            questions.append(_question(source, start, header))
        except _Broken as broken:
            errors.append(ParseIssue(block.line_at(source, broken.at), broken.message))
    return ParseReport(questions, errors)


def _blocks(text: str) -> Iterator[_Block]:
    """Split a file into question blocks the way Moodle does: on blank lines."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    block = _Block()
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(_TRIM)
        if not line:
            if block.lines:
                yield block
            block = _Block()
        elif line.startswith("//"):
            block.comments.append(line)
        else:
            block.lines.append(line)
            block.numbers.append(number)
    if block.lines:
        yield block


def _placeholder(escape: re.Match[str]) -> str:
    return _PLACEHOLDERS[escape.group(1)]


def _question(source: str, start: int, header: _Header) -> ParsedQuestion:
    """Read one question from ``source[start:]`` (escapes already replaced)."""
    at = start
    title = None
    if source.startswith("::", at):
        end = source.find("::", at + 2)
        if end < 0:
            raise _Broken(at, "the title opened with '::' is never closed (escape a colon as \\:)")
        title = _text(source[at + 2 : end]) or None
        at = _skip_blank(source, end + 2)
    opening = source.find("{", at)
    closing = source.find("}", at)
    if closing >= 0 and (opening < 0 or closing < opening):
        raise _Broken(closing, "'}' without an opening '{' (escape a literal brace as \\})")
    if opening >= 0 and closing < 0:
        raise _Broken(
            opening, "'{' is never closed; a blank line ends a question (escape a brace as \\{)"
        )
    if opening < 0:
        text, text_format = _rich(source[at:], "moodle")
        if not text:
            raise _Broken(start, "the question has no text")
        return header.question("description", text, text_format, title)
    _reject_more_braces(source, opening, closing)
    if closing == len(source) - 1:
        stem = source[at:opening]
    else:
        stem = source[at:opening] + BLANK + source[closing + 1 :]
    text, text_format = _rich(stem, "moodle")
    if not text:
        raise _Broken(start, "the question has no text")
    area = source[opening + 1 : closing]
    cut = area.rfind("####")
    general_feedback, general_format = _feedback(area[cut + 4 :] if cut >= 0 else "", text_format)
    body = (area[:cut] if cut >= 0 else area).strip(_TRIM)
    base = msgspec.structs.replace(
        header.question("essay", text, text_format, title),
        general_feedback=general_feedback,
        general_feedback_format=general_format,
    )
    return _typed(base, body, _skip_blank(source, opening + 1))


def _typed(base: ParsedQuestion, body: str, at: int) -> ParsedQuestion:
    """Moodle's typing rules, in Moodle's order, applied to the trimmed answer block."""
    if not body:
        return base
    if body[0] == "#":
        return _numerical(base, body[1:], at + 1)
    if "~" in body:
        return _choice(base, body, at)
    if "=" in body and "->" in body:
        return _matching(base, body, at)
    head, *_ = body.split("#", 1)
    head = head.strip(_TRIM)
    if head in _TRUE_FALSE:
        return _truefalse(base, body)
    if "=" in body:
        return _shortanswer(base, body, at)
    if head.upper() in _TRUE_FALSE:
        raise _Broken(at, f"'{head}' is not true/false: write T, TRUE, F or FALSE in capitals")
    raise _Broken(
        at,
        f"'{_show(head)}' is not an answer: right answers start with '=', other choices "
        "with '~'; true/false is T, TRUE, F or FALSE",
    )


def _choice(base: ParsedQuestion, body: str, at: int) -> ParsedQuestion:
    """An ``=`` answer makes it "single"; with only ``~`` answers it is "multiple"."""
    items = _items(body, at, "each choice starts with '=' (right answer) or '~' (other answer)")
    if len(items) < 2:
        raise _Broken(at, "a multiple-choice question needs at least two choices")
    question_format = base.text_format
    choices: list[Choice] = []
    for item in items:
        weight, rest = _weight(item)
        if item.marker == "=":
            if weight is not None:
                raise _Broken(
                    item.at, "'=' already means 100%; put a weight after '~' instead, like ~%50%"
                )
            weight = 1.0
        raw_text, _, raw_feedback = rest.partition("#")
        text, text_format = _rich(raw_text, question_format)
        if not text:
            raise _Broken(item.at, "a choice has no text")
        feedback, feedback_format = _feedback(raw_feedback, question_format)
        choices.append(
            Choice(
                text=text,
                fraction=0.0 if weight is None else weight,
                feedback=feedback,
                text_format=_own(text_format, question_format),
                feedback_format=feedback_format,
            )
        )
    if any(item.marker == "=" for item in items):
        return msgspec.structs.replace(base, kind="single", choices=choices)
    total = sum(choice.fraction for choice in choices if choice.fraction > 0)
    if round(total, 2) != 1:
        raise _Broken(
            at,
            "the positive weights of a multiple-answer question must add up to 100% "
            f"(these add up to {total * 100:g}%)",
        )
    return msgspec.structs.replace(base, kind="multiple", choices=choices)


def _matching(base: ParsedQuestion, body: str, at: int) -> ParsedQuestion:
    """``=prompt -> answer`` pairs; ``= -> answer`` adds a distractor answer with no prompt."""
    items = _items(body, at, "each matching pair starts with '='")
    question_format = base.text_format
    pairs: list[MatchPair] = []
    for item in items:
        raw_prompt, arrow, raw_answer = item.raw.partition("->")
        if not arrow:
            raise _Broken(item.at, f"'{_show(item.raw)}' is not a pair: write =prompt -> answer")
        if "#" in item.raw:
            raise _Broken(
                item.at, "matching pairs take no '#' feedback (escape a literal # as \\#)"
            )
        prompt, prompt_format = _rich(raw_prompt, question_format)
        answer = _text(raw_answer)
        if not answer:
            raise _Broken(item.at, f"'{_show(raw_prompt)}' has no answer after '->'")
        prompt_format_own = _own(prompt_format, question_format) if prompt else None
        pairs.append(MatchPair(prompt=prompt, answer=answer, prompt_format=prompt_format_own))
    if len(pairs) < 3 or sum(1 for pair in pairs if pair.prompt) < 2:
        raise _Broken(
            at,
            "a matching question needs at least three pairs, at least two of them with a "
            "prompt ('= -> answer' adds an extra answer)",
        )
    return msgspec.structs.replace(base, kind="matching", pairs=pairs)


def _truefalse(base: ParsedQuestion, body: str) -> ParsedQuestion:
    """``{T#wrong#right}``: as in Moodle, the first feedback answers a wrong pick."""
    head, raw_wrong, raw_right = [*body.split("#", 2), "", ""][:3]
    correct = _TRUE_FALSE[head.strip(_TRIM)]
    wrong, wrong_format = _feedback(raw_wrong, base.text_format)
    right, right_format = _feedback(raw_right, base.text_format)
    if correct:
        return msgspec.structs.replace(
            base,
            kind="truefalse",
            correct=True,
            feedback_true=right,
            feedback_true_format=right_format,
            feedback_false=wrong,
            feedback_false_format=wrong_format,
        )
    return msgspec.structs.replace(
        base,
        kind="truefalse",
        correct=False,
        feedback_true=wrong,
        feedback_true_format=wrong_format,
        feedback_false=right,
        feedback_false_format=right_format,
    )


def _shortanswer(base: ParsedQuestion, body: str, at: int) -> ParsedQuestion:
    """``=answer`` each, weighted 100% unless ``=%n%`` says otherwise; ``*`` is a wildcard."""
    answers: list[ShortAnswer] = []
    for item in _items(body, at, "each short answer starts with '='"):
        weight, rest = _weight(item)
        raw_text, _, raw_feedback = rest.partition("#")
        text, _format = _rich(raw_text, base.text_format)  # Moodle keeps an answer's text only
        if not text:
            raise _Broken(item.at, "a short answer has no text")
        feedback, feedback_format = _feedback(raw_feedback, base.text_format)
        answers.append(
            ShortAnswer(
                text=text,
                fraction=1.0 if weight is None else weight,
                feedback=feedback,
                feedback_format=feedback_format,
            )
        )
    return msgspec.structs.replace(base, kind="shortanswer", short_answers=answers)


def _numerical(base: ParsedQuestion, body: str, at: int) -> ParsedQuestion:
    """``{#v:tolerance}``, ``{#lo..hi}`` or several ``=%n%`` answers, then ``~#feedback`` last."""
    items = _items(body, at, None)
    graded = [item for item in items if item.marker != "~"]
    if not graded:
        raise _Broken(at, "a numerical answer block needs at least one number")
    if len(graded) > 1 and graded[0].marker == "":
        raise _Broken(at, "with several numerical answers, start each with '='")
    answers: list[NumericAnswer] = []
    for item in items:
        if item.marker == "~":
            if item is not items[-1]:
                raise _Broken(item.at, "'~' starts the feedback for any other answer: put it last")
            ignored, _, raw_feedback = item.raw.partition("#")
            if ignored.strip(_TRIM):
                raise _Broken(item.at, f"only '#feedback' may follow '~', not '{_show(ignored)}'")
            feedback, feedback_format = _feedback(raw_feedback, base.text_format)
            answers.append(
                NumericAnswer(fraction=0.0, feedback=feedback, feedback_format=feedback_format)
            )
            continue
        weight, rest = _weight(item)
        raw_value, _, raw_feedback = rest.partition("#")
        feedback, feedback_format = _feedback(raw_feedback, base.text_format)
        value, _format = _rich(raw_value, base.text_format)
        answers.append(
            msgspec.structs.replace(
                _numeric_value(value, item.at),
                fraction=1.0 if weight is None else weight,
                feedback=feedback,
                feedback_format=feedback_format,
            )
        )
    return msgspec.structs.replace(base, kind="numerical", numeric_answers=answers)


def _numeric_value(text: str, at: int) -> NumericAnswer:
    """``*``, ``lo..hi``, ``value:tolerance`` or ``value``, checked in Moodle's order."""
    if text == "*":
        return NumericAnswer()
    low, dots, high = text.partition("..")
    if dots and low:
        minimum, maximum = _number(low, at), _number(high, at)
        if minimum > maximum:
            raise _Broken(at, f"the range {text} runs backwards")
        return NumericAnswer(min=minimum, max=maximum)
    value, colon, tolerance = text.partition(":")
    if not (colon and value):
        return NumericAnswer(value=_number(text, at))
    margin = _number(tolerance, at)
    if margin < 0:
        raise _Broken(at, f"the tolerance in {text} is negative")
    return NumericAnswer(value=_number(value, at), tolerance=margin)


def _number(text: str, at: int) -> float:
    text = text.strip(_TRIM)
    if not _NUMBER.fullmatch(text) or not math.isfinite(number := float(text)):
        raise _Broken(at, f"'{_show(text)}' is not a number")
    return number


def _items(body: str, at: int, lead_error: str | None) -> list[_Item]:
    """Cut an answer block at each ``=``/``~``; text before the first one is only allowed
    where ``lead_error`` is None (a lone numerical answer)."""
    cuts = [marker.start() for marker in _MARKER.finditer(body)]
    items: list[_Item] = []
    lead = body[: cuts[0] if cuts else len(body)].strip(_TRIM)
    if lead:
        if lead_error is not None:
            raise _Broken(at, f"'{_show(lead)}': {lead_error}")
        items.append(_Item("", lead, at))
    for cut, end in pairwise([*cuts, len(body)]):
        items.append(_Item(body[cut], body[cut + 1 : end].strip(_TRIM), at + cut))
    return items


def _weight(item: _Item) -> tuple[float | None, str]:
    """A leading ``%n%`` as a fraction (exact: ``%33.33333%`` is 0.3333333), and the rest."""
    shape = _WEIGHT_SHAPE.match(item.raw)
    if shape is None:
        return None, item.raw
    number = shape.group(1)
    if not _DECIMAL.fullmatch(number) or not -100 <= Decimal(number) <= 100:
        raise _Broken(item.at, f"'%{number}%' is not a weight: write -100 to 100, like %50%")
    return float(Decimal(number) / 100), item.raw[shape.end() :]


def _rich(raw: str, default: TextFormat) -> tuple[str, TextFormat]:
    """Split a ``[html]``-style format prefix off a text and unescape it (Moodle's rule)."""
    raw = raw.strip(_TRIM)
    if raw.startswith("["):
        end = raw.find("]")
        text_format = _FORMATS.get(raw[1:end]) if end > 0 else None
        if text_format is not None:
            return _text(raw[end + 1 :]), text_format
    return _text(raw), default


def _feedback(raw: str, question_format: TextFormat) -> tuple[str | None, TextFormat | None]:
    text, text_format = _rich(raw, question_format)
    if not text:
        return None, None
    return text, _own(text_format, question_format)


def _own(text_format: TextFormat, question_format: TextFormat) -> TextFormat | None:
    """A part keeps its format only where it differs from the question's."""
    return None if text_format == question_format else text_format


def _text(raw: str) -> str:
    return raw.translate(_RESTORE).strip(_TRIM)


def _show(raw: str) -> str:
    """Quote source text in an error message, shortened."""
    text = _text(raw)
    return text if len(text) <= 40 else text[:39] + "…"


def _skip_blank(source: str, at: int) -> int:
    while at < len(source) and source[at] in _TRIM:
        at += 1
    return at


def _reject_more_braces(source: str, opening: int, closing: int) -> None:
    nested = source.find("{", opening + 1, closing)
    if nested >= 0:
        raise _Broken(nested, "'{' inside an answer block (escape a literal brace as \\{)")
    for brace in "{}":
        extra = source.find(brace, closing + 1)
        if extra >= 0:
            raise _Broken(
                extra, "a second answer block: GIFT allows one (escape literal braces as \\{ \\})"
            )


def _idnumber_and_tags(comments: list[str]) -> tuple[str | None, list[str]]:
    """Moodle 3.6+ keeps a question's ``[id:...]`` and ``[tag:...]`` in its comment lines."""
    if not comments:
        return None, []
    text = "\n".join(comments)
    found = _IDNUMBER.search(text)
    idnumber = found.group(1).strip(_TRIM).replace("\\]", "]") if found else None
    tags = [tag.strip(_TRIM).replace("\\]", "]") for tag in _TAG.findall(text)]
    return idnumber or None, [tag for tag in tags if tag]


def write_gift(questions: Iterable[ParsedQuestion]) -> str:
    """Write questions as GIFT that both Moodle and :func:`parse_gift` read back unchanged.

    Raises ValueError for what GIFT cannot say: ``->`` in a matching prompt or in a
    short-answer question, a single-choice question without a 100% choice, or an
    idnumber/tag with characters Moodle's comment tokens cannot hold.
    """
    out: list[str] = []
    category: str | None = None
    for question in questions:
        if question.category != category:
            category = question.category
            out.append(f"$CATEGORY: {(category or '').translate(_CATEGORY_ESCAPES)}\n\n")
        out.append(_write_question(question))
    return "".join(out)


def _write_question(question: ParsedQuestion) -> str:
    out = [_write_comment(question)]
    if question.title:
        out.append(f"::{_escape(question.title)}::")
    if question.kind == "description":
        out.append(_write_rich(question.text, question.text_format, "moodle"))
    else:
        before, blank, after = question.text.partition(BLANK)
        out.append(_write_rich(before, question.text_format, "moodle"))
        out.append(_write_block(question, inline=bool(blank)))
        if blank:  # a trailing escaped newline keeps a blank at the very end a blank
            out.append(_escape(after) if after else "\\n")
    out.append("\n\n")
    return "".join(out)


def _write_block(question: ParsedQuestion, *, inline: bool) -> str:
    items = _write_answers(question)
    if question.general_feedback:
        feedback_format = question.general_feedback_format or question.text_format
        items.append(
            "####" + _write_rich(question.general_feedback, feedback_format, question.text_format)
        )
    opening = "{#" if question.kind == "numerical" else "{"
    if inline or len(items) <= 1:
        return opening + " ".join(items) + "}"
    return opening + "\n\t" + "\n\t".join(items) + "\n}"


def _write_answers(question: ParsedQuestion) -> list[str]:
    question_format = question.text_format
    match question.kind:
        case "single" | "multiple":
            return _write_choices(question)
        case "truefalse":
            return [_write_truefalse(question)]
        case "numerical":
            answers = question.numeric_answers
            last = len(answers) - 1
            return [
                _write_numeric(answer, question_format, index == last)
                for index, answer in enumerate(answers)
            ]
        case "shortanswer":
            return [_write_short(answer, question_format) for answer in question.short_answers]
        case "matching":
            return [_write_pair(pair, question_format) for pair in question.pairs]
        case _:
            return []


def _write_choices(question: ParsedQuestion) -> list[str]:
    """The first 100% choice of a single-choice question gets ``=``, every other one ``~``."""
    question_format = question.text_format
    right = -1
    if question.kind == "single":
        right = next((i for i, c in enumerate(question.choices) if c.fraction == 1), -1)
        if right < 0:
            raise ValueError("a single-choice question needs a choice worth 100%")
    out = []
    for index, choice in enumerate(question.choices):
        mark = "=" if index == right else "~" + _write_weight(choice.fraction, 0.0)
        text = _write_rich(choice.text, choice.text_format or question_format, question_format)
        feedback = _write_feedback(choice.feedback, choice.feedback_format, question_format)
        out.append(mark + text + feedback)
    return out


def _write_truefalse(question: ParsedQuestion) -> str:
    question_format = question.text_format
    true = _write_rich_or_empty(
        question.feedback_true, question.feedback_true_format, question_format
    )
    false = _write_rich_or_empty(
        question.feedback_false, question.feedback_false_format, question_format
    )
    answer, wrong, right = ("TRUE", false, true) if question.correct else ("FALSE", true, false)
    if right:
        return f"{answer}#{wrong}#{right}"
    return f"{answer}#{wrong}" if wrong else answer


def _write_numeric(answer: NumericAnswer, question_format: TextFormat, last: bool) -> str:
    feedback = _write_feedback(answer.feedback, answer.feedback_format, question_format)
    if answer.min is not None and answer.max is not None:
        value = f"{_write_number(answer.min)}..{_write_number(answer.max)}"
    elif answer.value is not None:
        value = _write_number(answer.value)
        if answer.tolerance:
            value += ":" + _write_number(answer.tolerance)
    elif last and answer.fraction == 0:
        return "~" + feedback  # Moodle's own form for "any other answer"
    else:
        value = "*"
    return "=" + _write_weight(answer.fraction, 1.0) + value + feedback


def _write_number(number: float) -> str:
    """The shortest text that reads back as exactly ``number`` (1822, not 1822.0)."""
    return repr(number).removesuffix(".0")


def _write_short(answer: ShortAnswer, question_format: TextFormat) -> str:
    if "->" in answer.text or "->" in (answer.feedback or ""):
        raise ValueError(f"GIFT would read '->' in short answer {answer.text!r} as matching")
    text = _write_rich(answer.text, question_format, question_format)
    feedback = _write_feedback(answer.feedback, answer.feedback_format, question_format)
    return "=" + _write_weight(answer.fraction, 1.0) + text + feedback


def _write_pair(pair: MatchPair, question_format: TextFormat) -> str:
    if "->" in pair.prompt:
        raise ValueError(f"GIFT cannot write '->' inside the matching prompt {pair.prompt!r}")
    prompt = _write_rich(pair.prompt, pair.prompt_format or question_format, question_format)
    return f"={prompt} -> {_escape(pair.answer)}"


def _write_weight(fraction: float, default: float) -> str:
    """``%n%`` with the exact decimal of ``fraction`` (so parsing gives the same float back)."""
    if fraction == default:
        return ""
    percent = (Decimal(repr(fraction)) * 100).normalize()
    return f"%{percent:f}%"


def _write_feedback(
    feedback: str | None, feedback_format: TextFormat | None, question_format: TextFormat
) -> str:
    text = _write_rich_or_empty(feedback, feedback_format, question_format)
    return "#" + text if text else ""


def _write_rich_or_empty(
    text: str | None, text_format: TextFormat | None, question_format: TextFormat
) -> str:
    return _write_rich(text, text_format or question_format, question_format) if text else ""


def _write_rich(text: str, text_format: TextFormat, default: TextFormat) -> str:
    """Escape a text and name its format when it differs, or when the text itself would
    read as a format prefix, a comment or a weight."""
    explicit = text_format != default or text.startswith(("[", "//", "%"))
    return (f"[{text_format}]" if explicit else "") + _escape(text)


def _escape(text: str) -> str:
    return text.translate(_WRITE_ESCAPES)


def _write_comment(question: ParsedQuestion) -> str:
    tokens = [f"[tag:{_bracketed(tag)}]" for tag in question.tags]
    if question.idnumber:
        tokens.insert(0, f"[id:{_bracketed(question.idnumber)}]")
    if not tokens:
        return ""
    comment = "// " + " ".join(tokens)
    if _idnumber_and_tags([comment]) != (question.idnumber, question.tags):
        raise ValueError(f"GIFT cannot hold the idnumber/tags in {comment!r}")
    return comment + "\n"


def _bracketed(token: str) -> str:
    return token.replace("]", "\\]")
