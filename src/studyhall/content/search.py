"""Full-text search, the parts that need no database: the query language and snippets.

Users type web-search syntax on both deployments: words (all must match),
``"a phrase"``, ``or`` between alternatives, ``-word`` to exclude. PostgreSQL
reads that with ``websearch_to_tsquery``; for SQLite :func:`fts5_query` turns it
into an FTS5 expression in which every user word is a quoted string, so no input
can be an FTS5 syntax error (or an FTS5 operator the user did not mean).

Both engines mark the matched words of a snippet with two control characters
that no stored text contains; :func:`snippet_html` escapes the rest and turns
the marks into ``<mark>``, so a snippet is always safe to insert as HTML.
"""

from __future__ import annotations

import html
import re

MATCH_START = "\x02"
MATCH_END = "\x03"
TITLE_FALLBACK_CHARS = 80

_WORD = re.compile(r"\w", re.UNICODE)
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _fts5_string(text: str) -> str | None:
    """A quoted FTS5 string (a phrase of the words in ``text``), or None if it has none."""
    if not _WORD.search(text):
        return None
    return '"' + text.replace('"', '""') + '"'


def fts5_query(text: str) -> str | None:
    """The FTS5 expression for a web-search query; None when it can match nothing.

    ``a b or c -d`` means (a AND b) OR (c AND NOT d), as in ``websearch_to_tsquery``.
    FTS5 cannot express a group made only of exclusions, so such a group is dropped.
    """
    groups: list[tuple[list[str], list[str]]] = [([], [])]
    for match in _TOKEN.finditer(_CONTROL.sub(" ", text)):
        negated, phrase, word = match.group(1) == "-", match.group(2), match.group(3)
        if phrase is not None:
            term = _fts5_string(phrase)
            if term is not None:
                groups[-1][1 if negated else 0].append(term)
            continue
        if word.lower() == "or":
            if groups[-1][0] or groups[-1][1]:
                groups.append(([], []))
            continue
        excluded = word.startswith("-") and len(word) > 1
        term = _fts5_string(word[1:] if excluded else word)
        if term is not None:
            groups[-1][1 if excluded else 0].append(term)
    parts = []
    for wanted, unwanted in groups:
        if not wanted:
            continue
        expression = " AND ".join(wanted)
        for term in unwanted:
            expression = f"({expression}) NOT {term}"
        parts.append(f"({expression})")
    return " OR ".join(parts) or None


def snippet_html(raw: str) -> str:
    """A snippet from the database as safe HTML: text escaped, matches in ``<mark>``."""
    escaped = html.escape(raw, quote=False)
    return escaped.replace(MATCH_START, "<mark>").replace(MATCH_END, "</mark>")


def title_from_text(text: str) -> str:
    """A title for something that has none (a question): its text without markup, cut short."""
    plain = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()
    if len(plain) <= TITLE_FALLBACK_CHARS:
        return plain
    return plain[: TITLE_FALLBACK_CHARS - 1].rstrip() + "…"
