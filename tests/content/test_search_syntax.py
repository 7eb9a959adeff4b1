"""The search query language and snippets, without a server: web-search syntax into FTS5
(checked against a real FTS5 table) and into normalised web-search syntax."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studyhall.content.search import (
    MATCH_END,
    MATCH_START,
    TAG_BREAK,
    fts5_query,
    snippet_html,
    title_from_text,
    websearch_query,
)

DOCUMENTS = {
    1: ("Photosynthesis", "green pigments absorb red and blue light"),
    2: ("Calvin cycle", "carbon fixation builds glucose"),
    3: ("Crème brûlée", "caramelised sugar on custard"),
    4: ("Near and far", "NEAR AND OR NOT are plain words here"),
}


@pytest.fixture(scope="module")
def fts5() -> Iterator[sqlite3.Connection]:
    """An FTS5 table made like the real one (migration 0003), holding DOCUMENTS."""
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(title, body,"
        " tokenize = 'unicode61 remove_diacritics 2')"
    )
    connection.executemany(
        "INSERT INTO docs (rowid, title, body) VALUES (?, ?, ?)",
        [(rowid, title, body) for rowid, (title, body) in DOCUMENTS.items()],
    )
    yield connection
    connection.close()


def _matches(connection: sqlite3.Connection, text: str) -> set[int]:
    expression = fts5_query(text)
    if expression is None:
        return set()
    rows = connection.execute("SELECT rowid FROM docs WHERE docs MATCH ?", (expression,))
    return {row[0] for row in rows}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kelp", '("kelp")'),
        ("red  blue", '("red" AND "blue")'),
        ('"red and blue"', '("red and blue")'),
        ('"unclosed phrase', '("unclosed phrase")'),
        ("red or glucose", '("red") OR ("glucose")'),
        ("red OR glucose", '("red") OR ("glucose")'),
        ("red -blue", '(("red") NOT "blue")'),
        ('red -"blue light" -green', '((("red") NOT "blue light") NOT "green")'),
        ("a b or c -d", '("a" AND "b") OR (("c") NOT "d")'),
        ('say"hi', '("say hi")'),
        ("NEAR(a", '("NEAR(a")'),
        ("title:a*", '("title:a*")'),
        ("b --a", '(("b") NOT "-a")'),
        ("or a or or b or", '("a") OR ("b")'),
        ("a _", '("a")'),
    ],
)
def test_fts5_query_quotes_every_word(text: str, expected: str) -> None:
    assert fts5_query(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "-", "-a", "-a -b", "or", '""', '" "', "*", "_", "- - -", "\x00", "\x02\x03"],
)
def test_queries_that_can_match_nothing_are_none(text: str) -> None:
    assert fts5_query(text) is None
    assert websearch_query(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("red  blue", '"red" "blue"'),
        ('a "b c" -d or e', '"a" "b c" -"d" or "e"'),
        ("a or -b", '"a"'),
        ('x"y -"z', '"x y" -"z"'),
        ("kelp\x00", '"kelp"'),
    ],
)
def test_websearch_query_is_the_same_query_for_postgresql(text: str, expected: str) -> None:
    assert websearch_query(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("light", {1}),
        ("LIGHT pigments", {1}),
        ('"red and blue"', {1}),
        ('"blue and red"', set()),
        ("glucose or light", {1, 2}),
        ("light -red", set()),
        ("light or carbon -glucose", {1}),
        ("creme brulee", {3}),
        ("crème", {3}),
        ("NEAR AND OR NOT", {4}),
        ("near", {4}),
        ("glucose*", {2}),
        ("gluc*", set()),
    ],
)
def test_fts5_query_finds_what_the_words_say(
    fts5: sqlite3.Connection, text: str, expected: set[int]
) -> None:
    assert _matches(fts5, text) == expected


# Query text built from FTS5 and web-search syntax, keywords and any other character.
QUERY_TEXT = st.lists(
    st.one_of(
        st.sampled_from([*"\"-*():^{}+,.\\' _\x00\x02", "or", "OR", "NEAR", "AND", "NOT"]),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=QUERY_TEXT)
def test_any_input_is_none_or_an_expression_fts5_accepts(
    fts5: sqlite3.Connection, text: str
) -> None:
    expression = fts5_query(text)
    assert (expression is None) == (websearch_query(text) is None)
    if expression is not None:
        fts5.execute("SELECT rowid FROM docs WHERE docs MATCH ?", (expression,)).fetchall()


def test_snippets_are_escaped_with_matches_marked() -> None:
    raw = f'a <b>bold</b> & "{MATCH_START}kelp{MATCH_END}" <{TAG_BREAK}i>'
    assert snippet_html(raw) == 'a &lt;b&gt;bold&lt;/b&gt; &amp; "<mark>kelp</mark>" &lt;i&gt;'


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"{MATCH_END}a{MATCH_START}b", "a<mark>b</mark>"),
        (f"{MATCH_START}{MATCH_START}a{MATCH_END}{MATCH_END}", "<mark>a</mark>"),
        (f"{MATCH_START}a", "<mark>a</mark>"),
    ],
)
def test_stray_marks_never_unbalance_a_snippet(raw: str, expected: str) -> None:
    assert snippet_html(raw) == expected


@given(st.text(alphabet=st.sampled_from(["a", "<", ">", "&", MATCH_START, MATCH_END, TAG_BREAK])))
def test_any_snippet_is_balanced_and_has_no_other_markup(raw: str) -> None:
    shown = snippet_html(raw)
    plain = shown.replace("<mark>", "\x02").replace("</mark>", "\x03")
    assert "<" not in plain
    assert ">" not in plain
    depth = 0
    for char in plain:
        depth += {"\x02": 1, "\x03": -1}.get(char, 0)
        assert depth in (0, 1)
    assert depth == 0


def test_titles_from_question_text_lose_markup_and_are_cut_short() -> None:
    assert title_from_text("<p>Which  <b>enzyme</b>\nfixes &amp; carbon?</p>") == (
        "Which enzyme fixes & carbon?"
    )
    long = title_from_text("word " * 40)
    assert len(long) == 80
    assert long.endswith("…")
