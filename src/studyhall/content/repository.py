"""All catalog SQL: courses, lessons, videos, and full-text search on both engines.

Search (see migration 0003 for the structures):

- SQLite: ``content_search_docs`` holds one row per searchable thing (kind, ref,
  title, body) and ``content_search`` is an external-content FTS5 index over it,
  kept in step by triggers on the docs table. This repository writes the course
  and lesson documents whenever it writes a course or a lesson; triggers on
  ``question_versions`` write the question documents, whoever writes a question.
- PostgreSQL: GIN expression indexes on the tables themselves; nothing to
  maintain. The vector expressions below must stay identical to the indexed ones.

Both rank title matches above body matches and check, in SQL, that the reader
may see each hit, so pagination counts only what is shown.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, Uuid, bindparam, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.content.models import Course, Lesson, Video
from studyhall.content.search import MATCH_END, MATCH_START, TAG_BREAK

SearchKind = Literal["course", "lesson", "question"]
QuestionScope = Literal["none", "reachable", "all"]
SNIPPET_WORDS = 24
LEAD_CHARS = 400
# FTS5 bm25 column weights (title, body); PostgreSQL weighs title 'A', body 'B'.
_BM25 = "bm25(content_search, 5.0, 1.0)"
_HEADLINE_OPTIONS = (
    f"StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords={SNIPPET_WORDS}, MinWords=8, "
    'ShortWord=2, MaxFragments=2, FragmentDelimiter=" … "'
)
COURSE_VECTOR = (
    "setweight(to_tsvector('simple', {t}.title), 'A')"
    " || setweight(to_tsvector('simple', {t}.summary), 'B')"
)
LESSON_VECTOR = (
    "setweight(to_tsvector('simple', {t}.title), 'A')"
    " || setweight(to_tsvector('simple', {t}.body), 'B')"
)
QUESTION_VECTOR = (
    "setweight(to_tsvector('simple', coalesce({t}.title, '')), 'A')"
    " || setweight(to_tsvector('simple', coalesce({t}.content ->> 'text', '')), 'B')"
)


@dataclass(frozen=True, slots=True)
class SearchRow:
    kind: SearchKind
    id: uuid.UUID
    title: str
    lead: str
    snippet: str


@dataclass(frozen=True, slots=True)
class SearchScope:
    """What a reader may find: published courses, plus their own (``viewer_id``) or
    every course (``every_course``), plus questions of no, reachable or all banks."""

    viewer_id: uuid.UUID | None
    every_course: bool
    questions: QuestionScope


def _is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


async def course_by_id(session: AsyncSession, course_id: uuid.UUID) -> Course | None:
    return await session.get(Course, course_id)


async def add_course(session: AsyncSession, course: Course) -> None:
    session.add(course)
    await session.flush()
    await index_course(session, course)


async def save_course(session: AsyncSession, course: Course) -> None:
    """Flush edits of a loaded course and refresh its search document."""
    await session.flush()
    await index_course(session, course)


async def courses_with_counts(
    session: AsyncSession,
    *,
    published_or_owned_by: uuid.UUID | None,
    only_owner: uuid.UUID | None,
    every_course: bool,
    limit: int,
    offset: int,
) -> list[tuple[Course, int]]:
    """Courses newest first, with lesson counts: published ones (and those owned by
    ``published_or_owned_by``), all of them (``every_course``), or one owner's."""
    counts = (
        select(Lesson.course_id, func.count().label("lessons"))
        .group_by(Lesson.course_id)
        .subquery()
    )
    query = (
        select(Course, func.coalesce(counts.c.lessons, 0))
        .outerjoin(counts, counts.c.course_id == Course.id)
        .order_by(Course.created_at.desc(), Course.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if only_owner is not None:
        query = query.where(Course.owner_id == only_owner)
    elif not every_course:
        visible: list[ColumnElement[bool]] = [Course.published.is_(True)]
        if published_or_owned_by is not None:
            visible.append(Course.owner_id == published_or_owned_by)
        query = query.where(or_(*visible))
    return [(course, int(count)) for course, count in (await session.execute(query)).all()]


async def lessons_of(session: AsyncSession, course_id: uuid.UUID) -> Sequence[Lesson]:
    query = (
        select(Lesson)
        .where(Lesson.course_id == course_id)
        .order_by(Lesson.position, Lesson.created_at, Lesson.id)
    )
    return (await session.execute(query)).scalars().all()


async def lesson_with_course(
    session: AsyncSession, lesson_id: uuid.UUID
) -> tuple[Lesson, Course] | None:
    query = select(Lesson, Course).join(Course, Course.id == Lesson.course_id)
    row = (await session.execute(query.where(Lesson.id == lesson_id))).one_or_none()
    return None if row is None else (row[0], row[1])


async def next_position(session: AsyncSession, course_id: uuid.UUID) -> int:
    query = select(func.max(Lesson.position)).where(Lesson.course_id == course_id)
    highest = (await session.execute(query)).scalar_one_or_none()
    return 1 if highest is None else int(highest) + 1


async def add_lesson(session: AsyncSession, lesson: Lesson) -> None:
    session.add(lesson)
    await session.flush()
    await index_lesson(session, lesson)


async def save_lesson(session: AsyncSession, lesson: Lesson) -> None:
    await session.flush()
    await index_lesson(session, lesson)


async def delete_lesson(session: AsyncSession, lesson: Lesson) -> None:
    await session.delete(lesson)
    await session.flush()
    await _drop_document(session, "lesson", lesson.id)


async def set_positions(session: AsyncSession, positions: dict[uuid.UUID, int]) -> None:
    if positions:
        await session.execute(
            update(Lesson),
            [{"id": lesson_id, "position": position} for lesson_id, position in positions.items()],
        )


async def video_by_id(session: AsyncSession, video_id: uuid.UUID) -> Video | None:
    return await session.get(Video, video_id)


async def add_video(session: AsyncSession, video: Video) -> None:
    session.add(video)
    await session.flush()


# --- search documents (SQLite) -------------------------------------------------------

_UPSERT_DOCUMENT = text(
    "INSERT INTO content_search_docs (kind, ref, title, body) VALUES (:kind, :ref, :title, :body)"
    " ON CONFLICT (kind, ref) DO UPDATE SET title = excluded.title, body = excluded.body"
).bindparams(bindparam("ref", type_=Uuid()))
_DELETE_DOCUMENT = text(
    "DELETE FROM content_search_docs WHERE kind = :kind AND ref = :ref"
).bindparams(bindparam("ref", type_=Uuid()))


async def _put_document(
    session: AsyncSession, kind: SearchKind, ref: uuid.UUID, title: str, body: str
) -> None:
    if _is_sqlite(session):
        await session.execute(
            _UPSERT_DOCUMENT, {"kind": kind, "ref": ref, "title": title, "body": body}
        )


async def _drop_document(session: AsyncSession, kind: SearchKind, ref: uuid.UUID) -> None:
    if _is_sqlite(session):
        await session.execute(_DELETE_DOCUMENT, {"kind": kind, "ref": ref})


async def index_course(session: AsyncSession, course: Course) -> None:
    await _put_document(session, "course", course.id, course.title, course.summary)


async def index_lesson(session: AsyncSession, lesson: Lesson) -> None:
    await _put_document(session, "lesson", lesson.id, lesson.title, lesson.body)


async def rebuild_search_documents(session: AsyncSession) -> None:
    """Rewrite every SQLite search document from the tables (a repair tool; PostgreSQL's
    indexes need no rebuild)."""
    if not _is_sqlite(session):
        return
    await session.execute(text("DELETE FROM content_search_docs"))
    await session.execute(
        text(
            "INSERT INTO content_search_docs (kind, ref, title, body)"
            " SELECT 'course', id, title, summary FROM courses"
            " UNION ALL SELECT 'lesson', id, title, body FROM lessons"
            " UNION ALL SELECT 'question', id, coalesce(title, ''),"
            " coalesce(json_extract(content, '$.text'), '') FROM question_versions"
        )
    )
    await session.execute(text("INSERT INTO content_search(content_search) VALUES ('rebuild')"))


# --- search queries --------------------------------------------------------------------


def _visible_course(alias: str, scope: SearchScope) -> str:
    if scope.every_course:
        return "TRUE"
    if scope.viewer_id is not None:
        return f"({alias}.published OR {alias}.owner_id = :viewer)"
    return f"{alias}.published"


def _reachable_question(scope: SearchScope) -> str:
    if scope.questions == "all":
        return "TRUE"
    if scope.questions == "none" or scope.viewer_id is None:
        return "FALSE"
    return (
        "q.bank_id IN (SELECT id FROM question_banks WHERE owner_id = :viewer"
        " UNION SELECT bank_id FROM bank_shares WHERE user_id = :viewer)"
    )


def _sqlite_search(scope: SearchScope) -> str:
    return f"""
        SELECT d.kind AS kind,
               CASE d.kind WHEN 'question' THEN q.id ELSE d.ref END AS id,
               d.title AS title,
               substr(d.body, 1, {LEAD_CHARS}) AS lead,
               snippet(content_search, 1, char(2), char(3), '…', {SNIPPET_WORDS}) AS snippet
        FROM content_search
        JOIN content_search_docs AS d ON d.doc_id = content_search.rowid
        LEFT JOIN courses AS c ON d.kind = 'course' AND c.id = d.ref
        LEFT JOIN lessons AS l ON d.kind = 'lesson' AND l.id = d.ref
        LEFT JOIN courses AS lc ON lc.id = l.course_id
        LEFT JOIN question_versions AS qv ON d.kind = 'question' AND qv.id = d.ref
        LEFT JOIN questions AS q ON q.id = qv.question_id AND q.current_version = qv.version
        WHERE content_search MATCH :query
          AND ((c.id IS NOT NULL AND {_visible_course("c", scope)})
            OR (lc.id IS NOT NULL AND {_visible_course("lc", scope)})
            OR (q.id IS NOT NULL AND {_reachable_question(scope)}))
        ORDER BY {_BM25}, d.kind, d.ref
        LIMIT :limit OFFSET :offset
    """


def _postgres_search(scope: SearchScope) -> str:
    branches = [
        f"""SELECT 'course' AS kind, c.id AS id, c.title AS title, c.summary AS body,
                   ts_rank({COURSE_VECTOR.format(t="c")}, query) AS rank
            FROM courses AS c CROSS JOIN websearch_to_tsquery('simple', :query) AS query
            WHERE {COURSE_VECTOR.format(t="c")} @@ query AND {_visible_course("c", scope)}""",
        f"""SELECT 'lesson', l.id, l.title, l.body,
                   ts_rank({LESSON_VECTOR.format(t="l")}, query)
            FROM lessons AS l JOIN courses AS lc ON lc.id = l.course_id
            CROSS JOIN websearch_to_tsquery('simple', :query) AS query
            WHERE {LESSON_VECTOR.format(t="l")} @@ query AND {_visible_course("lc", scope)}""",
    ]
    if scope.questions != "none":
        branches.append(
            f"""SELECT 'question', q.id, coalesce(qv.title, ''),
                       coalesce(qv.content ->> 'text', ''),
                       ts_rank({QUESTION_VECTOR.format(t="qv")}, query)
                FROM question_versions AS qv
                JOIN questions AS q ON q.id = qv.question_id AND q.current_version = qv.version
                CROSS JOIN websearch_to_tsquery('simple', :query) AS query
                WHERE {QUESTION_VECTOR.format(t="qv")} @@ query AND {_reachable_question(scope)}"""
        )
    hits = "\n UNION ALL \n".join(branches)
    return f"""
        WITH hits AS ({hits})
        SELECT kind, id, title, left(body, {LEAD_CHARS}) AS lead,
               ts_headline('simple', replace(body, '<', :tag_open),
                           websearch_to_tsquery('simple', :query), :headline) AS snippet
        FROM (SELECT * FROM hits ORDER BY rank DESC, kind, id LIMIT :limit OFFSET :offset) AS page
        ORDER BY rank DESC, kind, id
    """


async def search(
    session: AsyncSession,
    *,
    websearch: str,
    fts5: str,
    scope: SearchScope,
    limit: int,
    offset: int,
) -> list[SearchRow]:
    """One page of hits, best first, for one query in two spellings: ``websearch`` for
    PostgreSQL, ``fts5`` for SQLite (see :mod:`studyhall.content.search`)."""
    values: dict[str, object] = {"limit": limit, "offset": offset}
    if _is_sqlite(session):
        sql = _sqlite_search(scope)
        values["query"] = fts5
    else:
        sql = _postgres_search(scope)
        values.update(query=websearch, headline=_HEADLINE_OPTIONS, tag_open="<" + TAG_BREAK)
    statement = text(sql)
    if ":viewer" in sql:
        statement = statement.bindparams(bindparam("viewer", type_=Uuid()))
        values["viewer"] = scope.viewer_id
    rows = (await session.execute(statement.columns(id=Uuid()), values)).all()
    return [
        SearchRow(kind=row.kind, id=row.id, title=row.title, lead=row.lead, snippet=row.snippet)
        for row in rows
    ]
