"""Question versions as exam sessions use them, cached in the process.

A version never changes once a student has seen it (an edit then makes a new one), so
a process-local cache of decoded seen versions is never stale and spares the answer-save
and submit paths a database read and a JSON decode per question. Unseen versions are
edited in place: they are never cached. A version this transaction has just marked seen
is cached for its own reads (the start path and its snapshot read it again), and dropped
again if the transaction rolls back (it is then unseen, so editable in place).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from studyhall.questions import repository
from studyhall.questions.content import QuestionContent
from studyhall.questions.render import StudentQuestion, student_view
from studyhall.questions.service import decode_content, seen_uncommitted

CACHE_SIZE = 20_000
VIEW_CACHE_SIZE = 20_000
_UNCOMMITTED = "questions.frozen.uncommitted"


@dataclass(frozen=True, slots=True)
class FrozenVersion:
    id: uuid.UUID
    question_id: uuid.UUID
    bank_id: uuid.UUID
    version: int
    points: float
    content: QuestionContent


_cache: OrderedDict[uuid.UUID, FrozenVersion] = OrderedDict()


def _remember(version: FrozenVersion) -> None:
    _cache[version.id] = version
    _cache.move_to_end(version.id)
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)


def _forget_on_rollback(session: AsyncSession, version_id: uuid.UUID) -> None:
    """Drop the version from the cache if this session rolls back (extra drops after a
    commit only cost a read)."""
    ids: set[uuid.UUID] | None = session.info.get(_UNCOMMITTED)
    if ids is None:
        ids = session.info[_UNCOMMITTED] = set()

        def rolled_back(_session: Session) -> None:
            for forgotten in ids:
                _cache.pop(forgotten, None)

        event.listen(session.sync_session, "after_rollback", rolled_back)
    ids.add(version_id)


async def frozen_versions(
    session: AsyncSession, version_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, FrozenVersion]:
    """The versions with these ids (missing ones are left out)."""
    found = {version_id: _cache[version_id] for version_id in version_ids if version_id in _cache}
    missing = [version_id for version_id in version_ids if version_id not in found]
    uncommitted = seen_uncommitted(session)
    for row, bank_id in await repository.versions_with_banks(session, missing):
        version = FrozenVersion(
            id=row.id,
            question_id=row.question_id,
            bank_id=bank_id,
            version=row.version,
            points=row.points,
            content=decode_content(row),
        )
        found[version.id] = version
        if not row.seen:
            continue  # editable in place: never cached
        _remember(version)
        if row.id in uncommitted:
            _forget_on_rollback(session, version.id)
    return found


_views: OrderedDict[
    tuple[uuid.UUID, float, frozenset[tuple[str, str]]], tuple[FrozenVersion, StudentQuestion]
] = OrderedDict()


def frozen_view(frozen: FrozenVersion, points: float, file_urls: dict[str, str]) -> StudentQuestion:
    """The student's view of a version, rendered once per version, points and file links
    (links change hourly): every session showing the version shows the same HTML. A view
    is reused only for the very object the cache of seen versions holds, so a version
    dropped from that cache (a rollback) and edited in place is rendered afresh."""
    key = (frozen.id, points, frozenset(file_urls.items()))
    cached = _views.get(key)
    if cached is not None and cached[0] is frozen:
        return cached[1]
    view = student_view(
        frozen.question_id, frozen.version, points, frozen.content, file_urls=file_urls
    )
    if _cache.get(frozen.id) is frozen:
        _views[key] = (frozen, view)
        while len(_views) > VIEW_CACHE_SIZE:
            _views.popitem(last=False)
    return view
