"""Full-text search, the parts that need no database: the query language and snippets.

Users type web-search syntax on both deployments: words (all must match),
``"a phrase"``, ``or`` between alternatives, ``-word`` to exclude. One parser reads
it; :func:`fts5_query` writes the result for SQLite as an FTS5 expression in which
every user word is a quoted string (so no input is an FTS5 syntax error or an
operator the user did not mean), and :func:`websearch_query` writes the same
query back in web-search syntax for PostgreSQL's ``websearch_to_tsquery``, so
both engines answer alike.

Both engines mark the matched words of a snippet with two control characters
that stored catalog text cannot contain; :func:`snippet_html` escapes the rest
and turns the marks into ``<mark>``, so a snippet is always safe to insert as HTML.
"""

from __future__ import annotations

import html
import re

MATCH_START = "\x02"
MATCH_END = "\x03"
# PostgreSQL's headline drops whatever its parser takes for a tag; the repository puts
# this after every "<" so that none is one, and :func:`snippet_html` takes it out again.
TAG_BREAK = "\x01"
TITLE_FALLBACK_CHARS = 80

# A letter or digit: what FTS5's unicode61 and PostgreSQL's parser keep as word characters.
_WORD = re.compile(r"[^\W_]")
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SNIPPET_PARTS = re.compile(f"([{MATCH_START}{MATCH_END}])")

# Alternatives, each with the phrases it wants and the phrases it excludes.
Alternative = tuple[list[str], list[str]]


def _alternatives(text: str) -> list[Alternative]:
    """``a b or c -d`` as [([a, b], []), ([c], [d])], as ``websearch_to_tsquery`` reads it.

    Phrases without a word character are left out (they match nothing), and so are
    alternatives that only exclude: FTS5 cannot say "everything but".
    """
    alternatives: list[Alternative] = [([], [])]
    for match in _TOKEN.finditer(_CONTROL.sub(" ", text)):
        negated, phrase, word = match.group(1) == "-", match.group(2), match.group(3)
        if phrase is None:
            if word.lower() == "or":
                if alternatives[-1] != ([], []):
                    alternatives.append(([], []))
                continue
            negated = word.startswith("-") and len(word) > 1
            phrase = word[1:] if negated else word
        if _WORD.search(phrase):
            alternatives[-1][1 if negated else 0].append(phrase.replace('"', " "))
    return [alternative for alternative in alternatives if alternative[0]]


def fts5_query(text: str) -> str | None:
    """The FTS5 expression for a web-search query; None when it can match nothing."""
    parts = []
    for wanted, unwanted in _alternatives(text):
        expression = " AND ".join(f'"{phrase}"' for phrase in wanted)
        for phrase in unwanted:
            expression = f'({expression}) NOT "{phrase}"'
        parts.append(f"({expression})")
    return " OR ".join(parts) or None


def websearch_query(text: str) -> str | None:
    """The query as :func:`fts5_query` reads it, in web-search syntax; None likewise."""
    parts = [
        " ".join([*(f'"{phrase}"' for phrase in wanted), *(f'-"{p}"' for p in unwanted)])
        for wanted, unwanted in _alternatives(text)
    ]
    return " or ".join(parts) or None


def snippet_html(raw: str) -> str:
    """A snippet from the database as safe HTML: text escaped, matches in ``<mark>``.

    Marks are paired up as they come, so a stray one (question text is not checked for
    control characters) cannot leave an element open or close one it did not open.
    """
    parts = []
    marking = False
    for part in _SNIPPET_PARTS.split(raw.replace(TAG_BREAK, "")):
        if part == MATCH_START and not marking:
            parts.append("<mark>")
            marking = True
        elif part == MATCH_END and marking:
            parts.append("</mark>")
            marking = False
        elif part not in (MATCH_START, MATCH_END):
            parts.append(html.escape(part, quote=False))
    if marking:
        parts.append("</mark>")
    return "".join(parts)


def title_from_text(text: str) -> str:
    """A title for something that has none (a question): its text without markup, cut short."""
    plain = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()
    if len(plain) <= TITLE_FALLBACK_CHARS:
        return plain
    return plain[: TITLE_FALLBACK_CHARS - 1].rstrip() + "…"
