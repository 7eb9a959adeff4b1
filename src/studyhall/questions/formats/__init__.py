"""Question interchange: GIFT and Aiken read into one neutral model, GIFT written back."""

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

__all__ = [
    "Choice",
    "MatchPair",
    "NumericAnswer",
    "ParseIssue",
    "ParseReport",
    "ParsedQuestion",
    "ShortAnswer",
    "parse_aiken",
    "parse_gift",
    "write_gift",
]
