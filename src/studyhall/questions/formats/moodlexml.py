"""Moodle XML import and export.

Reading follows Moodle's own importer (``question/format/xml/format.php``) so a
file types here the way it types in Moodle: ``<quiz>`` holds ``<question
type="...">`` elements, a ``category`` question switches the category of the
ones after it, fractions are percentages, texts are trimmed, a missing
``format`` attribute means "html" on the question text and "same as the
question" everywhere else, and an unknown format name is read as html.

The file comes from a user, so it is parsed with :mod:`defusedxml` with DTDs
forbidden: no entity expansion (billion laughs), no external entities (XXE).
Where Moodle would save a question it cannot grade, or silently drop a part of
it, this importer reports the question with the line of the offending element
instead: unsupported question types, numerical units, bad fractions, numbers or
base64, too few choices or pairs, and choice fractions that do not add up.
Settings the interchange model has no place for (``usecase``, ``shuffleanswers``,
``defaultgrade``, ``penalty``, combined feedback, hints, essay options) are read
past, as the GIFT importer does.

Embedded files (``<file encoding="base64">``, referenced from texts as
``@@PLUGINFILE@@/name``) have no field in the interchange model, so
:func:`parse_moodle_xml_with_files` returns them beside the report; the caller
may refuse a file (``check_file``), which refuses its question at the file's line.
"""

from __future__ import annotations

import base64
import binascii
import math
import mimetypes
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import PurePosixPath
from xml.etree.ElementTree import Element, ParseError, TreeBuilder
from xml.sax.saxutils import quoteattr

import msgspec
from defusedxml import DefusedXmlException, DTDForbidden  # type: ignore[import-untyped]
from defusedxml.ElementTree import DefusedXMLParser  # type: ignore[import-untyped]

from studyhall.questions.formats.model import (
    Choice,
    MatchPair,
    NumericAnswer,
    ParsedQuestion,
    ParseIssue,
    ParseReport,
    ShortAnswer,
    TextFormat,
)

__all__ = [
    "EmbeddedFile",
    "FileCheck",
    "guess_media_type",
    "parse_moodle_xml",
    "parse_moodle_xml_with_files",
    "write_moodle_xml",
]

_TRIM = " \t\n\r\x00\x0b"
"""PHP's trim() set: Moodle trims every text with it."""

_FORMAT_NAMES: dict[str, TextFormat] = {
    "moodle_auto_format": "moodle",
    "html": "html",
    "plain_text": "plain",
    "markdown": "markdown",
    "wiki_like": "markdown",  # Moodle converted its retired wiki format to Markdown
}
_FORMAT_ATTRIBUTES: dict[TextFormat, str] = {
    "moodle": "moodle_auto_format",
    "html": "html",
    "plain": "plain_text",
    "markdown": "markdown",
}
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot carry at all, not even as character references."""
_MARKUP = re.compile("[&<>]")
_SUPPORTED = "multichoice, truefalse, shortanswer, numerical, matching, essay and description"


class EmbeddedFile(msgspec.Struct, frozen=True, kw_only=True):
    """A file carried inside a question (an image, usually), as its texts refer to it.

    ``name`` is the path after ``@@PLUGINFILE@@/`` in the question's texts
    (``diagram.png``, or ``sub/diagram.png`` for a file in a Moodle subfolder).
    """

    name: str
    data: bytes
    media_type: str


def guess_media_type(name: str) -> str:
    """The media type for a file name's extension; the same answer on every machine."""
    suffix = PurePosixPath(name).suffix.lower()
    return _MEDIA_TYPES.get(suffix, "application/octet-stream")


def _media_types() -> dict[str, str]:
    # The stdlib's built-in table only (not the host's /etc/mime.types), plus what it lacks.
    table = dict(mimetypes.MimeTypes().types_map[True])
    table |= {".webp": "image/webp", ".avif": "image/avif", ".ogg": "audio/ogg"}
    table |= {".oga": "audio/ogg", ".ogv": "video/ogg", ".opus": "audio/opus"}
    table |= {".m4a": "audio/mp4", ".flac": "audio/flac", ".weba": "audio/webm"}
    return table


_MEDIA_TYPES = _media_types()

FileCheck = Callable[[EmbeddedFile], str | None]
"""Why an embedded file cannot be kept, or None when it can."""


class _Broken(Exception):
    """A question that cannot be imported, and the element that says why."""

    def __init__(self, element: Element, message: str) -> None:
        super().__init__(message)
        self.element = element
        self.message = message


class _Unreadable(Exception):
    """A file that is not well-formed XML, or that the safe parser refuses."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _LineTracker:
    """A tree builder that notes the source line of each start tag.

    ElementTree keeps no positions, and issues must point at a line.
    """

    def __init__(self) -> None:
        self._builder = TreeBuilder()
        self.lines: dict[Element, int] = {}
        self.current_line: Callable[[], int] = lambda: 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        element = self._builder.start(tag, attrs)
        self.lines[element] = self.current_line()
        return element

    def end(self, tag: str) -> Element:
        return self._builder.end(tag)

    def data(self, data: str) -> None:
        self._builder.data(data)

    def close(self) -> Element:
        return self._builder.close()


def parse_moodle_xml(text: str) -> ParseReport:
    """Parse a Moodle XML file; each broken question becomes one line-numbered issue."""
    return parse_moodle_xml_with_files(text)[0]


def parse_moodle_xml_with_files(
    text: str, *, check_file: FileCheck | None = None
) -> tuple[ParseReport, dict[int, list[EmbeddedFile]]]:
    """Parse a Moodle XML file and keep its embedded files.

    The dict maps a question's index in ``report.questions`` to its files; a
    question without files has no entry. A file that is not well-formed XML, or
    that declares a DTD, gives one issue and no questions. ``check_file`` says why
    an embedded file cannot be kept (None: it can); its question is then reported
    with that reason at the ``<file>`` line, like any other broken question.
    """
    try:
        root, lines = _read_tree(text)
    except _Unreadable as unreadable:
        return ParseReport([], [ParseIssue(unreadable.line, unreadable.message)]), {}
    if root.tag != "quiz":
        message = f"not a Moodle XML file: the root element is <{root.tag}>, not <quiz>"
        return ParseReport([], [ParseIssue(lines.get(root, 1), message)]), {}
    questions: list[ParsedQuestion] = []
    errors: list[ParseIssue] = []
    attachments: dict[int, list[EmbeddedFile]] = {}
    category: str | None = None
    for element in root:
        line = lines.get(element, 0)
        try:
            if element.tag != "question":
                raise _Broken(element, f"<{element.tag}> is not a <question>")
            question_type = (element.get("type") or "").strip(_TRIM)
            if question_type == "category":
                category = _category(element)
                continue
            question, files = _question(element, question_type, category, line, check_file)
        except _Broken as broken:
            errors.append(ParseIssue(lines.get(broken.element, line), broken.message))
            continue
        if files:
            attachments[len(questions)] = files
        questions.append(question)
    return ParseReport(questions, errors), attachments


def _read_tree(text: str) -> tuple[Element, dict[Element, int]]:
    tracker = _LineTracker()
    parser = DefusedXMLParser(target=tracker, forbid_dtd=True)
    expat = parser.parser
    tracker.current_line = lambda: int(expat.CurrentLineNumber)
    try:
        parser.feed(text.removeprefix("\ufeff"))
        root: Element = parser.close()
    except ParseError as error:
        line, column = error.position
        reason = str(error).split(": line ", 1)[0]
        raise _Unreadable(line, f"malformed XML: {reason} (column {column + 1})") from None
    except DefusedXmlException as refused:
        line = int(expat.CurrentLineNumber)
        if isinstance(refused, DTDForbidden):
            message = (
                "refused: the file declares a DTD (<!DOCTYPE ...>); Moodle XML never has one, "
                "and DTD entities are how XML bombs and external-entity (XXE) attacks work"
            )
        else:
            message = f"refused: the file uses XML entities ({type(refused).__name__})"
        raise _Unreadable(line, message) from None
    return root, tracker.lines


def _category(element: Element) -> str | None:
    holder = element.find("category")
    if holder is None:
        raise _Broken(element, "a category question needs <category><text>path</text></category>")
    if holder.find("text") is None:  # <category>path</category>, as Moodle's own docs show it
        return (holder.text or "").strip(_TRIM) or None
    return _text(holder) or None


_Reader = Callable[[Element, ParsedQuestion], ParsedQuestion]


def _question(
    element: Element,
    question_type: str,
    category: str | None,
    line: int,
    check_file: FileCheck | None,
) -> tuple[ParsedQuestion, list[EmbeddedFile]]:
    """The parts every question type shares, then the type's own parts."""
    reader = _READERS.get(question_type)
    if reader is None:
        if not question_type:
            raise _Broken(element, "a <question> without a type attribute")
        raise _Broken(
            element,
            f"unsupported question type '{question_type}' (studyhall imports {_SUPPORTED})",
        )
    files = _files(element, check_file)
    text, text_format = _rich(element.find("questiontext"), "html")
    if not text:
        raise _Broken(element, "the question has no text")
    general, general_format = _feedback(element.find("generalfeedback"), text_format)
    base = ParsedQuestion(
        kind="essay",
        text=text,
        text_format=text_format,
        title=_text(element.find("name")) or None,
        category=category,
        idnumber=(element.findtext("idnumber") or "").strip(_TRIM) or None,
        tags=_tags(element),
        general_feedback=general,
        general_feedback_format=general_format,
        line=line,
    )
    return reader(element, base), files


def _multichoice(element: Element, base: ParsedQuestion) -> ParsedQuestion:
    """``<single>`` picks "single" or "multiple"; Moodle's own sanity checks on fractions."""
    question_format = base.text_format
    choices: list[Choice] = []
    for answer in element.findall("answer"):
        text, text_format = _rich(answer, question_format)
        if not text:
            raise _Broken(answer, "a choice has no text")
        feedback, feedback_format = _feedback(answer.find("feedback"), question_format)
        choices.append(
            Choice(
                text=text,
                fraction=_fraction(answer),
                feedback=feedback,
                text_format=_own(text_format, question_format),
                feedback_format=feedback_format,
            )
        )
    if len(choices) < 2:
        raise _Broken(element, "a multiple-choice question needs at least two choices")
    if _single(element):
        if not any(choice.fraction == 1 for choice in choices):
            raise _Broken(element, "a one-answer question needs a choice worth 100%")
        return msgspec.structs.replace(base, kind="single", choices=choices)
    total = sum(choice.fraction for choice in choices if choice.fraction > 0)
    if round(total, 2) != 1:
        raise _Broken(
            element,
            "the positive fractions of a multiple-answer question must add up to 100% "
            f"(these add up to {total * 100:g}%)",
        )
    return msgspec.structs.replace(base, kind="multiple", choices=choices)


def _single(element: Element) -> bool:
    """Moodle's trans_single: "false", "0" or empty mean multiple answers; missing means one."""
    node = element.find("single")
    if node is None:
        return True
    return (node.text or "").strip(_TRIM) not in ("false", "0", "")


def _truefalse(element: Element, base: ParsedQuestion) -> ParsedQuestion:
    """Answers "true" and "false"; the one worth 100% is right.

    As in Moodle, answers with other texts (old exports wrote them translated)
    count as "true" first, then "false".
    """
    found: dict[str, Element] = {}
    for index, answer in enumerate(element.findall("answer")):
        label = _text(answer)
        if label not in ("true", "false"):
            label = "true" if index == 0 else "false"
        if label in found:
            raise _Broken(answer, f"a second '{label}' answer in a true/false question")
        found[label] = answer
    if not found:
        raise _Broken(element, "a true/false question needs its 'true' and 'false' answers")
    verdicts = set()
    if "true" in found:
        verdicts.add(_fraction(found["true"]) == 1)
    if "false" in found:
        verdicts.add(_fraction(found["false"]) != 1)
    if len(verdicts) != 1:
        raise _Broken(element, "exactly one of the 'true' and 'false' answers must be worth 100%")
    question_format = base.text_format
    true = found.get("true")
    false = found.get("false")
    feedback_true, true_format = _feedback(_child(true, "feedback"), question_format)
    feedback_false, false_format = _feedback(_child(false, "feedback"), question_format)
    return msgspec.structs.replace(
        base,
        kind="truefalse",
        correct=verdicts.pop(),
        feedback_true=feedback_true,
        feedback_true_format=true_format,
        feedback_false=feedback_false,
        feedback_false_format=false_format,
    )


def _shortanswer(element: Element, base: ParsedQuestion) -> ParsedQuestion:
    """Answer texts are plain (Moodle ignores their format); ``<usecase>`` is read past."""
    answers: list[ShortAnswer] = []
    for answer in element.findall("answer"):
        text = _text(answer)
        if not text:
            raise _Broken(answer, "a short answer has no text")
        feedback, feedback_format = _feedback(answer.find("feedback"), base.text_format)
        answers.append(
            ShortAnswer(
                text=text,
                fraction=_fraction(answer),
                feedback=feedback,
                feedback_format=feedback_format,
            )
        )
    if not answers:
        raise _Broken(element, "a short-answer question needs at least one answer")
    return msgspec.structs.replace(base, kind="shortanswer", short_answers=answers)


def _numerical(element: Element, base: ParsedQuestion) -> ParsedQuestion:
    """Each answer a number with ``<tolerance>``, or ``*`` for any other response.

    Units are refused rather than dropped: without them a response like "5 m"
    would be graded differently than in Moodle.
    """
    units = element.find("units")
    unit = units.find("unit") if units is not None else None
    if unit is not None:
        name = (unit.findtext("unit_name") or "").strip(_TRIM)
        raise _Broken(
            unit, f"numerical units (here '{name}') are not supported: remove them in Moodle first"
        )
    answers: list[NumericAnswer] = []
    for answer in element.findall("answer"):
        raw = _text(answer)
        feedback, feedback_format = _feedback(answer.find("feedback"), base.text_format)
        if raw == "*":
            value = NumericAnswer()
        else:
            value = NumericAnswer(value=_number(raw, answer), tolerance=_tolerance(answer))
        answers.append(
            msgspec.structs.replace(
                value,
                fraction=_fraction(answer),
                feedback=feedback,
                feedback_format=feedback_format,
            )
        )
    if all(answer.value is None for answer in answers):
        raise _Broken(element, "a numerical question needs at least one numeric answer")
    return msgspec.structs.replace(base, kind="numerical", numeric_answers=answers)


def _tolerance(answer: Element) -> float:
    node = answer.find("tolerance")
    raw = (node.text or "").strip(_TRIM) if node is not None else ""
    if node is None or not raw:
        return 0.0
    tolerance = _number(raw, node)
    if tolerance < 0:
        raise _Broken(node, f"the tolerance {raw} is negative")
    return tolerance


def _number(raw: str, element: Element) -> float:
    if not _NUMBER.fullmatch(raw) or not math.isfinite(number := float(raw)):
        raise _Broken(element, f"'{_show(raw)}' is not a number")
    return number


def _matching(element: Element, base: ParsedQuestion) -> ParsedQuestion:
    """``<subquestion>`` prompt and its ``<answer>``; an empty prompt adds a distractor."""
    question_format = base.text_format
    pairs: list[MatchPair] = []
    for subquestion in element.findall("subquestion"):
        prompt, prompt_format = _rich(subquestion, question_format)
        answer = _text(subquestion.find("answer"))
        if not prompt and not answer:
            continue  # an unused row of Moodle's form: Moodle skips it too
        if not answer:
            raise _Broken(subquestion, f"the prompt '{_show(prompt)}' has no answer")
        own = _own(prompt_format, question_format) if prompt else None
        pairs.append(MatchPair(prompt=prompt, answer=answer, prompt_format=own))
    if len(pairs) < 3 or sum(1 for pair in pairs if pair.prompt) < 2:
        raise _Broken(
            element,
            "a matching question needs at least three answers, at least two of them "
            "with a prompt (an empty prompt adds an extra answer)",
        )
    return msgspec.structs.replace(base, kind="matching", pairs=pairs)


def _essay(element: Element, base: ParsedQuestion) -> ParsedQuestion:
    return base


def _description(element: Element, base: ParsedQuestion) -> ParsedQuestion:
    return msgspec.structs.replace(base, kind="description")


_READERS: dict[str, _Reader] = {
    "multichoice": _multichoice,
    "truefalse": _truefalse,
    "shortanswer": _shortanswer,
    "numerical": _numerical,
    "matching": _matching,
    "match": _matching,  # Moodle's internal name, also accepted by its importer
    "essay": _essay,
    "description": _description,
}


def _fraction(answer: Element) -> float:
    """A percentage as a fraction, exactly (``33.33333`` is 0.3333333); missing is 0."""
    raw = answer.get("fraction")
    if raw is None:
        return 0.0
    raw = raw.strip(_TRIM)
    if not _NUMBER.fullmatch(raw) or not -100 <= Decimal(raw) <= 100:
        raise _Broken(answer, f'fraction="{_show(raw)}" is not a percentage from -100 to 100')
    return float(Decimal(raw) / 100)


def _text(holder: Element | None) -> str:
    """The trimmed ``<text>`` child of an element ("" when there is none)."""
    node = holder.find("text") if holder is not None else None
    if holder is None or node is None:
        return ""
    if len(node):
        raise _Broken(
            node[0],
            f"<{holder.tag}> has a <{node[0].tag}> element inside its <text>: "
            "write HTML inside <![CDATA[...]]> or escape it",
        )
    return (node.text or "").strip(_TRIM)


def _rich(holder: Element | None, default: TextFormat) -> tuple[str, TextFormat]:
    """A text and its ``format`` attribute (``default`` when the attribute is missing)."""
    text = _text(holder)
    name = holder.get("format") if holder is not None else None
    if name is None:
        return text, default
    return text, _FORMAT_NAMES.get(name.strip(_TRIM), "html")


def _feedback(
    holder: Element | None, question_format: TextFormat
) -> tuple[str | None, TextFormat | None]:
    text, text_format = _rich(holder, question_format)
    if not text:
        return None, None
    return text, _own(text_format, question_format)


def _own(text_format: TextFormat, question_format: TextFormat) -> TextFormat | None:
    """A part keeps its format only where it differs from the question's."""
    return None if text_format == question_format else text_format


def _child(element: Element | None, tag: str) -> Element | None:
    return element.find(tag) if element is not None else None


def _tags(element: Element) -> list[str]:
    """``<tags>`` and ``<coursetags>`` both: the model has one list of tags."""
    tags: list[str] = []
    for group in ("tags", "coursetags"):
        holder = element.find(group)
        if holder is not None:
            tags.extend(text for tag in holder.findall("tag") if (text := _text(tag)))
    return tags


def _files(element: Element, check_file: FileCheck | None) -> list[EmbeddedFile]:
    """Every ``<file>`` anywhere in the question, once per name."""
    files: list[EmbeddedFile] = []
    seen: dict[str, bytes] = {}
    for node in element.iter("file"):
        name = _file_name(node)
        encoding = (node.get("encoding") or "base64").strip(_TRIM)
        if encoding != "base64":
            raise _Broken(node, f"the embedded file '{name}' is not base64 but '{encoding}'")
        compact = "".join((node.text or "").split())
        try:
            data = binascii.a2b_base64(compact, strict_mode=True)
        except ValueError:
            raise _Broken(node, f"the embedded file '{name}' is not valid base64") from None
        if name in seen:
            if seen[name] != data:
                raise _Broken(node, f"two different embedded files are named '{name}'")
            continue
        seen[name] = data
        file = EmbeddedFile(name=name, data=data, media_type=guess_media_type(name))
        refusal = check_file(file) if check_file is not None else None
        if refusal:
            raise _Broken(node, refusal)
        files.append(file)
    return files


def _file_name(node: Element) -> str:
    """``path`` + ``name`` as the texts refer to it, refused if it could escape a folder."""
    name = (node.get("name") or "").strip(_TRIM)
    folder = (node.get("path") or "/").strip(_TRIM)
    full = f"{folder.strip('/')}/{name}".lstrip("/")
    if not name or "/" in name or not _safe_file_name(full):
        raise _Broken(node, f"'{_show(full)}' is not an acceptable embedded file name")
    return full


def _safe_file_name(name: str) -> bool:
    """A relative path whose every part is a plain name: storing it cannot escape a folder."""
    if "\\" in name or any(char < " " for char in name):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def _show(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


# Writing


def write_moodle_xml(
    questions: Iterable[ParsedQuestion],
    files: Mapping[int, Sequence[EmbeddedFile]] | None = None,
) -> str:
    """Write questions as Moodle XML that Moodle and :func:`parse_moodle_xml` both read.

    ``files`` maps a question's index in ``questions`` to the files its texts
    refer to; they are written inside its ``<questiontext>``. A numerical range
    ``min..max`` is written as Moodle stores one, its midpoint with a tolerance.
    Raises ValueError for what XML 1.0 cannot hold (control characters), for
    numbers that are not finite, and for unsafe file names.
    """
    attached = files or {}
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n']
    category: str | None = None
    for index, question in enumerate(questions):
        if question.category != category:
            category = question.category
            out.append(
                '  <question type="category">\n    <category>\n'
                f"      <text>{_xml_text(category or '')}</text>\n"
                "    </category>\n  </question>\n\n"
            )
        out.append(_write_question(question, attached.get(index, ())))
    out.append("</quiz>\n")
    return "".join(out)


def _write_question(question: ParsedQuestion, files: Sequence[EmbeddedFile]) -> str:
    question_format = question.text_format
    question_type = {"single": "multichoice", "multiple": "multichoice"}.get(
        question.kind, question.kind
    )
    out = [
        f"  <question type={quoteattr(question_type)}>\n",
        f"    <name>\n      <text>{_xml_text(question.title or '')}</text>\n    </name>\n",
        f"    <questiontext {_format(question_format)}>\n",
        f"      <text>{_xml_text(question.text)}</text>\n",
        *(_write_file(file) for file in files),
        "    </questiontext>\n",
        _write_rich(
            "generalfeedback",
            question.general_feedback,
            question.general_feedback_format or question_format,
            indent=4,
        ),
    ]
    if question.idnumber:
        out.append(f"    <idnumber>{_xml_text(question.idnumber)}</idnumber>\n")
    out.extend(_write_body(question))
    if question.tags:
        out.append("    <tags>\n")
        out.extend(f"      <tag><text>{_xml_text(tag)}</text></tag>\n" for tag in question.tags)
        out.append("    </tags>\n")
    out.append("  </question>\n\n")
    return "".join(out)


def _write_body(question: ParsedQuestion) -> list[str]:
    question_format = question.text_format
    match question.kind:
        case "single" | "multiple":
            single = "true" if question.kind == "single" else "false"
            out = [
                f"    <single>{single}</single>\n",
                "    <shuffleanswers>true</shuffleanswers>\n",
                "    <answernumbering>abc</answernumbering>\n",
            ]
            for choice in question.choices:
                out.append(
                    _write_answer(
                        choice.fraction,
                        choice.text,
                        choice.text_format or question_format,
                        choice.feedback,
                        choice.feedback_format or question_format,
                    )
                )
            return out
        case "truefalse":
            right = 1.0 if question.correct else 0.0
            true_format = question.feedback_true_format or question_format
            false_format = question.feedback_false_format or question_format
            return [
                _write_answer(right, "true", "moodle", question.feedback_true, true_format),
                _write_answer(1 - right, "false", "moodle", question.feedback_false, false_format),
            ]
        case "shortanswer":
            out = ["    <usecase>0</usecase>\n"]
            for short in question.short_answers:
                feedback_format = short.feedback_format or question_format
                out.append(
                    _write_answer(
                        short.fraction, short.text, "moodle", short.feedback, feedback_format
                    )
                )
            return out
        case "numerical":
            return [_write_numeric(answer, question_format) for answer in question.numeric_answers]
        case "matching":
            out = ["    <shuffleanswers>true</shuffleanswers>\n"]
            for pair in question.pairs:
                prompt_format = pair.prompt_format or question_format
                out.append(
                    f"    <subquestion {_format(prompt_format)}>\n"
                    f"      <text>{_xml_text(pair.prompt)}</text>\n"
                    f"      <answer>\n        <text>{_xml_text(pair.answer)}</text>\n"
                    "      </answer>\n    </subquestion>\n"
                )
            return out
        case _:
            return []


def _write_numeric(answer: NumericAnswer, question_format: TextFormat) -> str:
    """Moodle has no ranges: ``min..max`` becomes its midpoint ± half its width."""
    if answer.min is not None and answer.max is not None:
        value = _write_number(answer.min / 2 + answer.max / 2)
        tolerance = _write_number(answer.max / 2 - answer.min / 2)
    elif answer.min is not None or answer.max is not None:
        raise ValueError(f"a numerical range needs both ends, not {answer!r}")
    elif answer.value is not None:
        value, tolerance = _write_number(answer.value), _write_number(answer.tolerance)
    else:
        value, tolerance = "*", "0"
    feedback_format = answer.feedback_format or question_format
    extra = f"      <tolerance>{tolerance}</tolerance>\n"
    return _write_answer(
        answer.fraction, value, "moodle", answer.feedback, feedback_format, extra=extra
    )


def _write_answer(
    fraction: float,
    text: str,
    text_format: TextFormat,
    feedback: str | None,
    feedback_format: TextFormat,
    *,
    extra: str = "",
) -> str:
    return (
        f'    <answer fraction="{_write_percent(fraction)}" {_format(text_format)}>\n'
        f"      <text>{_xml_text(text)}</text>\n"
        + _write_rich("feedback", feedback, feedback_format, indent=6)
        + extra
        + "    </answer>\n"
    )


def _write_rich(tag: str, text: str | None, text_format: TextFormat, *, indent: int) -> str:
    pad = " " * indent
    return (
        f"{pad}<{tag} {_format(text_format)}>\n"
        f"{pad}  <text>{_xml_text(text or '')}</text>\n"
        f"{pad}</{tag}>\n"
    )


def _write_file(file: EmbeddedFile) -> str:
    folder, _, name = file.name.rpartition("/")
    if not name or not _safe_file_name(file.name):
        raise ValueError(f"{file.name!r} is not a safe embedded file name")
    path = f"/{folder}/" if folder else "/"
    encoded = base64.b64encode(file.data).decode("ascii")
    return (
        f"      <file name={quoteattr(name)} path={quoteattr(path)} "
        f'encoding="base64">{encoded}</file>\n'
    )


def _format(text_format: TextFormat) -> str:
    return f'format="{_FORMAT_ATTRIBUTES[text_format]}"'


def _write_percent(fraction: float) -> str:
    """The exact decimal of ``fraction`` times 100, so reading it back gives the same float."""
    if not math.isfinite(fraction):
        raise ValueError(f"the fraction {fraction!r} is not a number")
    return f"{(Decimal(repr(fraction)) * 100).normalize():f}"


def _write_number(number: float) -> str:
    """The shortest text that reads back as exactly ``number`` (1822, not 1822.0)."""
    if not math.isfinite(number):
        raise ValueError(f"{number!r} cannot be written as a Moodle number")
    return repr(number).removesuffix(".0")


def _xml_text(text: str) -> str:
    """Text as Moodle writes it (CDATA around markup), keeping carriage returns exact."""
    bad = _NOT_XML.search(text)
    if bad:
        raise ValueError(f"XML 1.0 cannot hold the character U+{ord(bad.group()):04X} in {text!r}")
    if not _MARKUP.search(text) and "\r" not in text:
        return text
    # A parser turns a raw CR into LF, even in CDATA; only a reference keeps it.
    return "&#13;".join(_cdata(part) for part in text.split("\r"))


def _cdata(part: str) -> str:
    if not _MARKUP.search(part):
        return part
    return "<![CDATA[" + part.replace("]]>", "]]]]><![CDATA[>") + "]]>"
