"""Rendering teacher texts for a viewer: sanitised, with the question's files linked."""

from __future__ import annotations

import uuid

import pytest

from studyhall.questions.content import QuestionContent
from studyhall.questions.formats.model import Choice, ShortAnswer, TextFormat
from studyhall.questions.render import file_references, student_view, to_html

URLS = {"a b.png": "/media/question-files/1?expires=9&sig=f", "sub/c.png": "/m/c"}


@pytest.mark.parametrize(
    ("text", "text_format", "shown"),
    [
        ('<img src="@@PLUGINFILE@@/a%20b.png">', "html", '<img src="/media/question-files/1?'),
        ('<img src="@@PLUGINFILE@@/a%20b.png?time=5">', "moodle", "expires=9&amp;sig=f"),
        ("![x](<@@PLUGINFILE@@/sub/c.png>)", "markdown", '<img src="/m/c" alt="x">'),
        ('<img src="@@PLUGINFILE@@/gone.png">', "html", 'src="@@PLUGINFILE@@/gone.png"'),
        ('<a href="@@PLUGINFILE@@/sub/c.png">c</a>', "html", 'href="@@PLUGINFILE@@/sub/c.png"'),
        ("see @@PLUGINFILE@@/sub/c.png", "html", "see @@PLUGINFILE@@/sub/c.png"),
        ('<img src="@@PLUGINFILE@@/sub/c.png">', "plain", "&lt;img src=&quot;@@PLUGINFILE@@"),
    ],
)
def test_only_src_attributes_naming_a_file_are_linked(
    text: str, text_format: TextFormat, shown: str
) -> None:
    assert shown in to_html(text, text_format, URLS)


def test_linking_happens_after_sanitising() -> None:
    rendered = to_html('<img src="@@PLUGINFILE@@/a%20b.png" onerror="alert(1)">', "html", URLS)
    assert "onerror" not in rendered
    assert rendered.startswith('<img src="/media/question-files/1?expires=9&amp;sig=f"')


def test_the_student_view_links_stem_and_choices() -> None:
    content = QuestionContent(
        kind="single",
        text='<img src="@@PLUGINFILE@@/a%20b.png">',
        text_format="html",
        choices=[
            Choice(text='<img src="@@PLUGINFILE@@/sub/c.png">', fraction=1.0),
            Choice(text="no", fraction=0.0),
        ],
    )
    shown = student_view(uuid.uuid4(), 1, 1.0, content, file_urls=URLS)
    assert "/media/question-files/1" in shown.html
    assert shown.choices[0].html == '<img src="/m/c">'


def test_references_are_found_in_every_rendered_text_feedback_included() -> None:
    content = QuestionContent(
        kind="shortanswer",
        text='<img src="@@PLUGINFILE@@/stem.png"> and @@PLUGINFILE@@/not-a-src.png',
        text_format="html",
        general_feedback="![g](@@PLUGINFILE@@/general%20one.png)",
        general_feedback_format="markdown",
        short_answers=[
            ShortAnswer(text="x", feedback='<img src="@@PLUGINFILE@@/sub/answer.png">'),
            ShortAnswer(
                text="y",
                feedback='<img src="@@PLUGINFILE@@/plain.png">',
                feedback_format="plain",
            ),
        ],
    )
    assert file_references(content) == {"stem.png", "general one.png", "sub/answer.png"}
