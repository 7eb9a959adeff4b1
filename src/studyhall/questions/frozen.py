"""Question versions as exam sessions use them, cached in the process.

A version never changes once written (an edit makes a new one), so a process-local
cache of decoded versions is never stale and spares the answer-save and submit paths
a database read and a JSON decode per question.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.questions import repository
from studyhall.questions.content import QuestionContent
from studyhall.questions.service import decode_content

CACHE_SIZE = 20_000


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


async def frozen_versions(
    session: AsyncSession, version_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, FrozenVersion]:
    """The versions with these ids (missing ones are left out)."""
    found = {version_id: _cache[version_id] for version_id in version_ids if version_id in _cache}
    missing = [version_id for version_id in version_ids if version_id not in found]
    for row, bank_id in await repository.versions_with_banks(session, missing):
        version = FrozenVersion(
            id=row.id,
            question_id=row.question_id,
            bank_id=bank_id,
            version=row.version,
            points=row.points,
            content=decode_content(row),
        )
        _remember(version)
        found[version.id] = version
    return found
