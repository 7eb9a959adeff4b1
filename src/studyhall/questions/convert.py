"""Between the interchange form of importers/exporters and what the bank stores."""

from __future__ import annotations

from studyhall.questions.content import QuestionContent
from studyhall.questions.formats.model import ParsedQuestion


def content_from_parsed(parsed: ParsedQuestion) -> QuestionContent:
    return QuestionContent(
        kind=parsed.kind,
        text=parsed.text,
        text_format=parsed.text_format,
        general_feedback=parsed.general_feedback,
        general_feedback_format=parsed.general_feedback_format,
        choices=parsed.choices,
        correct=parsed.correct,
        feedback_true=parsed.feedback_true,
        feedback_false=parsed.feedback_false,
        numeric_answers=parsed.numeric_answers,
        short_answers=parsed.short_answers,
        pairs=parsed.pairs,
    )


def parsed_from_content(
    content: QuestionContent,
    *,
    title: str | None,
    category: str | None,
    tags: list[str],
) -> ParsedQuestion | None:
    """The interchange form for export; None for kinds the Moodle formats cannot hold."""
    if content.kind == "ordering":
        return None
    return ParsedQuestion(
        kind=content.kind,
        text=content.text,
        text_format=content.text_format,
        title=title,
        category=category,
        tags=tags,
        general_feedback=content.general_feedback,
        general_feedback_format=content.general_feedback_format,
        choices=content.choices,
        correct=content.correct,
        feedback_true=content.feedback_true,
        feedback_false=content.feedback_false,
        numeric_answers=content.numeric_answers,
        short_answers=content.short_answers,
        pairs=content.pairs,
    )
