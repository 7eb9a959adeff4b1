"""What a student sees of a question: rendered, sanitised text and options, never the key.

Texts refer to the question's files as Moodle does, ``src="@@PLUGINFILE@@/<name>"``
(the stored text keeps that form, so versions and exports stay portable); rendering
swaps in a link the viewer may load, from ``file_urls`` (name to URL). A name the
question has no file for is left as it is (a Moodle XML import refuses such a question;
GIFT and Aiken cannot carry files, and a GIFT export says which it left out).
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import unquote

import msgspec
import nh3
from markdown_it import MarkdownIt

from studyhall.questions.content import QuestionContent
from studyhall.questions.formats.model import TextFormat

_markdown = MarkdownIt("commonmark", {"html": False})
PLUGINFILE = "@@PLUGINFILE@@/"


Resolve = Callable[[str], str | None]
"""A file name to the URL that shows it (None: leave the reference as it is)."""


def _linker(resolve: Resolve) -> Callable[[str, str, str], str]:
    """An nh3 attribute filter: a ``src`` naming a file becomes what ``resolve`` says.

    Texts percent-encode names (``my%20diagram.png``), as Moodle writes them.
    """

    def link(element: str, attribute: str, value: str) -> str:
        if attribute != "src" or not value.startswith(PLUGINFILE):
            return value
        name = unquote(value.removeprefix(PLUGINFILE).split("?", 1)[0].split("#", 1)[0])
        return resolve(name) or value

    return link


def _render(
    text: str, text_format: TextFormat | None, linker: Callable[[str, str, str], str] | None
) -> str:
    if text_format == "plain":
        return html.escape(text).replace("\n", "<br>")
    if text_format == "markdown":
        return nh3.clean(_markdown.render(text), attribute_filter=linker)
    # Moodle's "moodle" auto-format is HTML with line breaks kept.
    body = text.replace("\n", "<br>") if text_format == "moodle" else text
    return nh3.clean(body, attribute_filter=linker)


def to_html(
    text: str, text_format: TextFormat | None, file_urls: Mapping[str, str] | None = None
) -> str:
    """Teacher text as safe HTML: Markdown rendered, HTML sanitised, plain text escaped;
    ``src="@@PLUGINFILE@@/<name>"`` linked to ``file_urls`` (the sanitiser sees every
    attribute, so no other place in the text is touched)."""
    return _render(text, text_format, _linker(file_urls.get) if file_urls else None)


def _rich_texts(content: QuestionContent) -> Iterator[tuple[str, TextFormat | None]]:
    """Every text of a question that is rendered for someone, feedback included."""
    fmt = content.text_format
    yield content.text, fmt
    yield content.general_feedback or "", content.general_feedback_format or fmt
    yield content.feedback_true or "", fmt
    yield content.feedback_false or "", fmt
    for choice in content.choices:
        yield choice.text, choice.text_format or fmt
        yield choice.feedback or "", choice.feedback_format or fmt
    for pair in content.pairs:
        yield pair.prompt, pair.prompt_format or fmt
    for numeric in content.numeric_answers:
        yield numeric.feedback or "", numeric.feedback_format or fmt
    for short in content.short_answers:
        yield short.feedback or "", short.feedback_format or fmt


def file_references(content: QuestionContent) -> set[str]:
    """The file names a question's texts load, found the way rendering finds them."""
    found: set[str] = set()

    def note(name: str) -> None:
        found.add(name)

    linker = _linker(note)
    for text, text_format in _rich_texts(content):
        if PLUGINFILE in text:
            _render(text, text_format, linker)
    return found


class Option(msgspec.Struct, frozen=True):
    id: int
    html: str


class StudentQuestion(msgspec.Struct, frozen=True, rename="camel"):
    """A question as a student may see it before review: no fractions, feedback or answers."""

    id: uuid.UUID
    version: int
    kind: str
    html: str
    points: float
    choices: list[Option] = []
    prompts: list[Option] = []
    answers: list[Option] = []
    items: list[Option] = []


def student_view(
    question_id: uuid.UUID,
    version: int,
    points: float,
    content: QuestionContent,
    *,
    file_urls: Mapping[str, str],
) -> StudentQuestion:
    """Options keep their stored ids; matching answers are de-duplicated by text so the
    list does not reveal which prompts share an answer. Sessions shuffle the order.
    ``file_urls`` is required so no caller can forget the question's images."""
    fmt = content.text_format
    choices = [
        Option(index, to_html(choice.text, choice.text_format or fmt, file_urls))
        for index, choice in enumerate(content.choices)
    ]
    prompts = [
        Option(index, to_html(pair.prompt, pair.prompt_format or fmt, file_urls))
        for index, pair in enumerate(content.pairs)
        if pair.prompt
    ]
    answers: list[Option] = []
    seen: set[str] = set()
    for index, pair in enumerate(content.pairs):
        if pair.answer not in seen:
            seen.add(pair.answer)
            answers.append(Option(index, html.escape(pair.answer)))
    items = [Option(index, html.escape(item)) for index, item in enumerate(content.items)]
    return StudentQuestion(
        id=question_id,
        version=version,
        kind=content.kind,
        html=to_html(content.text, fmt, file_urls),
        points=points,
        choices=choices,
        prompts=prompts,
        answers=sorted(answers, key=lambda option: option.html),
        items=sorted(items, key=lambda option: option.html),
    )
