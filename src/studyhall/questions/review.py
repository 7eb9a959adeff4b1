"""What a student may see of a question after review opens: the right answer and the
explanation, as safe HTML. Only the result endpoint calls this, and only when the
exam's review policy allows it."""

from __future__ import annotations

import html

from studyhall.questions.content import QuestionContent
from studyhall.questions.render import to_html


def _number(value: float) -> str:
    return f"{value:g}"


def right_answer_html(content: QuestionContent) -> str | None:
    """The full-marks answer in words; None for kinds that have none (essay, description)."""
    fmt = content.text_format
    kind = content.kind
    if kind in ("single", "multiple"):
        best = [choice for choice in content.choices if choice.fraction > 0]
        return "; ".join(to_html(choice.text, choice.text_format or fmt) for choice in best)
    if kind == "truefalse":
        return "True" if content.correct else "False"
    if kind == "numerical":
        shown = []
        best_first = sorted(content.numeric_answers, key=lambda answer: -answer.fraction)
        for answer in best_first:
            if answer.value is not None:
                tolerance = f" ± {_number(answer.tolerance)}" if answer.tolerance else ""
                shown.append(f"{_number(answer.value)}{tolerance}")
            elif answer.min is not None and answer.max is not None:
                shown.append(f"{_number(answer.min)} to {_number(answer.max)}")
        return html.escape(" or ".join(shown[:1]))
    if kind == "shortanswer":
        full = [answer.text for answer in content.short_answers if answer.fraction >= 1.0]
        return html.escape(" or ".join(full))
    if kind == "matching":
        return "; ".join(
            f"{to_html(pair.prompt, pair.prompt_format or fmt)} → {html.escape(pair.answer)}"
            for pair in content.pairs
            if pair.prompt
        )
    if kind == "ordering":
        return " → ".join(html.escape(item) for item in content.items)
    return None


def explanation_html(content: QuestionContent) -> str | None:
    if not content.general_feedback:
        return None
    return to_html(content.general_feedback, content.general_feedback_format or content.text_format)
