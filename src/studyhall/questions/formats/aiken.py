"""Aiken import: the one-line-per-part multiple-choice format Moodle reads.

::

    What is the capital of France?
    A. Lyon
    B) Paris
    ANSWER: B

A question is its text, options lettered from A in order (``A.`` or ``A)``), then
``ANSWER: X``; a blank line separates questions. Every question is "single"
choice. Aiken text is literal (Moodle HTML-escapes it), hence the "plain" format.
Moodle silently mis-reads a malformed block; here each one becomes a
line-numbered issue and the questions around it still import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from studyhall.questions.formats.model import Choice, ParsedQuestion, ParseIssue, ParseReport

__all__ = ["parse_aiken"]

_OPTION = re.compile(r"([A-Z])[.)][ \t]*(.*)")
_OPTION_SPACED = re.compile(r"([A-Z])[.)][ \t]+(.*)")
"""Before a question starts, "A.I. rules" is a question's text, not option A."""
_ANSWER = re.compile(r"ANSWER[ \t]*:[ \t]*(.*)", re.IGNORECASE)
_LETTER = re.compile(r"[A-Za-z]")


@dataclass
class _Draft:
    """A question read up to (not including) its ANSWER line."""

    line: int
    text: list[str]
    options: list[str] = field(default_factory=list)
    gap: bool = False  # a blank line came after the text

    def takes_text(self) -> bool:
        """A line of plain text continues the question text only right after it."""
        return not self.options and not self.gap

    def add_option(self, letter: str, text: str) -> str | None:
        """Take the next option, or say why it breaks the question."""
        expected = chr(ord("A") + len(self.options))
        if letter != expected:
            return f"option {letter} is out of order: expected {expected}"
        if not text:
            return f"option {letter} has no text"
        self.options.append(text)
        return None

    def finish(self, answer: str) -> ParsedQuestion:
        """Build the question, or raise ValueError saying why the ANSWER line cannot."""
        if len(self.options) < 2:
            count = len(self.options)
            raise ValueError(f"a question needs at least two options, this one has {count}")
        if not _LETTER.fullmatch(answer):
            raise ValueError(f"'ANSWER: {answer}' should name one option letter")
        right = ord(answer.upper()) - ord("A")
        if right >= len(self.options):
            last = chr(ord("A") + len(self.options) - 1)
            raise ValueError(f"ANSWER {answer.upper()} is not one of the options A-{last}")
        choices = [
            Choice(text=option, fraction=1.0 if index == right else 0.0)
            for index, option in enumerate(self.options)
        ]
        return ParsedQuestion(
            kind="single",
            text="\n".join(self.text),
            text_format="plain",
            line=self.line,
            choices=choices,
        )


def parse_aiken(text: str) -> ParseReport:
    """Parse an Aiken file; each malformed question becomes one line-numbered issue."""
    questions: list[ParsedQuestion] = []
    errors: list[ParseIssue] = []
    draft: _Draft | None = None
    answered = False  # the last line was an ANSWER line and no blank line followed yet
    skipping = False  # after an error, the rest of that block is ignored
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            answered = skipping = False
            if draft is not None:
                draft.gap = True
            continue
        if skipping:
            continue
        if answered:
            errors.append(ParseIssue(number, "text after the ANSWER line: leave a blank line"))
            skipping = True
            continue
        answer = _ANSWER.fullmatch(line)
        option = (_OPTION if draft else _OPTION_SPACED).fullmatch(line)
        if answer and draft is None:
            errors.append(ParseIssue(number, "an ANSWER line without a question before it"))
        elif answer and draft is not None:
            try:
                questions.append(draft.finish(answer.group(1).strip()))
            except ValueError as invalid:
                errors.append(ParseIssue(number, str(invalid)))
            draft, answered = None, True
        elif option and draft is None:
            errors.append(ParseIssue(number, f"option {option.group(1)} without a question"))
            skipping = True
        elif option and draft is not None:
            problem = draft.add_option(option.group(1), option.group(2).strip())
            if problem:
                errors.append(ParseIssue(number, problem))
                draft, skipping = None, True
        elif draft is not None and draft.takes_text():
            draft.text.append(line)
        else:
            if draft is not None:
                errors.append(_unanswered(draft, f"before the next question on line {number}"))
            draft = _Draft(number, [line])
    if draft is not None:
        errors.append(_unanswered(draft, "before the end of the file"))
    return ParseReport(questions, errors)


def _unanswered(draft: _Draft, where: str) -> ParseIssue:
    return ParseIssue(draft.line, f"the question has no 'ANSWER: X' line {where}")
