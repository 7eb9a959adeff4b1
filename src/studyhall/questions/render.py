"""What a student sees of a question: rendered, sanitised text and options, never the key."""

from __future__ import annotations

import html
import uuid

import msgspec
import nh3
from markdown_it import MarkdownIt

from studyhall.questions.content import QuestionContent
from studyhall.questions.formats.model import TextFormat

_markdown = MarkdownIt("commonmark", {"html": False})


def to_html(text: str, text_format: TextFormat | None) -> str:
    """Teacher text as safe HTML: Markdown rendered, HTML sanitised, plain text escaped."""
    if text_format == "markdown":
        return nh3.clean(_markdown.render(text))
    if text_format == "plain":
        return html.escape(text).replace("\n", "<br>")
    # Moodle's "moodle" auto-format is HTML with line breaks kept.
    body = text.replace("\n", "<br>") if text_format == "moodle" else text
    return nh3.clean(body)


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
    question_id: uuid.UUID, version: int, points: float, content: QuestionContent
) -> StudentQuestion:
    """Options keep their stored ids; matching answers are de-duplicated by text so the
    list does not reveal which prompts share an answer. Sessions shuffle the order."""
    fmt = content.text_format
    choices = [
        Option(index, to_html(choice.text, choice.text_format or fmt))
        for index, choice in enumerate(content.choices)
    ]
    prompts = [
        Option(index, to_html(pair.prompt, pair.prompt_format or fmt))
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
        html=to_html(content.text, fmt),
        points=points,
        choices=choices,
        prompts=prompts,
        answers=sorted(answers, key=lambda option: option.html),
        items=sorted(items, key=lambda option: option.html),
    )
