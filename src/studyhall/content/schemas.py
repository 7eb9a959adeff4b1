"""Wire types of the catalog API (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

# No control characters: PostgreSQL cannot store a NUL, and search marks matches with two
# others. Titles are one line; longer texts keep their tabs and line breaks.
_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_ONE_LINE)]
Summary = Annotated[str, msgspec.Meta(max_length=20_000, pattern=_TEXT)]
CoverUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
LessonBody = Annotated[str, msgspec.Meta(max_length=200_000, pattern=_TEXT)]
SearchKind = Literal["course", "lesson", "question"]


class CourseIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A course's editable fields; PUT replaces them all."""

    title: Title
    summary: Summary = ""
    cover_url: CoverUrl | None = None
    published: bool = False


class CourseOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    summary: str
    cover_url: str | None
    published: bool
    product_id: uuid.UUID | None
    lesson_count: int
    created_at: datetime
    updated_at: datetime


class LessonSummaryOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    position: int
    title: str
    has_video: bool


class CourseDetailOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    summary: str
    cover_url: str | None
    published: bool
    product_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    lessons: list[LessonSummaryOut]


class LessonIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A lesson's editable fields; PUT replaces them all (order is set separately)."""

    title: Title
    body: LessonBody = ""
    video_id: uuid.UUID | None = None
    bank_id: uuid.UUID | None = None
    exam_id: uuid.UUID | None = None


class LessonOut(msgspec.Struct, rename="camel"):
    """``html`` is the body rendered and sanitised; ``body`` (the Markdown) only for editors."""

    id: uuid.UUID
    course_id: uuid.UUID
    position: int
    title: str
    html: str
    body: str | None
    video_id: uuid.UUID | None
    bank_id: uuid.UUID | None
    exam_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class LessonOrderIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    lesson_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=10_000)]


class SearchHitOut(msgspec.Struct):
    """One search result; ``snippet`` is HTML: escaped text with matches in ``<mark>``."""

    kind: SearchKind
    id: uuid.UUID
    title: str
    snippet: str


class VideoOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    size: int
    content_type: str


class VideoUrlOut(msgspec.Struct, rename="camel"):
    url: str
    expires_at: datetime
