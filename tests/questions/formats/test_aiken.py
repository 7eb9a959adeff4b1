"""Aiken import: good blocks become single-choice questions, bad ones line-numbered issues."""

from __future__ import annotations

import pytest

from studyhall.questions.formats import Choice, ParsedQuestion, parse_aiken


def test_a_question_with_dot_and_parenthesis_options() -> None:
    report = parse_aiken(
        "What is the correct answer to this question?\n"
        "A. Is it this one?\n"
        "B) Maybe this answer?\n"
        "C. Possibly this one?\n"
        "D) Must be this one!\n"
        "ANSWER: D\n"
    )
    assert report.errors == []
    assert report.questions == [
        ParsedQuestion(
            kind="single",
            text="What is the correct answer to this question?",
            text_format="plain",
            line=1,
            choices=[
                Choice(text="Is it this one?", fraction=0.0),
                Choice(text="Maybe this answer?", fraction=0.0),
                Choice(text="Possibly this one?", fraction=0.0),
                Choice(text="Must be this one!", fraction=1.0),
            ],
        )
    ]


def test_several_questions_crlf_and_literal_html() -> None:
    report = parse_aiken(
        "\ufeffThe Moodle project was started by:\r\nA) Petr\r\nB) Martin\r\nANSWER: B\r\n"
        "\r\n\r\n"
        "Is <html> & images handled?\r\n  A) True  \r\nB) False\r\nANSWER:A"
    )
    assert report.errors == []
    assert [(q.line, q.text, q.kind) for q in report.questions] == [
        (1, "The Moodle project was started by:", "single"),
        (7, "Is <html> & images handled?", "single"),
    ]
    assert [c.fraction for c in report.questions[1].choices] == [1.0, 0.0]


def test_lenient_about_layout_that_cannot_be_misread() -> None:
    report = parse_aiken(
        "A question whose text\nruns over two lines\n\nA)No space after the letter\n"
        "B)Still an option\nanswer : b\n"
    )
    assert report.errors == []
    question = report.questions[0]
    assert question.text == "A question whose text\nruns over two lines"
    assert [c.text for c in question.choices] == ["No space after the letter", "Still an option"]
    assert question.choices[1].fraction == 1.0


def test_text_like_an_option_starts_a_question_when_no_question_is_open() -> None:
    report = parse_aiken(
        "A.I. is which kind of intelligence?\nA. Natural\nB. Artificial\nANSWER: B"
    )
    assert report.errors == []
    assert report.questions[0].text == "A.I. is which kind of intelligence?"


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("Q?\nA. a\nB. b\n", 1, "no 'ANSWER: X' line before the end of the file"),
        ("Q?\nA. a\nB. b\nNext?\nA. a\nB. b\nANSWER: A", 1, "before the next question on line 9"),
        ("Q?\nA. a\nB. b\nANSWER: C", 4, "not one of the options A-B"),
        ("Q?\nA. a\nB. b\nANSWER: AB", 4, "one option letter"),
        ("Q?\nA. a\nB. b\nANSWER:", 4, "one option letter"),
        ("Q?\nA. only\nANSWER: A", 3, "at least two options, this one has 1"),
        ("Q?\nANSWER: A", 2, "at least two options, this one has 0"),
        ("Q?\nA. a\nC. c\nANSWER: A", 3, "option C is out of order: expected B"),
        ("Q?\nA. a\nA. again\nANSWER: A", 3, "out of order"),
        ("Q?\nA. a\nB.\nANSWER: A", 3, "option B has no text"),
        ("A) Not started\n", 1, "option A without a question"),
        ("ANSWER: A\n", 1, "ANSWER line without a question"),
    ],
)
def test_malformed_question_is_reported_with_its_line(source: str, line: int, words: str) -> None:
    report = parse_aiken("Good?\nA. yes\nB. no\nANSWER: A\n\n" + source)
    assert [q.text for q in report.questions] in (["Good?"], ["Good?", "Next?"])
    assert len(report.errors) == 1
    assert report.errors[0].line == line + 5
    assert words in report.errors[0].message


def test_text_after_the_answer_line_needs_a_blank_line() -> None:
    report = parse_aiken(
        "One?\nA. a\nB. b\nANSWER: A\nTwo?\nA. a\nB. b\nANSWER: B\n\nThree?\nA. a\nB. b\nANSWER: B"
    )
    assert [q.text for q in report.questions] == ["One?", "Three?"]
    assert [(issue.line, issue.message) for issue in report.errors] == [
        (5, "text after the ANSWER line: leave a blank line")
    ]


def test_moodles_error_cases_leave_the_good_questions() -> None:
    report = parse_aiken(
        "Too few answers\nA) Only answer\nANSWER: A\n\n"
        "A) Question not started\n\n"
        "ANSWER: Question not started\n\n"
        "A good question\nA) Correct\nB) Incorrect\nANSWER: A\n\n"
        "Started but not finished\nA) Correct-ish\nB) Incorrect-ish\n\n"
        "A second good question\nA)Incorrect (No space)\nB)Correct (No space)\nANSWER: B"
    )
    assert [q.text for q in report.questions] == ["A good question", "A second good question"]
    assert [issue.line for issue in report.errors] == [3, 5, 7, 14]
