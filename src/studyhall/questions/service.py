"""Question-bank rules: who may use a bank, importing, editing with versions, exporting.

Banks are staff tools: a student never reaches one (404, as for a bank that does not
exist). A teacher reaches the banks they own and those shared with them; an admin
reaches every bank. Students see questions only through ``render.student_view``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from studyhall.identity import repository as identity_repository
from studyhall.platform.auth import Actor, Role, require_staff
from studyhall.platform.errors import Conflict, InvalidInput, NotFound
from studyhall.platform.ids import new_id
from studyhall.platform.runtime import Platform
from studyhall.questions import files, repository
from studyhall.questions.content import QuestionContent
from studyhall.questions.convert import content_from_parsed, parsed_from_content
from studyhall.questions.formats.aiken import parse_aiken
from studyhall.questions.formats.gift import parse_gift, write_gift
from studyhall.questions.formats.model import ParsedQuestion, ParseIssue, ParseReport
from studyhall.questions.formats.moodlexml import (
    EmbeddedFile,
    parse_moodle_xml_with_files,
    write_moodle_xml,
)
from studyhall.questions.models import (
    BankShare,
    Question,
    QuestionBank,
    QuestionCategory,
    QuestionTag,
    QuestionVersion,
)
from studyhall.questions.render import StudentQuestion, student_view
from studyhall.questions.schemas import (
    BankDetailOut,
    BankOut,
    CategoryOut,
    ExportFormat,
    ImportFormat,
    ImportIssueOut,
    ImportReportOut,
    QuestionIn,
    QuestionOut,
)

DEFAULT_POINTS = 1.0
_TEXT_PARSERS: dict[str, Callable[[str], ParseReport]] = {"gift": parse_gift, "aiken": parse_aiken}


class InvalidQuestion(InvalidInput):
    code = "invalid_question"
    title = "The question is not complete or not consistent"


class NotShareable(InvalidInput):
    code = "not_a_teacher"
    title = "Banks can only be shared with teachers and admins"


class AlreadyShared(Conflict):
    code = "already_shared"
    title = "The bank is already shared with this user"


class NotExportable(Conflict):
    code = "not_exportable"
    title = "The bank holds text this format cannot carry"


def decode_content(version: QuestionVersion) -> QuestionContent:
    return msgspec.convert(version.content, QuestionContent)


def _encode_content(content: QuestionContent) -> dict[str, Any]:
    encoded: dict[str, Any] = msgspec.to_builtins(content)
    return encoded


async def bank_for(session: AsyncSession, actor: Actor, bank_id: uuid.UUID) -> QuestionBank:
    bank = await repository.bank_by_id(session, bank_id)
    if bank is None or actor.role is Role.STUDENT:
        raise NotFound("No such bank")
    if actor.is_admin or bank.owner_id == actor.user_id:
        return bank
    if await repository.is_shared_with(session, bank.id, actor.user_id):
        return bank
    raise NotFound("No such bank")


async def _question_for(
    session: AsyncSession, actor: Actor, question_id: uuid.UUID
) -> tuple[Question, QuestionVersion]:
    found = await repository.question_with_version(session, question_id)
    if found is None:
        raise NotFound("No such question")
    await bank_for(session, actor, found[0].bank_id)
    return found


async def create_bank(
    session: AsyncSession, platform: Platform, actor: Actor, *, name: str
) -> BankOut:
    require_staff(actor)
    bank = QuestionBank(
        id=new_id(), name=name.strip(), owner_id=actor.user_id, created_at=platform.clock.now()
    )
    if not bank.name:
        raise InvalidInput("The bank name must not be blank")
    session.add(bank)
    await session.flush()
    return BankOut(id=bank.id, name=bank.name, owner_id=bank.owner_id, question_count=0)


async def list_banks(session: AsyncSession, actor: Actor) -> list[BankOut]:
    require_staff(actor)
    rows = await repository.banks_visible_to(session, None if actor.is_admin else actor.user_id)
    return [
        BankOut(id=bank.id, name=bank.name, owner_id=bank.owner_id, question_count=count)
        for bank, count in rows
    ]


async def bank_detail(session: AsyncSession, actor: Actor, bank_id: uuid.UUID) -> BankDetailOut:
    bank = await bank_for(session, actor, bank_id)
    categories = await repository.categories(session, bank.id)
    return BankDetailOut(
        id=bank.id,
        name=bank.name,
        owner_id=bank.owner_id,
        categories=[CategoryOut(c.id, c.path, c.parent_id) for c in categories],
    )


async def share_bank(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    bank_id: uuid.UUID,
    user_id: uuid.UUID,
) -> None:
    """Only the owner (or an admin) shares; the other user must be staff."""
    bank = await bank_for(session, actor, bank_id)
    if bank.owner_id != actor.user_id and not actor.is_admin:
        raise NotFound("No such bank")
    user = await identity_repository.user_by_id(session, user_id)
    if user is None:
        raise NotFound("No such user")
    if user.role == Role.STUDENT.value:
        raise NotShareable(f"{user.email} is a student")
    if user.id == bank.owner_id or await repository.is_shared_with(session, bank.id, user.id):
        raise AlreadyShared()
    session.add(BankShare(bank_id=bank.id, user_id=user.id, created_at=platform.clock.now()))
    await session.flush()


def normalize_category(path: str | None) -> str | None:
    """Moodle paths start with a context (``$course$``) and ``top``; the bank is the context."""
    if not path:
        return None
    parts = [part.strip() for part in path.split("/") if part.strip()]
    if parts and parts[0].startswith("$") and parts[0].endswith("$"):
        parts = parts[1:]
    if parts and parts[0].lower() == "top":
        parts = parts[1:]
    return "/".join(parts) or None


class _CategoryTree:
    """Finds or creates a bank's category nodes by path, parents first."""

    def __init__(self, bank_id: uuid.UUID, existing: list[QuestionCategory]) -> None:
        self.bank_id = bank_id
        self.ids: dict[str, uuid.UUID] = {category.path: category.id for category in existing}
        self.new_rows: list[dict[str, Any]] = []

    def id_for(self, path: str | None) -> uuid.UUID | None:
        if path is None:
            return None
        if path in self.ids:
            return self.ids[path]
        parent_path, _, name = path.rpartition("/")
        parent_id = self.id_for(parent_path or None)
        category_id = new_id()
        self.ids[path] = category_id
        self.new_rows.append(
            {
                "id": category_id,
                "bank_id": self.bank_id,
                "parent_id": parent_id,
                "name": name[:255],
                "path": path,
            }
        )
        return category_id


def _parse(text: str, fmt: ImportFormat) -> tuple[ParseReport, dict[int, list[EmbeddedFile]]]:
    """Questions and, for Moodle XML, their embedded files (only those we keep)."""
    if fmt == "moodlexml":
        return parse_moodle_xml_with_files(text, check_file=files.refusal)
    return _TEXT_PARSERS[fmt](text), {}


def _report(errors: list[ParseIssue], imported: int) -> ImportReportOut:
    return ImportReportOut(
        imported=imported,
        errors=[ImportIssueOut(line=issue.line, message=issue.message) for issue in errors],
    )


async def import_questions(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    bank_id: uuid.UUID,
    text: str,
    fmt: ImportFormat,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReportOut:
    """Import a file in one transaction: every question that parsed goes in with its
    embedded files; each one that did not is reported with its line, and nothing of it is
    written. A Moodle XML question with a file we refuse (``files.refusal``), or whose
    texts show a file it does not carry, counts as broken: it would reach students so."""
    bank = await bank_for(session, actor, bank_id)
    parsed, embedded = _parse(text, fmt)
    errors = list(parsed.errors)
    now = platform.clock.now()
    tree = _CategoryTree(bank.id, list(await repository.categories(session, bank.id)))
    questions: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    attachments = files.FileBatch(bank.id, now)
    for index, item in enumerate(parsed.questions):
        content = content_from_parsed(item)
        carried = embedded.get(index, [])
        missing = files.missing_file(content, carried) if fmt == "moodlexml" else None
        if missing:
            errors.append(ParseIssue(item.line, missing))
            continue
        question_id = new_id()
        attachments.add(question_id, carried)
        questions.append(
            {
                "id": question_id,
                "bank_id": bank.id,
                "category_id": tree.id_for(normalize_category(item.category)),
                "current_version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        versions.append(
            {
                "id": new_id(),
                "question_id": question_id,
                "version": 1,
                "kind": content.kind,
                "title": item.title,
                "content": _encode_content(content),
                "difficulty": None,
                "points": 0.0 if content.kind == "description" else DEFAULT_POINTS,
                "seen": False,
                "created_at": now,
                "created_by": actor.user_id,
            }
        )
        tags += [{"question_id": question_id, "tag": tag[:100]} for tag in dict.fromkeys(item.tags)]
    await repository.insert_rows(session, QuestionCategory, tree.new_rows)
    for start in range(0, len(questions), repository.INSERT_BATCH):
        end = start + repository.INSERT_BATCH
        await repository.insert_rows(session, Question, questions[start:end])
        await repository.insert_rows(session, QuestionVersion, versions[start:end])
        if on_progress is not None:
            on_progress(min(end, len(questions)), len(questions))
    await repository.insert_rows(session, QuestionTag, tags)
    await attachments.store(session, platform)
    return _report(sorted(errors, key=lambda issue: issue.line), len(questions))


def check_content(content: QuestionContent) -> None:
    """The rules an editor must satisfy before a question can be saved."""
    problem = _content_problem(content)
    if problem:
        raise InvalidQuestion(problem)


def _content_problem(content: QuestionContent) -> str | None:
    if not content.text.strip():
        return "The question text must not be empty"
    fractions = [choice.fraction for choice in content.choices]
    if any(not -1 <= fraction <= 1 for fraction in fractions):
        return "Choice fractions are between -1 and 1"
    kind = content.kind
    if kind in ("single", "multiple") and len(content.choices) < 2:
        return "A choice question needs at least two choices"
    if kind == "single" and max(fractions) != 1:
        return "A single-choice question needs a choice worth 100%"
    if kind == "multiple" and abs(sum(f for f in fractions if f > 0) - 1) > 0.01:
        return "The positive choices of a multiple-response question must add up to 100%"
    if kind == "truefalse" and content.correct is None:
        return "Say whether the statement is true or false"
    if kind == "numerical" and not any(a.fraction == 1 for a in content.numeric_answers):
        return "A numerical question needs an answer worth 100%"
    if kind == "shortanswer" and not any(
        a.fraction == 1 and a.text.strip() for a in content.short_answers
    ):
        return "A short-answer question needs an accepted answer worth 100%"
    if kind == "matching" and sum(1 for pair in content.pairs if pair.prompt) < 2:
        return "A matching question needs at least two prompts"
    if kind == "ordering" and (
        len(content.items) < 2 or len(set(content.items)) != len(content.items)
    ):
        return "An ordering question needs at least two different items"
    return None


def _out(
    question: Question, version: QuestionVersion, category: str | None, tags: list[str]
) -> QuestionOut:
    return QuestionOut(
        id=question.id,
        bank_id=question.bank_id,
        version=version.version,
        kind=version.kind,
        title=version.title,
        category=category,
        tags=tags,
        difficulty=version.difficulty,
        points=version.points,
        content=decode_content(version),
    )


async def category_paths(session: AsyncSession, bank_id: uuid.UUID) -> dict[uuid.UUID, str]:
    return {c.id: c.path for c in await repository.categories(session, bank_id)}


async def list_questions(
    session: AsyncSession,
    actor: Actor,
    bank_id: uuid.UUID,
    *,
    category: str | None = None,
    tag: str | None = None,
    kind: str | None = None,
    difficulty: str | None = None,
    limit: int | None = 100,
    offset: int = 0,
) -> list[QuestionOut]:
    """A bank's questions (current versions); ``category`` includes its subcategories."""
    bank = await bank_for(session, actor, bank_id)
    paths = await category_paths(session, bank.id)
    category_ids = (
        None if category is None else category_ids_under(paths, category, subcategories=True)
    )
    rows = await repository.list_questions(
        session,
        bank.id,
        category_ids=category_ids,
        tags=[tag] if tag else [],
        kind=kind,
        difficulty=difficulty,
        limit=limit,
        offset=offset,
    )
    tags = await repository.tags_of(session, [question.id for question, _ in rows])
    return [
        _out(
            question,
            version,
            paths.get(question.category_id) if question.category_id else None,
            tags.get(question.id, []),
        )
        for question, version in rows
    ]


def category_ids_under(
    paths: dict[uuid.UUID, str], category: str, *, subcategories: bool
) -> list[uuid.UUID]:
    wanted = normalize_category(category) or ""
    return [
        category_id
        for category_id, path in paths.items()
        if path == wanted or (subcategories and path.startswith(wanted + "/"))
    ]


async def get_question(session: AsyncSession, actor: Actor, question_id: uuid.UUID) -> QuestionOut:
    question, version = await _question_for(session, actor, question_id)
    paths = await category_paths(session, question.bank_id)
    tags = await repository.tags_of(session, [question.id])
    category = paths.get(question.category_id) if question.category_id else None
    return _out(question, version, category, tags.get(question.id, []))


async def create_question(
    session: AsyncSession, platform: Platform, actor: Actor, bank_id: uuid.UUID, data: QuestionIn
) -> QuestionOut:
    bank = await bank_for(session, actor, bank_id)
    check_content(data.content)
    now = platform.clock.now()
    tree = _CategoryTree(bank.id, list(await repository.categories(session, bank.id)))
    category_id = tree.id_for(normalize_category(data.category))
    await repository.insert_rows(session, QuestionCategory, tree.new_rows)
    question = Question(
        id=new_id(),
        bank_id=bank.id,
        category_id=category_id,
        current_version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(question)
    await session.flush()
    session.add(_new_version(question, 1, data, actor, now))
    await repository.replace_tags(session, question.id, list(dict.fromkeys(data.tags)))
    await session.flush()
    return await get_question(session, actor, question.id)


def _new_version(
    question: Question, number: int, data: QuestionIn, actor: Actor, now: Any
) -> QuestionVersion:
    return QuestionVersion(
        id=new_id(),
        question_id=question.id,
        version=number,
        kind=data.content.kind,
        title=data.title,
        content=_encode_content(data.content),
        difficulty=data.difficulty,
        points=data.points,
        seen=False,
        created_at=now,
        created_by=actor.user_id,
    )


async def update_question(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    question_id: uuid.UUID,
    data: QuestionIn,
) -> QuestionOut:
    """Edit in place while no student has seen the version; otherwise add a new version,
    so every session keeps scoring against the version it showed."""
    question, version = await _question_for(session, actor, question_id)
    check_content(data.content)
    # Lock before reading ``seen``: a start that marks it seen waits for this edit (and
    # then reads its content), or this edit waits for the start and adds a new version.
    seen = await repository.lock_version(session, version.id)
    now = platform.clock.now()
    tree = _CategoryTree(
        question.bank_id, list(await repository.categories(session, question.bank_id))
    )
    question.category_id = tree.id_for(normalize_category(data.category))
    await repository.insert_rows(session, QuestionCategory, tree.new_rows)
    question.updated_at = now
    if seen:
        question.current_version = version.version + 1
        session.add(_new_version(question, question.current_version, data, actor, now))
    else:
        version.kind = data.content.kind
        version.title = data.title
        version.content = _encode_content(data.content)
        version.difficulty = data.difficulty
        version.points = data.points
    await repository.replace_tags(session, question.id, list(dict.fromkeys(data.tags)))
    await session.flush()
    return await get_question(session, actor, question.id)


# Versions this process knows are seen in committed data. ``seen`` never goes back to
# false, so the set is never wrong; it is only cleared (never trimmed) when it grows large.
SEEN_CACHE_SIZE = 200_000
_known_seen: set[uuid.UUID] = set()
_PENDING_SEEN = "questions.pending_seen"


async def mark_seen(session: AsyncSession, version_ids: list[uuid.UUID]) -> None:
    """Called when a session shows these versions to a student: they are frozen from now on.

    Versions already known seen cost no statement at all (after the first starts of an
    exam, none does); the rest are updated in id order, which cannot deadlock."""
    unknown = sorted(set(version_ids) - _known_seen)
    if not unknown:
        return
    marked = await repository.mark_versions_seen(session, unknown)
    # The others were seen already in committed data (or by this transaction, pending).
    _know_seen(set(unknown) - marked - seen_uncommitted(session))
    _remember_after_commit(session, sorted(marked))


def _know_seen(version_ids: set[uuid.UUID]) -> None:
    if len(_known_seen) > SEEN_CACHE_SIZE:
        _known_seen.clear()
    _known_seen.update(version_ids)


def seen_uncommitted(session: AsyncSession) -> set[uuid.UUID]:
    """Versions this session's still-open transaction marked seen: a rollback would make
    them unseen (editable in place) again."""
    pending: set[uuid.UUID] = session.info.get(_PENDING_SEEN, set())
    return pending


def _remember_after_commit(session: AsyncSession, version_ids: list[uuid.UUID]) -> None:
    """Add to ``_known_seen`` only once the transaction commits: after a rollback the
    rows are unseen still. Any rollback (even of a savepoint) forgets the pending ids:
    that costs one more UPDATE later, never a wrong skip."""
    pending: set[uuid.UUID] | None = session.info.get(_PENDING_SEEN)
    if pending is None:
        pending = session.info[_PENDING_SEEN] = set()
        sync_session = session.sync_session

        def committed(_session: Session) -> None:
            if sync_session.in_nested_transaction():
                return  # a savepoint: the outer transaction may still roll back
            _know_seen(pending)
            pending.clear()

        event.listen(sync_session, "after_commit", committed)
        event.listen(sync_session, "after_rollback", lambda _session: pending.clear())
    pending.update(version_ids)


async def preview_question(
    session: AsyncSession, platform: Platform, actor: Actor, question_id: uuid.UUID
) -> StudentQuestion:
    """The question exactly as a student would receive it (for the teacher's preview),
    its images linked for whoever may see the bank."""
    question, version = await _question_for(session, actor, question_id)
    urls = await files.file_urls(session, platform, [question.id])
    return student_view(
        question.id,
        version.version,
        version.points,
        decode_content(version),
        file_urls=urls.get(question.id, {}),
    )


async def export_bank(
    session: AsyncSession, platform: Platform, actor: Actor, bank_id: uuid.UUID, fmt: ExportFormat
) -> str:
    """The bank as a GIFT or Moodle XML file. Moodle XML carries the questions' files
    (base64, as Moodle writes them); what the format cannot hold (ordering questions,
    files in GIFT) is listed in a comment at the top rather than silently left out."""
    questions = await list_questions(session, actor, bank_id, limit=None)
    attached = await files.bank_files(session, bank_id)
    exportable: list[ParsedQuestion] = []
    embedded: dict[int, list[EmbeddedFile]] = {}
    notes: list[str] = []
    for question in questions:
        label = question.title or question.id
        parsed = parsed_from_content(
            question.content,
            title=question.title,
            tags=question.tags,
            category=question.category,
        )
        if parsed is None:
            notes.append(f"not exported ({question.kind} has no {fmt} form): {label}")
            continue
        rows = attached.get(question.id, [])
        if rows and fmt == "gift":
            names = ", ".join(row.filename for row in rows)
            notes.append(f"files not exported (GIFT cannot carry files): {label}: {names}")
        elif rows:
            embedded[len(exportable)], missing = await files.read_files(platform, rows)
            if missing:
                notes.append(f"files missing from storage: {label}: {', '.join(missing)}")
        exportable.append(parsed)
    try:
        body = write_gift(exportable) if fmt == "gift" else write_moodle_xml(exportable, embedded)
    except ValueError as exc:  # e.g. a control character XML 1.0 cannot hold
        raise NotExportable(f"Cannot export as {fmt}: {exc}") from exc
    if not notes:
        return body
    if fmt == "gift":
        return "".join(f"// {note}\n" for note in notes) + "\n" + body
    comments = "".join(f"<!-- {note.replace('--', '- -')} -->\n" for note in notes)
    head, _, rest = body.partition("\n")
    return f"{head}\n{comments}{rest}"
