"""Scoring rules per item type: bounds always hold, option order never matters,
numeric tolerance edges are exact, and malformed responses are refused."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from functools import cache
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studyhall.questions.content import QuestionContent
from studyhall.questions.formats.model import Choice, MatchPair, NumericAnswer, ShortAnswer
from studyhall.questions.scoring import (
    MAX_ESSAY_LENGTH,
    MAX_TEXT_LENGTH,
    InvalidResponse,
    Score,
    score,
    validate_response,
)

Case = tuple[QuestionContent, Any]

fractions = st.floats(-1, 1, allow_nan=False)
feedbacks = st.none() | st.text(max_size=4)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
# The numeric text a student may type (exponents kept small enough for Decimal).
number_texts = st.from_regex(
    r"[+-]?(?:[0-9]{1,12}(?:\.[0-9]{0,12})?|\.[0-9]{1,12})(?:[eE][+-]?[0-9]{1,3})?",
    fullmatch=True,
)


def scored(content: QuestionContent, response: object) -> Score:
    """Score of an objective question (never None)."""
    result = score(content, response)
    assert result is not None
    return result


def lowest(content: QuestionContent) -> float:
    """The documented lower bound of each kind."""
    if content.kind == "multiple":
        return content.score_floor
    return -1.0 if content.kind in ("single", "numerical", "shortanswer") else 0.0


def single(*fractions: float) -> QuestionContent:
    return QuestionContent(
        kind="single",
        text="?",
        choices=[
            Choice(text=f"c{i}", fraction=f, feedback=f"fb{i}") for i, f in enumerate(fractions)
        ],
    )


def multiple(*fractions: float, floor: float = 0.0) -> QuestionContent:
    return QuestionContent(
        kind="multiple",
        text="?",
        score_floor=floor,
        choices=[
            Choice(text=f"c{i}", fraction=f, feedback=f"fb{i}") for i, f in enumerate(fractions)
        ],
    )


def numerical(*answers: NumericAnswer) -> QuestionContent:
    return QuestionContent(kind="numerical", text="?", numeric_answers=list(answers))


def short(*answers: str | tuple[str, float], case_sensitive: bool = False) -> QuestionContent:
    accepted = [
        ShortAnswer(text=a, feedback=a)
        if isinstance(a, str)
        else ShortAnswer(text=a[0], fraction=a[1])
        for a in answers
    ]
    return QuestionContent(
        kind="shortanswer", text="?", short_answers=accepted, case_sensitive=case_sensitive
    )


def matching(*pairs: tuple[str, str]) -> QuestionContent:
    return QuestionContent(
        kind="matching", text="?", pairs=[MatchPair(prompt=p, answer=a) for p, a in pairs]
    )


def ordering(*items: str) -> QuestionContent:
    return QuestionContent(kind="ordering", text="?", items=list(items))


# --- strategies: a question of each kind with a response of the right shape ---

choice_lists = st.lists(
    st.builds(Choice, text=st.text(max_size=3), fraction=fractions, feedback=feedbacks),
    min_size=1,
    max_size=8,
)


@st.composite
def single_cases(draw: st.DrawFn) -> Case:
    choices = draw(choice_lists)
    content = QuestionContent(kind="single", text="?", choices=choices)
    return content, draw(st.none() | st.integers(0, len(choices) - 1))


@st.composite
def multiple_cases(draw: st.DrawFn) -> Case:
    choices = draw(choice_lists)
    floor = draw(st.floats(-1, 0))
    content = QuestionContent(kind="multiple", text="?", choices=choices, score_floor=floor)
    chosen = draw(st.lists(st.integers(0, len(choices) - 1), unique=True))
    return content, draw(st.none() | st.just(chosen))


@st.composite
def truefalse_cases(draw: st.DrawFn) -> Case:
    content = QuestionContent(
        kind="truefalse",
        text="?",
        correct=draw(st.none() | st.booleans()),
        feedback_true=draw(feedbacks),
        feedback_false=draw(feedbacks),
    )
    return content, draw(st.none() | st.booleans())


numeric_answers = st.builds(
    NumericAnswer,
    value=st.none() | finite_floats,
    tolerance=finite_floats,
    min=st.none() | finite_floats,
    max=st.none() | finite_floats,
    fraction=fractions,
    feedback=feedbacks,
)
numeric_responses = (
    st.none() | finite_floats | st.integers(-(10**30), 10**30) | number_texts | st.just(" ")
)


@st.composite
def numerical_cases(draw: st.DrawFn) -> Case:
    answers = draw(st.lists(numeric_answers, max_size=5))
    return numerical(*answers), draw(numeric_responses)


@st.composite
def shortanswer_cases(draw: st.DrawFn) -> Case:
    answers = draw(
        st.lists(
            st.builds(ShortAnswer, text=st.text("ab A*.\\ß", max_size=6), fraction=fractions),
            max_size=5,
        )
    )
    content = QuestionContent(
        kind="shortanswer",
        text="?",
        short_answers=answers,
        case_sensitive=draw(st.booleans()),
    )
    return content, draw(st.none() | st.text("ab AB*.\\ß\t", max_size=12))


@st.composite
def matching_cases(draw: st.DrawFn) -> Case:
    # Few distinct answer texts, so prompts often share an answer.
    pairs = draw(
        st.lists(
            st.builds(
                MatchPair, prompt=st.sampled_from(["", "p", "q"]), answer=st.sampled_from("xyz")
            ),
            min_size=1,
            max_size=7,
        )
    )
    content = QuestionContent(kind="matching", text="?", pairs=pairs)
    prompts = [i for i, pair in enumerate(pairs) if pair.prompt]
    answered = draw(st.lists(st.sampled_from(prompts), unique=True)) if prompts else []
    response = [[p, draw(st.integers(0, len(pairs) - 1))] for p in answered]
    return content, draw(st.none() | st.just(response))


@st.composite
def ordering_cases(draw: st.DrawFn) -> Case:
    items = draw(st.lists(st.text(max_size=3), min_size=1, max_size=8, unique=True))
    return ordering(*items), draw(st.none() | st.permutations(range(len(items))).map(list))


objective_cases = st.one_of(
    single_cases(),
    multiple_cases(),
    truefalse_cases(),
    numerical_cases(),
    shortanswer_cases(),
    matching_cases(),
    ordering_cases(),
)


# --- properties that hold for every kind ---


@given(objective_cases)
def test_scores_stay_within_the_kinds_bounds(case: Case) -> None:
    content, response = case
    validate_response(content, response)
    result = scored(content, response)
    assert not math.isnan(result.fraction)
    assert lowest(content) <= result.fraction <= 1.0
    assert result.correct == (result.fraction == 1.0)


@given(objective_cases)
def test_not_answering_scores_zero(case: Case) -> None:
    content, _ = case
    assert score(content, None) == Score(0.0, False, None)


def test_essays_and_descriptions_are_not_scored_automatically() -> None:
    assert score(QuestionContent(kind="essay", text="?"), "My essay.") is None
    assert score(QuestionContent(kind="essay", text="?"), None) is None
    assert score(QuestionContent(kind="description", text="?"), None) is None


# --- option order never changes a score ---


@given(single_cases(), st.data())
def test_single_ignores_choice_order(case: Case, data: st.DataObject) -> None:
    content, response = case
    perm = data.draw(st.permutations(range(len(content.choices))))
    moved = msgspec.structs.replace(content, choices=[content.choices[i] for i in perm])
    new = None if response is None else perm.index(response)
    assert scored(moved, new) == scored(content, response)


@given(multiple_cases(), st.data())
def test_multiple_ignores_choice_order(case: Case, data: st.DataObject) -> None:
    content, response = case
    perm = data.draw(st.permutations(range(len(content.choices))))
    moved = msgspec.structs.replace(content, choices=[content.choices[i] for i in perm])
    new = (
        None if response is None else data.draw(st.permutations([perm.index(i) for i in response]))
    )
    assert scored(moved, new).fraction == scored(content, response).fraction


@given(numerical_cases(), st.data())
def test_numerical_ignores_answer_order(case: Case, data: st.DataObject) -> None:
    content, response = case
    answers = data.draw(st.permutations(content.numeric_answers))
    moved = msgspec.structs.replace(content, numeric_answers=answers)
    assert scored(moved, response).fraction == scored(content, response).fraction


@given(shortanswer_cases(), st.data())
def test_shortanswer_ignores_answer_order(case: Case, data: st.DataObject) -> None:
    content, response = case
    answers = data.draw(st.permutations(content.short_answers))
    moved = msgspec.structs.replace(content, short_answers=answers)
    assert scored(moved, response).fraction == scored(content, response).fraction


@given(matching_cases(), st.data())
def test_matching_ignores_pair_order(case: Case, data: st.DataObject) -> None:
    content, response = case
    perm = data.draw(st.permutations(range(len(content.pairs))))
    moved = msgspec.structs.replace(content, pairs=[content.pairs[i] for i in perm])
    new = None if response is None else [[perm.index(p), perm.index(a)] for p, a in response]
    if new is not None:
        new = data.draw(st.permutations(new))
    assert scored(moved, new).fraction == scored(content, response).fraction


@given(ordering_cases())
def test_ordering_counts_items_in_their_place(case: Case) -> None:
    """Items are the answer key, so their stored order is the question; what a session
    shuffles is only the display, which the response (item ids) does not depend on."""
    content, response = case
    order = response or list(range(len(content.items)))
    in_place = sum(1 for position, item in enumerate(order) if position == item)
    result = scored(content, order)
    assert result.fraction == pytest.approx(in_place / len(order))
    assert result.correct == (order == sorted(order))


# --- single ---


def test_single_gives_the_chosen_weight_and_feedback() -> None:
    content = single(1.0, 0.5, 0.0, -0.5)
    assert scored(content, 0) == Score(1.0, True, "fb0")
    assert scored(content, 1) == Score(0.5, False, "fb1")
    assert scored(content, 2) == Score(0.0, False, "fb2")
    assert scored(content, 3) == Score(-0.5, False, "fb3")


def test_single_clamps_weights_to_one() -> None:
    assert scored(single(1.5, -2.0), 0).fraction == 1.0
    assert scored(single(1.5, -2.0), 1).fraction == -1.0


def test_a_weight_of_minus_zero_scores_plain_zero() -> None:
    assert math.copysign(1.0, scored(single(1.0, -0.0), 1).fraction) == 1.0


# --- multiple: partial credit, negative marking and the floor ---


def test_multiple_sums_the_chosen_weights() -> None:
    content = multiple(0.5, 0.5, -0.5, -1.0)
    assert scored(content, [0, 1]) == Score(1.0, True, "fb0\n\nfb1")
    assert scored(content, [1]).fraction == 0.5
    assert scored(content, [0, 1, 2]).fraction == 0.5
    assert scored(content, []) == Score(0.0, False, None)


def test_multiple_never_goes_below_the_floor() -> None:
    assert scored(multiple(0.5, 0.5, -0.5, -1.0), [2, 3]).fraction == 0.0
    assert scored(multiple(0.5, 0.5, -0.5, -1.0, floor=-1.0), [2, 3]).fraction == -1.0
    assert scored(multiple(0.5, 0.5, -0.5, -1.0, floor=-0.25), [0, 3]).fraction == -0.25


def test_multiple_feedback_follows_the_questions_order() -> None:
    assert scored(multiple(0.5, 0.5), [1, 0]).feedback == "fb0\n\nfb1"


def test_thirds_add_up_to_full_marks() -> None:
    """Moodle stores 1/3 as 0.3333333; three of them must still be right."""
    result = scored(multiple(0.3333333, 0.3333333, 0.3333333, -1.0), [0, 1, 2])
    assert result == Score(1.0, True, "fb0\n\nfb1\n\nfb2")


@given(multiple_cases())
def test_multiple_is_the_clamped_sum(case: Case) -> None:
    content, response = case
    chosen = response or []
    total = math.fsum(content.choices[i].fraction for i in chosen)
    expected = min(max(total, content.score_floor), 1.0) if chosen else 0.0
    assert scored(content, response).fraction == pytest.approx(expected, abs=1e-6)


# --- true/false ---


def test_truefalse_scores_the_right_value_and_shows_its_feedback() -> None:
    content = QuestionContent(
        kind="truefalse", text="?", correct=False, feedback_true="no", feedback_false="yes"
    )
    assert scored(content, False) == Score(1.0, True, "yes")
    assert scored(content, True) == Score(0.0, False, "no")


# --- numerical: exact edges, ranges, several answers, the * answer ---


@pytest.mark.parametrize("response", ["1.1", "0.9", "1", 1.1, 0.9, 1, "+1.05", "1.1e0", "11E-1"])
def test_tolerance_edges_are_included(response: object) -> None:
    assert scored(numerical(NumericAnswer(value=1.0, tolerance=0.1)), response).correct


@pytest.mark.parametrize("response", ["1.1000000001", "0.8999999999", 1.1000000001, "-1"])
def test_just_outside_the_tolerance_is_refused(response: object) -> None:
    assert scored(numerical(NumericAnswer(value=1.0, tolerance=0.1)), response).fraction == 0.0


@pytest.mark.parametrize("response", [0.2, "0.2", 0.4, "0.4"])
def test_float_pitfalls_do_not_move_the_edges(response: object) -> None:
    """0.3 - 0.1 is 0.19999999999999998 in floats; decimally it is 0.2."""
    assert scored(numerical(NumericAnswer(value=0.3, tolerance=0.1)), response).correct


@pytest.mark.parametrize(
    ("response", "correct"),
    [
        (1, True),
        (3, True),
        ("2.5", True),
        (1.0, True),
        ("3.0", True),
        ("0.99999", False),
        (3.0001, False),
    ],
)
def test_ranges_include_both_ends(response: object, correct: bool) -> None:
    assert scored(numerical(NumericAnswer(min=1.0, max=3.0)), response).correct == correct


def test_numerical_takes_the_best_matching_answer() -> None:
    content = numerical(
        NumericAnswer(value=1822.0, tolerance=10.0, fraction=0.5, feedback="close"),
        NumericAnswer(value=1822.0, fraction=1.0, feedback="exact"),
        NumericAnswer(fraction=0.0, feedback="wrong"),
    )
    assert scored(content, 1822) == Score(1.0, True, "exact")
    assert scored(content, "1830") == Score(0.5, False, "close")
    assert scored(content, 1900.5) == Score(0.0, False, "wrong")


def test_a_blank_numeric_text_is_not_answered() -> None:
    assert scored(numerical(NumericAnswer()), "   ") == Score(0.0, False, None)


def just_past(edge: Decimal, sign: int) -> str:
    """Text for a number a hair beyond ``edge`` (sign +1 above, -1 below): a step far
    smaller than any float can tell apart from the edge."""
    with localcontext() as ctx:
        ctx.prec = 2000
        step = Decimal(sign).scaleb(edge.adjusted() - 40 if edge else -400)
        return format(edge + step, "f")


@settings(max_examples=300)
@given(finite_floats, finite_floats)
def test_tolerance_edges_are_exact_for_any_floats(value: float, tolerance: float) -> None:
    content = numerical(NumericAnswer(value=value, tolerance=tolerance))
    with localcontext() as ctx:
        ctx.prec = 2000
        centre, margin = Decimal(repr(value)), Decimal(repr(abs(tolerance)))
        low, high = centre - margin, centre + margin
    assert scored(content, format(high, "f")).correct
    assert scored(content, format(low, "f")).correct
    assert not scored(content, just_past(high, 1)).correct
    assert not scored(content, just_past(low, -1)).correct


@given(finite_floats, finite_floats)
def test_range_ends_are_exact_for_any_floats(a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    content = numerical(NumericAnswer(min=low, max=high))
    assert scored(content, low).correct
    assert scored(content, high).correct
    assert scored(content, repr(low)).correct
    assert scored(content, repr(high)).correct
    assert not scored(content, just_past(Decimal(repr(high)), 1)).correct
    assert not scored(content, just_past(Decimal(repr(low)), -1)).correct


@given(numeric_responses)
def test_the_star_answer_accepts_any_number(response: object) -> None:
    result = scored(numerical(NumericAnswer(fraction=0.25, feedback="any")), response)
    blank = response is None or (isinstance(response, str) and not response.strip())
    assert result == (Score(0.0, False, None) if blank else Score(0.25, False, "any"))


# --- short answer: wildcard, whitespace and case ---


def test_shortanswer_matches_whole_answers_ignoring_case() -> None:
    content = short("Paris", ("Lutetia", 0.5))
    assert scored(content, "paris") == Score(1.0, True, "Paris")
    assert scored(content, "  PARIS \n") == Score(1.0, True, "Paris")
    assert scored(content, "lutetia").fraction == 0.5
    assert scored(content, "Paris, France").fraction == 0.0
    assert scored(content, "in Paris").fraction == 0.0


def test_shortanswer_respects_case_when_asked() -> None:
    content = short("Paris", case_sensitive=True)
    assert scored(content, "Paris").correct
    assert not scored(content, "paris").correct


def test_shortanswer_casefolds_beyond_ascii() -> None:
    assert scored(short("Straße"), "STRASSE").correct


def test_shortanswer_collapses_inner_whitespace_on_both_sides() -> None:
    assert scored(short("New   York"), "new\t york").correct
    assert scored(short(" New York "), "New York").correct


def test_star_is_a_wildcard_and_nothing_else_is() -> None:
    assert scored(short("colo*r"), "colour").correct
    assert scored(short("colo*r"), "color").correct
    assert not scored(short("colo*r"), "colours").correct
    assert scored(short("*"), "anything at all").correct
    assert not scored(short("a.c"), "abc").correct
    assert scored(short("a.c"), "a.c").correct
    assert scored(short("(x+1)^2"), "(x+1)^2").correct
    assert scored(short(r"5 \* 3"), "5 * 3").correct
    assert not scored(short(r"5 \* 3"), "5 x 3").correct


def test_a_blank_short_answer_is_not_answered() -> None:
    assert scored(short("*"), "  ") == Score(0.0, False, None)


def test_many_wildcards_do_not_backtrack_for_ages() -> None:
    assert not scored(short("*a*a*a*a*a*a*a*a*b"), "a" * MAX_TEXT_LENGTH).correct


@cache
def glob(pattern: str, text: str) -> bool:
    """Reference matcher: ``*`` is any run of characters, everything else literal."""
    if not pattern:
        return not text
    if pattern[0] == "*":
        return glob(pattern[1:], text) or (bool(text) and glob(pattern, text[1:]))
    return bool(text) and text[0] == pattern[0] and glob(pattern[1:], text[1:])


@given(st.text("ab*.", min_size=1, max_size=8), st.text("ab.", min_size=1, max_size=10))
def test_wildcards_match_like_a_reference_glob(pattern: str, text: str) -> None:
    assert scored(short(pattern, case_sensitive=True), text).correct == glob(pattern, text)


@given(st.text(min_size=1, max_size=20).filter(lambda t: "*" not in t and t.strip()))
def test_any_literal_answer_matches_itself(answer: str) -> None:
    assert scored(short(answer, case_sensitive=True), f" {answer} ").correct
    assert scored(short(answer), answer.upper()).correct


@given(st.text("abcXYZ", min_size=1, max_size=8))
def test_case_matters_only_when_case_sensitive(answer: str) -> None:
    swapped = answer.swapcase()
    assert scored(short(answer), swapped).correct
    assert scored(short(answer, case_sensitive=True), swapped).correct == (swapped == answer)


# --- matching ---


def test_matching_gives_a_share_per_prompt() -> None:
    content = matching(("cat", "meow"), ("dog", "woof"), ("cow", "moo"), ("", "quack"))
    assert scored(content, [[0, 0], [1, 1], [2, 2]]) == Score(1.0, True, None)
    assert scored(content, [[0, 0], [1, 2]]).fraction == pytest.approx(1 / 3)
    assert scored(content, [[0, 3], [1, 0], [2, 1]]).fraction == 0.0
    assert scored(content, []).fraction == 0.0


def test_matching_compares_answers_by_text() -> None:
    """Two prompts share the answer "mammal"; either copy of it is right for both."""
    content = matching(("cat", "mammal"), ("dog", "mammal"), ("trout", "fish"))
    assert scored(content, [[0, 1], [1, 0], [2, 2]]).correct


# --- ordering ---


def test_ordering_gives_a_share_per_item_in_place() -> None:
    content = ordering("a", "b", "c", "d")
    assert scored(content, [0, 1, 2, 3]) == Score(1.0, True, None)
    assert scored(content, [0, 1, 3, 2]).fraction == 0.5
    assert scored(content, [3, 0, 1, 2]).fraction == 0.0


# --- invalid shapes ---


INVALID: list[tuple[QuestionContent, object]] = [
    (single(1.0, 0.0), True),
    (single(1.0, 0.0), False),
    (single(1.0, 0.0), 2),
    (single(1.0, 0.0), -1),
    (single(1.0, 0.0), 1.0),
    (single(1.0, 0.0), "0"),
    (single(1.0, 0.0), [0]),
    (multiple(0.5, 0.5), [0, 0]),
    (multiple(0.5, 0.5), [0, 2]),
    (multiple(0.5, 0.5), [True]),
    (multiple(0.5, 0.5), 0),
    (multiple(0.5, 0.5), "01"),
    (QuestionContent(kind="truefalse", text="?", correct=True), 1),
    (QuestionContent(kind="truefalse", text="?", correct=True), "true"),
    (numerical(NumericAnswer()), True),
    (numerical(NumericAnswer()), math.nan),
    (numerical(NumericAnswer()), math.inf),
    (numerical(NumericAnswer()), "nan"),
    (numerical(NumericAnswer()), "inf"),
    (numerical(NumericAnswer()), "Infinity"),
    (numerical(NumericAnswer()), "1,5"),
    (numerical(NumericAnswer()), "0x10"),
    (numerical(NumericAnswer()), "1_000"),
    (numerical(NumericAnswer()), "1 2"),
    (numerical(NumericAnswer()), "١٢"),
    (numerical(NumericAnswer()), "1e" + "9" * 30),
    (numerical(NumericAnswer()), "1" * (MAX_TEXT_LENGTH + 1)),
    (numerical(NumericAnswer()), [1]),
    (short("x"), 5),
    (short("x"), ["x"]),
    (short("x"), "x" * (MAX_TEXT_LENGTH + 1)),
    (matching(("a", "1"), ("b", "2"), ("", "3")), [[2, 0]]),
    (matching(("a", "1"), ("b", "2"), ("", "3")), [[0, 0], [0, 1]]),
    (matching(("a", "1"), ("b", "2"), ("", "3")), [[0, 3]]),
    (matching(("a", "1"), ("b", "2"), ("", "3")), [[0, True]]),
    (matching(("a", "1"), ("b", "2"), ("", "3")), [[0]]),
    (matching(("a", "1"), ("b", "2"), ("", "3")), [[0, 1, 2]]),
    (matching(("a", "1"), ("b", "2"), ("", "3")), {0: 0}),
    (ordering("a", "b", "c"), [0, 1]),
    (ordering("a", "b", "c"), [0, 1, 1]),
    (ordering("a", "b", "c"), [0, 1, 2, 3]),
    (ordering("a", "b", "c"), [0, 1, 3]),
    (ordering("a", "b", "c"), [False, 1, 2]),
    (QuestionContent(kind="essay", text="?"), 5),
    (QuestionContent(kind="essay", text="?"), "x" * (MAX_ESSAY_LENGTH + 1)),
    (QuestionContent(kind="description", text="?"), ""),
]


@pytest.mark.parametrize(("content", "response"), INVALID)
def test_malformed_responses_are_refused(content: QuestionContent, response: object) -> None:
    with pytest.raises(InvalidResponse):
        validate_response(content, response)
    with pytest.raises(InvalidResponse):
        score(content, response)


def test_refusals_say_what_is_wrong() -> None:
    with pytest.raises(InvalidResponse, match="integer index, not bool"):
        validate_response(single(1.0, 0.0), True)
    with pytest.raises(InvalidResponse, match="no choice 7"):
        validate_response(single(1.0, 0.0), 7)
    with pytest.raises(InvalidResponse, match="choice 1 is given more than once"):
        validate_response(multiple(0.5, 0.5), [1, 1])
    with pytest.raises(InvalidResponse, match="all 3 items"):
        validate_response(ordering("a", "b", "c"), [2, 1])


@given(objective_cases, st.booleans())
def test_a_bool_never_stands_for_an_index(case: Case, flag: bool) -> None:
    content, _ = case
    if content.kind == "single":
        bad: object = flag
    elif content.kind in ("multiple", "ordering"):
        bad = [flag]
    elif content.kind == "matching":
        bad = [[flag, 0]]
    else:
        return
    with pytest.raises(InvalidResponse):
        validate_response(content, bad)


@given(objective_cases)
def test_none_is_always_a_valid_response(case: Case) -> None:
    validate_response(case[0], None)


def test_scores_serialise_for_the_api() -> None:
    assert msgspec.json.decode(msgspec.json.encode(Score(0.5, False, None))) == {
        "fraction": 0.5,
        "correct": False,
        "feedback": None,
    }


@pytest.mark.parametrize("text", ["12", "-0.5", "+3.", ".5", "6.02e23", "1E-3", " 7 ", "1e999"])
def test_numeric_text_takes_sign_decimals_and_exponent(text: str) -> None:
    validate_response(numerical(NumericAnswer()), text)
