"""Question interchange: GIFT, Aiken and Moodle XML read into one neutral model, and
GIFT and Moodle XML written back."""

from studyhall.questions.formats.aiken import parse_aiken
from studyhall.questions.formats.gift import parse_gift, write_gift
from studyhall.questions.formats.model import (
    Choice,
    MatchPair,
    NumericAnswer,
    ParsedQuestion,
    ParseIssue,
    ParseReport,
    ShortAnswer,
)
from studyhall.questions.formats.moodlexml import (
    EmbeddedFile,
    parse_moodle_xml,
    parse_moodle_xml_with_files,
    write_moodle_xml,
)

__all__ = [
    "Choice",
    "EmbeddedFile",
    "MatchPair",
    "NumericAnswer",
    "ParseIssue",
    "ParseReport",
    "ParsedQuestion",
    "ShortAnswer",
    "parse_aiken",
    "parse_gift",
    "parse_moodle_xml",
    "parse_moodle_xml_with_files",
    "write_gift",
    "write_moodle_xml",
]
