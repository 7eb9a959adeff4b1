"""Wire types of the question-bank API (camelCase; ``content`` keeps the stored field names)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

from studyhall.questions.content import Difficulty, QuestionContent

BankName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
ImportFormat = Literal["gift", "aiken", "moodlexml"]
ExportFormat = Literal["gift", "moodlexml"]


class BankIn(msgspec.Struct, forbid_unknown_fields=True):
    name: BankName


class BankOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID
    question_count: int


class CategoryOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    path: str
    parent_id: uuid.UUID | None


class BankDetailOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID
    categories: list[CategoryOut]


class ShareIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    user_id: uuid.UUID


class ImportIssueOut(msgspec.Struct):
    line: int
    message: str


class ImportReportOut(msgspec.Struct):
    imported: int
    errors: list[ImportIssueOut]


class QuestionIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    content: QuestionContent
    title: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)] | None = None
    tags: Annotated[list[Tag], msgspec.Meta(max_length=50)] = []
    difficulty: Difficulty | None = None
    points: Annotated[float, msgspec.Meta(ge=0, le=1000)] = 1.0


class QuestionOut(msgspec.Struct, rename="camel"):
    """A teacher's view: everything, answer key included."""

    id: uuid.UUID
    bank_id: uuid.UUID
    version: int
    kind: str
    title: str | None
    category: str | None
    tags: list[str]
    difficulty: str | None
    points: float
    content: QuestionContent
