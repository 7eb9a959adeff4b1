"""GIFT import types every construct the way Moodle does, reports what it cannot read,
and GIFT export reads back to the same questions."""

from __future__ import annotations

from typing import get_args

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studyhall.questions.formats import (
    Choice,
    MatchPair,
    NumericAnswer,
    ParsedQuestion,
    ParseIssue,
    ShortAnswer,
    parse_gift,
    write_gift,
)
from studyhall.questions.formats.model import TEXT_FORMATS, QuestionKind, TextFormat

TRIM = " \t\n\r\x00\x0b"


def one(source: str) -> ParsedQuestion:
    """The single question a snippet holds (no errors allowed)."""
    report = parse_gift(source)
    assert report.errors == []
    assert len(report.questions) == 1
    return report.questions[0]


def broken(source: str) -> ParseIssue:
    """The single issue a snippet raises (no question may slip through)."""
    report = parse_gift(source)
    assert report.questions == []
    assert len(report.errors) == 1
    return report.errors[0]


# Moodle's documented examples


def test_single_choice_grants_tomb() -> None:
    question = one("Who's buried in Grant's tomb?{~Grant =no one ~Napoleon}")
    assert question.kind == "single"
    assert question.text == "Who's buried in Grant's tomb?"
    assert question.text_format == "moodle"
    assert question.choices == [
        Choice(text="Grant", fraction=0.0),
        Choice(text="no one", fraction=1.0),
        Choice(text="Napoleon", fraction=0.0),
    ]


@pytest.mark.parametrize(
    ("answer", "correct"), [("T", True), ("TRUE", True), ("F", False), ("FALSE", False)]
)
def test_true_false_spellings(answer: str, correct: bool) -> None:
    question = one(f"Grant is buried in Grant's tomb.{{{answer}}}")
    assert question.kind == "truefalse"
    assert question.correct is correct
    assert question.text == "Grant is buried in Grant's tomb."


def test_true_false_feedback_is_wrong_answer_first_then_right_answer() -> None:
    question = one("Grant is buried in Grant's tomb.{FALSE#No one is buried there.#Well done}")
    assert question.correct is False
    assert question.feedback_true == "No one is buried there."  # shown to a wrong "true"
    assert question.feedback_false == "Well done"
    one_feedback = one("The sun rises in the east.{T#It does not set there.}")
    assert one_feedback.feedback_false == "It does not set there."
    assert one_feedback.feedback_true is None


def test_short_answer() -> None:
    question = one("1 + 1 = {=2 =two}")
    assert question.kind == "shortanswer"
    assert question.text == "1 + 1 ="
    assert question.short_answers == [ShortAnswer(text="2"), ShortAnswer(text="two")]


def test_short_answer_weights_feedback_and_wildcard() -> None:
    question = one(
        "Which is the best animal?{\n    =Frog#Good!\n    =%50%Cat#Cats...\n    =%0%*#No\n}"
    )
    assert question.short_answers == [
        ShortAnswer(text="Frog", feedback="Good!"),
        ShortAnswer(text="Cat", fraction=0.5, feedback="Cats..."),
        ShortAnswer(text="*", fraction=0.0, feedback="No"),
    ]


def test_matching_countries_and_capitals() -> None:
    question = one(
        "Match the following countries with their corresponding capitals. "
        "{=Canada -> Ottawa =Italy -> Rome =Japan -> Tokyo =India -> New Delhi}"
    )
    assert question.kind == "matching"
    assert question.text == "Match the following countries with their corresponding capitals."
    assert question.pairs == [
        MatchPair(prompt="Canada", answer="Ottawa"),
        MatchPair(prompt="Italy", answer="Rome"),
        MatchPair(prompt="Japan", answer="Tokyo"),
        MatchPair(prompt="India", answer="New Delhi"),
    ]


def test_matching_without_spaces_and_with_an_extra_answer() -> None:
    question = one("Pair them.{=Canada->Ottawa =Italy->Rome = -> Lisbon}")
    assert question.pairs[-1] == MatchPair(prompt="", answer="Lisbon")


def test_numerical_with_tolerance() -> None:
    question = one("When was Ulysses S. Grant born?{#1822:5}")
    assert question.kind == "numerical"
    assert question.numeric_answers == [NumericAnswer(value=1822.0, tolerance=5.0)]
    pi = one("What is the value of pi (to 3 decimal places)?{#3.14159:0.0005}")
    assert pi.numeric_answers == [NumericAnswer(value=3.14159, tolerance=0.0005)]


def test_numerical_range_and_exact_value() -> None:
    assert one("Pick one to three.{#1..3}").numeric_answers == [NumericAnswer(min=1.0, max=3.0)]
    assert one("Negative range.{#-3.5..-1}").numeric_answers == [NumericAnswer(min=-3.5, max=-1.0)]
    assert one("What's 2 plus 2? {#4}").numeric_answers == [NumericAnswer(value=4.0)]


def test_numerical_with_several_graded_answers_and_wrong_feedback() -> None:
    question = one(
        "When was Ulysses S. Grant born? {#\n"
        "     =1822:0      #Correct! 100% credit\n"
        "     =%50%1822:2  #He was born in 1822.\n"
        "                  You get 50% credit for being close.\n"
        "     ~#Not even close\n"
        "}"
    )
    assert question.numeric_answers == [
        NumericAnswer(value=1822.0, feedback="Correct! 100% credit"),
        NumericAnswer(
            value=1822.0,
            tolerance=2.0,
            fraction=0.5,
            feedback="He was born in 1822.\nYou get 50% credit for being close.",
        ),
        NumericAnswer(fraction=0.0, feedback="Not even close"),
    ]
    assert one("Year? {# =2000:0 =%50%1999:1}").numeric_answers[1].fraction == 0.5


def test_missing_word_keeps_a_blank_where_the_answers_stood() -> None:
    question = one("Moodle costs {~lots of money =nothing ~a small amount} to download.")
    assert question.kind == "single"
    assert question.text == "Moodle costs _____ to download."
    numeric = one("What is the value of pi (to 3 decimal places)? {#3.1415:0.0005}.")
    assert numeric.text == "What is the value of pi (to 3 decimal places)? _____."


def test_essay_and_description() -> None:
    essay = one("::Q8:: How are you? {}")
    assert (essay.kind, essay.title, essay.text) == ("essay", "Q8", "How are you?")
    assert one("Write about it.{####Mention the date.}").general_feedback == "Mention the date."
    description = one("::Intro::The next questions are about history.")
    assert description.kind == "description"
    assert description.text == "The next questions are about history."


# Moodle's typing rules


@pytest.mark.parametrize(
    ("answers", "kind"),
    [
        ("{=a ~b ~c}", "single"),
        ("{=a =b ~c}", "single"),  # Moodle: any '=' beside '~' is single, two right answers
        ("{~%50%a ~%50%b ~%-100%c}", "multiple"),
        ("{=a =b}", "shortanswer"),
        ("{=a -> 1 =b -> 2 =c -> 3}", "matching"),
        ("{#5}", "numerical"),
        ("{T}", "truefalse"),
        ("{}", "essay"),
        ("{ }", "essay"),
    ],
)
def test_moodle_typing_rules(answers: str, kind: str) -> None:
    assert one(f"Question {answers}").kind == kind


def test_percent_weights_negative_and_decimal() -> None:
    question = one(
        "What two people are entombed in Grant's tomb? {\n"
        "    ~%-50%No one\n    ~%33.33333%Grant\n    ~%33.33333%Grant's wife\n"
        "    ~%33.33334%Grant's father\n    ~%-100%Grant's dog }"
    )
    assert question.kind == "multiple"
    assert [choice.fraction for choice in question.choices] == [
        -0.5,
        0.3333333,
        0.3333333,
        0.3333334,
        -1.0,
    ]


def test_partial_credit_in_a_single_choice() -> None:
    question = one("Difficult question.{~wrong answer ~%50%half credit answer =full credit}")
    assert question.kind == "single"
    assert [choice.fraction for choice in question.choices] == [0.0, 0.5, 1.0]


def test_answer_feedback_and_general_feedback() -> None:
    question = one(
        "What's between orange and green?{\n"
        "    =yellow # right; good!\n"
        "    ~red # wrong, it's yellow\n"
        "    ~blue\n"
        "    ####Think of a rainbow.\n"
        "}"
    )
    assert question.choices == [
        Choice(text="yellow", fraction=1.0, feedback="right; good!"),
        Choice(text="red", fraction=0.0, feedback="wrong, it's yellow"),
        Choice(text="blue", fraction=0.0),
    ]
    assert question.general_feedback == "Think of a rainbow."


def test_true_false_with_feedback_and_general_feedback_over_lines() -> None:
    question = one(
        "::Q1:: 42 is the Absolute Answer to everything.{\n"
        "FALSE#42 is the Ultimate Answer.#You gave the right answer.\n"
        "####This is, of course, a Hitchhiker's Guide to the Galaxy reference.}"
    )
    assert question.kind == "truefalse"
    assert question.feedback_true == "42 is the Ultimate Answer."
    assert question.feedback_false == "You gave the right answer."
    assert question.general_feedback is not None
    assert question.general_feedback.startswith("This is, of course")


# Names, categories, formats, comments, escapes, layout


def test_title_and_multi_line_text() -> None:
    question = one(
        "::Kanji Origins::Japanese characters originally\ncame from what country? {=China}"
    )
    assert question.title == "Kanji Origins"
    assert question.text == "Japanese characters originally\ncame from what country?"


def test_category_applies_to_the_questions_after_it() -> None:
    report = parse_gift(
        "First.{T}\n\n$CATEGORY: $course$/top/Unit 1\n\nSecond.{T}\n\nThird.{F}\n\n"
        "$CATEGORY:Unit 2\nFourth.{T}\n\n$CATEGORY:\n\nFifth.{T}"
    )
    assert report.errors == []
    assert [q.category for q in report.questions] == [
        None,
        "$course$/top/Unit 1",
        "$course$/top/Unit 1",
        "Unit 2",
        None,
    ]


@pytest.mark.parametrize("text_format", TEXT_FORMATS)
def test_format_prefix(text_format: str) -> None:
    question = one(f"[{text_format}]Who's buried in **Grant's tomb**?{{=no one =nobody}}")
    assert question.text_format == text_format
    assert question.text == "Who's buried in **Grant's tomb**?"


def test_unknown_or_upper_case_prefix_stays_text() -> None:
    assert one("[HTML]Hello?{T}").text == "[HTML]Hello?"
    assert one("[1] is a list index.{T}").text == "[1] is a list index."


def test_answers_and_feedback_keep_their_own_format_when_it_differs() -> None:
    question = one(
        "::Q2::[html]Colour?{\n    =[html]<b>yellow</b> # [markdown]**right**\n    ~[plain]<red>\n}"
    )
    assert question.text_format == "html"
    assert question.choices == [
        Choice(
            text="<b>yellow</b>", fraction=1.0, feedback="**right**", feedback_format="markdown"
        ),
        Choice(text="<red>", fraction=0.0, text_format="plain"),
    ]
    matching = one(
        "[html]Match.{=[plain]a -> 1 =[html]b -> 2 =c -> 3 ####[markdown]*done*}",
    )
    assert [pair.prompt_format for pair in matching.pairs] == ["plain", None, None]
    assert matching.general_feedback_format == "markdown"


def test_comment_lines_are_ignored_everywhere() -> None:
    report = parse_gift(
        "// a file header\n// question: 1  name: colours\nWhich colour?{\n// inside the block\n"
        "  =red\n  ~blue\n}\n//trailing comment\n\n//only comments\n// in this block\n"
    )
    assert report.errors == []
    assert [choice.text for choice in report.questions[0].choices] == ["red", "blue"]


def test_idnumber_and_tags_from_comments() -> None:
    question = one("// question: 7  name: x\n// [id:Q-7] [tag:history] [tag:us\\]civil]\nX?{T}")
    assert question.idnumber == "Q-7"
    assert question.tags == ["history", "us]civil"]


def test_escaped_characters() -> None:
    question = one(
        "::GIFT\\: escapes::Which is NOT a control character \\{in GIFT\\}? {\n"
        "   ~ \\~     # \\~ is a control character.\n"
        "   ~ \\=     # \\= is one too.\n"
        "   ~ \\#     # and \\#\n"
        "   ~ \\:     # and \\:\n"
        "   = \\\\     # Correct! \\\\ only escapes.\\nNew line.\n"
        "}"
    )
    assert question.title == "GIFT: escapes"
    assert question.text == "Which is NOT a control character {in GIFT}?"
    assert [choice.text for choice in question.choices] == ["~", "=", "#", ":", "\\"]
    assert question.choices[-1].feedback == "Correct! \\ only escapes.\nNew line."
    assert one("Equals 5? {~ \\= 2 + 2 = \\= 2 + 3}").choices[1].text == "= 2 + 3"
    assert one("Path?{=C:\\\\temp\\x}").short_answers[0].text == "C:\\temp\\x"


def test_crlf_tabs_and_blank_lines_between_questions() -> None:
    report = parse_gift(
        "\ufeff::A::\tFirst?\t{\r\n\t=yes\r\n\t~no\r\n}\r\n\r\n \t \r\n::B:: Second?{T}\r\n"
    )
    assert report.errors == []
    assert [(q.title, q.text, q.line) for q in report.questions] == [
        ("A", "First?", 1),
        ("B", "Second?", 7),
    ]


def test_a_whole_file_counts_and_types_every_question() -> None:
    report = parse_gift(MIXED_FILE)
    assert report.errors == []
    kinds = [question.kind for question in report.questions]
    assert kinds == [
        "single",
        "single",
        "truefalse",
        "truefalse",
        "shortanswer",
        "shortanswer",
        "matching",
        "numerical",
        "numerical",
        "numerical",
        "multiple",
        "essay",
        "description",
        "single",
    ]
    lines = [4, 6, 8, 10, 12, 14, 17, 24, 26, 28, 32, 38, 40, 44]
    assert [question.line for question in report.questions] == lines
    assert {q.category for q in report.questions[:11]} == {"Grants"}
    assert report.questions[-1].category == "Other"


MIXED_FILE = """\
// Grant's tomb, all types
$CATEGORY: Grants

Who's buried in Grant's tomb?{~Grant =no one ~Napoleon}

Grant is {~buried =entombed ~living} in Grant's tomb.

Grant is buried in Grant's tomb.{F}

The sun rises in the east.{TRUE#Wrong#Right}

Who's buried in Grant's tomb?{=no one =nobody}

Two plus two equals {=four =4}.

// matching
::Capitals::
Match the following countries with their corresponding capitals. {
    =Canada -> Ottawa
    =Italy  -> Rome
    =Japan  -> Tokyo
}

When was Ulysses S. Grant born?{#1822:5}

What is the value of pi (to 3 decimal places)? {#3.141..3.142}.

When was Ulysses S. Grant born? {#
    =1822:0
    =%50%1822:2}

What two people are entombed in Grant's tomb? {
    ~%-100%No one
    ~%50%Grant
    ~%50%Grant's wife
    ~%-100%Grant's father }

::Essay::Describe the tomb.{####It is big.}

The rest is about other presidents.

$CATEGORY: Other

[markdown]Who was **first**?{=Washington ~Lincoln}
"""


# What cannot be imported is reported with its line, and the rest still imports


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("Who?\n{=a ~b", 2, "never closed"),
        ("Who?\n=a ~b}", 2, "without an opening"),
        ("Who?\n} {=a ~b}", 2, "without an opening"),
        ("Who {=a ~b} and {=c ~d}?", 1, "second answer block"),
        ("Who {=a {~b}?", 1, "inside an answer block"),
        ("::Title without end\nWho?{T}", 1, "never closed"),
        ("Capitals?{\n=Canada -> Ottawa\n=Italy -> Rome\n}", 2, "at least three pairs"),
        ("Capitals?{=Canada -> Ottawa = -> Rome = -> Paris}", 1, "at least three pairs"),
        ("Capitals?{\n=Canada -> Ottawa\n=Italy\n=Japan -> Tokyo}", 3, "is not a pair"),
        ("Capitals?{=a -> 1 =b -> 2#yes =c -> 3}", 1, "no '#' feedback"),
        ("Capitals?{=a -> 1 =b -> =c -> 3}", 1, "no answer after"),
        ("True?{true}", 1, "in capitals"),
        ("True?{TRUE FALSE}", 1, "is not an answer"),
        ("Who?{no one}", 1, "is not an answer"),
        ("Who?{\n~a\n=%50%b}", 3, "already means 100%"),
        ("Who?{a ~b =c}", 1, "each choice starts with '='"),
        ("Who?{nobody =no one =nobody}", 1, "each short answer starts with '='"),
        ("Who?{=a}{", 1, "second answer block"),
        ("Who?{~%150%a =b}", 1, "is not a weight"),
        ("Who?{~%1.2.3%a =b}", 1, "is not a weight"),
        ("Who?{~%50%a ~%40%b ~c}", 1, "add up to 100%"),
        ("Who?{~a ~b}", 1, "add up to 100%"),
        ("Who?{=a ~}", 1, "has no text"),
        ("Who?{=only ~#}", 1, "has no text"),
        ("Who?{~%100%only}", 1, "at least two choices"),
        ("Year?{#abc}", 1, "'abc' is not a number"),
        ("Year?{#1822:abc}", 1, "is not a number"),
        ("Year?{#1,5}", 1, "is not a number"),
        ("Year?{#1e999}", 1, "is not a number"),
        ("Year?{#5..1}", 1, "runs backwards"),
        ("Year?{#5:-1}", 1, "negative"),
        ("Year?{#\n~#wrong\n=1822}", 2, "put it last"),
        ("Year?{#=1822 ~ 5 #wrong}", 1, "only '#feedback' may follow '~'"),
        ("Year?{#}", 1, "at least one number"),
        ("Year?{#~#nothing}", 1, "at least one number"),
        ("Year?{#1822 =1823}", 1, "start each with '='"),
        ("Cloze {1:SHORTANSWER:=Berlin} is not GIFT", 1, "each short answer starts with"),
        ("{T}", 1, "no text"),
        ("::Only a title::", 1, "no text"),
        ("Bad \ufdd0 character?{T}", 1, "noncharacter"),
    ],
)
def test_broken_question_is_reported_with_its_line(source: str, line: int, words: str) -> None:
    issue = broken("// leading comment\n\n" + source)
    assert issue.line == line + 2
    assert words in issue.message


def test_a_blank_line_inside_an_answer_block_breaks_it_like_in_moodle() -> None:
    report = parse_gift("Who?{\n=a\n\n~b\n}\n\nNext?{T}")
    assert [issue.line for issue in report.errors] == [1, 5]
    assert [question.text for question in report.questions] == ["Next?"]


def test_broken_questions_do_not_stop_the_others() -> None:
    report = parse_gift("One?{T}\n\nTwo?{true}\n\nThree?{#x}\n\nFour?{=four}\n")
    assert [question.text for question in report.questions] == ["One?", "Four?"]
    assert [issue.line for issue in report.errors] == [3, 5]


def test_ten_thousand_questions_parse_with_correct_lines() -> None:
    report = parse_gift(MIXED_FILE * 720)
    assert report.errors == []
    assert len(report.questions) == 14 * 720
    assert report.questions[-1].line == 44 + 44 * 719


# Writing


def round_trip(questions: list[ParsedQuestion]) -> list[ParsedQuestion]:
    report = parse_gift(write_gift(questions))
    assert report.errors == []
    return [msgspec.structs.replace(question, line=0) for question in report.questions]


def test_write_reads_back_moodles_examples() -> None:
    questions = [msgspec.structs.replace(q, line=0) for q in parse_gift(MIXED_FILE).questions]
    assert round_trip(questions) == questions


def test_write_looks_like_moodles_export() -> None:
    question = ParsedQuestion(
        kind="single",
        title="Colours",
        text="Which colour?",
        choices=[
            Choice(text="red", fraction=1.0, feedback="Yes"),
            Choice(text="blue", fraction=-0.5),
        ],
    )
    assert write_gift([question]) == "::Colours::Which colour?{\n\t=red#Yes\n\t~%-50%blue\n}\n\n"
    numeric = ParsedQuestion(
        kind="numerical",
        text="Year?",
        numeric_answers=[NumericAnswer(value=1822.0), NumericAnswer(fraction=0.0)],
    )
    assert write_gift([numeric]) == "Year?{#\n\t=1822\n\t~\n}\n\n"


def test_write_keeps_repeated_answers() -> None:
    right = Choice(text="yes", fraction=1.0)
    single = ParsedQuestion(kind="single", text="Either?", choices=[right, right])
    anything = NumericAnswer(fraction=0.0)
    numeric = ParsedQuestion(
        kind="numerical",
        text="Any?",
        numeric_answers=[anything, NumericAnswer(value=1.0), anything],
    )
    assert round_trip([single, numeric]) == [single, numeric]


@pytest.mark.parametrize(
    "text",
    ["Fill in _____", "_____", "[html] is a tag", "// not a comment", "%50% off", "A ____ B"],
)
def test_write_keeps_awkward_question_texts(text: str) -> None:
    question = ParsedQuestion(kind="essay", text=text)
    assert round_trip([question]) == [question]


def test_write_refuses_what_gift_cannot_say() -> None:
    arrow_prompt = ParsedQuestion(
        kind="matching",
        text="Match",
        pairs=[MatchPair(prompt=f"a{i} -> b", answer=str(i)) for i in range(3)],
    )
    arrow_answer = ParsedQuestion(
        kind="shortanswer", text="Arrow?", short_answers=[ShortAnswer(text="->")]
    )
    no_right_choice = ParsedQuestion(
        kind="single", text="Pick", choices=[Choice(text="a", fraction=0.5)] * 2
    )
    bad_tag = ParsedQuestion(kind="essay", text="Tagged", tags=["<b>"])
    for question in (arrow_prompt, arrow_answer, no_right_choice, bad_tag):
        with pytest.raises(ValueError, match=r"."):
            write_gift([question])


# Round trip over every kind with hostile text

FRAGMENTS = st.sampled_from(
    [
        *("~", "=", "#", "{", "}", ":", "\\", "\n", "\t", " ", "-", ">", "[", "]", "%", "*"),
        *("_____", "->", "//", "[html]", "%50%", "####", "\\n", "::", "$CATEGORY:", ".."),
        *("T", "a", "Zé", "1"),
    ]
)
TOKEN = st.text("abcXYZ019 -_.]é", min_size=1, max_size=8).map(lambda t: t.strip(TRIM)).filter(bool)
FRACTIONS = st.floats(-1, 1)
NUMBERS = st.floats(allow_nan=False, allow_infinity=False)


def texts(*, arrows: bool = True) -> st.SearchStrategy[str]:
    joined = st.lists(FRAGMENTS, min_size=1, max_size=8).map("".join)
    stripped = joined.map(lambda text: text.strip(TRIM)).filter(bool)
    return stripped if arrows else stripped.filter(lambda text: "->" not in text)


def maybe(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.none() | strategy


@st.composite
def questions(draw: st.DrawFn) -> ParsedQuestion:
    """Any valid question of any kind, in the canonical form parse_gift produces."""
    kind: QuestionKind = draw(st.sampled_from(get_args(QuestionKind)))
    text_format: TextFormat = draw(st.sampled_from(TEXT_FORMATS))
    own_formats = st.sampled_from([None, *(f for f in TEXT_FORMATS if f != text_format)])

    def own_format() -> TextFormat | None:
        return draw(own_formats)

    def rich(*, arrows: bool = True) -> tuple[str | None, TextFormat | None]:
        text = draw(maybe(texts(arrows=arrows)))
        return text, own_format() if text else None

    general, general_format = rich() if kind != "description" else (None, None)
    question = ParsedQuestion(
        kind=kind,
        text=draw(texts()),
        text_format=text_format,
        title=draw(maybe(texts())),
        category=draw(maybe(texts())),
        idnumber=draw(maybe(TOKEN)),
        tags=draw(st.lists(TOKEN, max_size=3)),
        general_feedback=general,
        general_feedback_format=general_format,
    )
    replace = msgspec.structs.replace
    if kind in ("single", "multiple"):
        if kind == "single":
            fractions = [1.0, *draw(st.lists(FRACTIONS, min_size=1, max_size=3))]
        else:
            right = draw(st.integers(1, 3))
            wrong = draw(st.lists(st.floats(-1, 0), min_size=max(0, 2 - right), max_size=3))
            fractions = [1 / right] * right + wrong
        choices = []
        for fraction in draw(st.permutations(fractions)):
            feedback, feedback_format = rich()
            choices.append(
                Choice(
                    text=draw(texts()),
                    fraction=fraction,
                    feedback=feedback,
                    text_format=own_format(),
                    feedback_format=feedback_format,
                )
            )
        return replace(question, choices=choices)
    if kind == "truefalse":
        (true, true_format), (false, false_format) = rich(), rich()
        return replace(
            question,
            correct=draw(st.booleans()),
            feedback_true=true,
            feedback_true_format=true_format,
            feedback_false=false,
            feedback_false_format=false_format,
        )
    if kind == "numerical":
        values = []
        for _ in range(draw(st.integers(1, 3))):
            low, high = sorted(draw(st.tuples(NUMBERS, NUMBERS)))
            values.append(
                NumericAnswer(value=low, tolerance=abs(high))
                if draw(st.booleans())
                else NumericAnswer(min=low, max=high)
            )
        values += [NumericAnswer()] * draw(st.integers(0, 2))
        numeric = []
        for value in draw(st.permutations(values)):
            feedback, feedback_format = rich()
            numeric.append(
                replace(
                    value,
                    fraction=draw(FRACTIONS),
                    feedback=feedback,
                    feedback_format=feedback_format,
                )
            )
        return replace(question, numeric_answers=numeric)
    if kind == "shortanswer":
        short = []
        for _ in range(draw(st.integers(1, 3))):
            feedback, feedback_format = rich(arrows=False)
            short.append(
                ShortAnswer(
                    text=draw(texts(arrows=False)),
                    fraction=draw(FRACTIONS),
                    feedback=feedback,
                    feedback_format=feedback_format,
                )
            )
        return replace(question, short_answers=short)
    if kind == "matching":
        prompted = draw(st.integers(2, 4))
        pairs = [
            MatchPair(
                prompt=draw(texts(arrows=False)), answer=draw(texts()), prompt_format=own_format()
            )
            for _ in range(prompted)
        ]
        pairs += [
            MatchPair(prompt="", answer=draw(texts()))
            for _ in range(draw(st.integers(1 if prompted == 2 else 0, 2)))
        ]
        return replace(question, pairs=draw(st.permutations(pairs)))
    return question


@settings(max_examples=400)
@given(st.lists(questions(), min_size=1, max_size=4))
def test_write_then_parse_gives_the_same_questions(generated: list[ParsedQuestion]) -> None:
    assert round_trip(generated) == generated
