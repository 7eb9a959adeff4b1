"""Teacher pages for question banks: bank list, bank with import, student preview, editor.

Thin handlers like the account pages: they authenticate, read the form and call one
``questions.service`` function. Staff only: a signed-out visitor is sent to sign in,
a student gets the same 404 page as for a bank that does not exist.
"""

from __future__ import annotations

import html
import math
import re
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from studyhall.platform.auth import Actor
from studyhall.platform.errors import DomainError, InvalidInput, NotFound
from studyhall.platform.http import DbSession, MaybeActor, Runtime
from studyhall.questions import service
from studyhall.questions.content import Difficulty, QuestionContent, StoredKind
from studyhall.questions.formats.model import (
    TEXT_FORMATS,
    Choice,
    MatchPair,
    NumericAnswer,
    ShortAnswer,
    TextFormat,
)
from studyhall.questions.routes import IMPORT_MAX_BYTES
from studyhall.questions.schemas import CategoryOut, ImportFormat, QuestionIn, QuestionOut
from studyhall.web.pages import not_found, refuse, render, request_target

PAGE_SIZE = 50
MAX_ROWS = 200
KIND_LABELS = {
    "single": "Single choice",
    "multiple": "Multiple response",
    "truefalse": "True/false",
    "numerical": "Numerical",
    "shortanswer": "Short answer",
    "matching": "Matching",
    "ordering": "Ordering",
    "essay": "Essay",
    "description": "Description",
}
IMPORT_FORMATS: dict[str, str] = {"gift": "GIFT", "aiken": "Aiken", "moodlexml": "Moodle XML"}
TEXT_FORMAT_LABELS = {
    "moodle": "Moodle auto-format",
    "html": "HTML",
    "markdown": "Markdown",
    "plain": "Plain text",
}
DIFFICULTIES: tuple[Difficulty, ...] = ("easy", "medium", "hard")
KINDS: tuple[StoredKind, ...] = (
    "single",
    "multiple",
    "truefalse",
    "numerical",
    "shortanswer",
    "matching",
    "ordering",
    "essay",
    "description",
)


# --- bank list ----------------------------------------------------------------------------


@dataclass
class BankForm:
    name: str = ""


async def _banks_page(
    db: DbSession, actor: Actor, status_code: int = 200, **context: Any
) -> Template:
    banks = await service.list_banks(db, actor)
    return render("banks/list.html", actor, status_code=status_code, banks=banks, **context)


@get("/banks", name="banks")
async def banks_page(
    request: Request[Any, Any, Any], db: DbSession, optional_actor: MaybeActor
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    return await _banks_page(db, actor, name="")


@post("/banks")
async def banks_create(
    data: URLEncodedBody[BankForm], db: DbSession, platform: Runtime, optional_actor: MaybeActor
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, "/banks")
    name = data.name.strip()
    try:
        if len(name) > 200:
            raise InvalidInput("A bank name has at most 200 characters")
        bank = await service.create_bank(db, platform, actor, name=name)
    except DomainError as error:
        await db.rollback()
        return await _banks_page(db, actor, error.status, error=error.detail, name=data.name)
    return Redirect(f"/banks/{bank.id}", status_code=303)


# --- one bank -----------------------------------------------------------------------------


@dataclass
class CategoryNode:
    path: str
    name: str
    children: list[CategoryNode] = field(default_factory=list)


@dataclass
class QuestionRow:
    id: uuid.UUID
    label: str
    stem: str
    kind: str
    kind_label: str
    category: str | None
    tags: list[str]
    version: int


def category_tree(categories: list[CategoryOut]) -> list[CategoryNode]:
    nodes = {c.id: CategoryNode(c.path, c.path.rpartition("/")[2]) for c in categories}
    roots: list[CategoryNode] = []
    for category in sorted(categories, key=lambda c: c.path.lower()):
        parent = nodes.get(category.parent_id) if category.parent_id else None
        (parent.children if parent else roots).append(nodes[category.id])
    return roots


_TAG = re.compile(r"<[^>]*>")


def first_words(text: str, limit: int = 90) -> str:
    """A stem as one short line of plain text (tags dropped, entities decoded)."""
    plain = " ".join(html.unescape(_TAG.sub(" ", text)).split())
    if len(plain) <= limit:
        return plain
    cut = plain[:limit].rsplit(" ", 1)[0] or plain[:limit]
    return cut + "…"


def _row(question: QuestionOut) -> QuestionRow:
    stem = first_words(question.content.text)
    return QuestionRow(
        id=question.id,
        label=question.title or stem or "(no text)",
        stem=stem,
        kind=question.kind,
        kind_label=KIND_LABELS.get(question.kind, question.kind),
        category=question.category,
        tags=question.tags,
        version=question.version,
    )


@dataclass
class BankFilters:
    category: str = ""
    kind: str = ""
    tag: str = ""
    page: int = 1

    def query(self, **changes: Any) -> str:
        values = {"category": self.category, "kind": self.kind, "tag": self.tag, "page": self.page}
        values.update(changes)
        kept = {key: value for key, value in values.items() if value and value != 1}
        return urlencode(kept)


async def _bank_page(
    db: DbSession,
    actor: Actor,
    bank_id: uuid.UUID,
    filters: BankFilters,
    status_code: int = 200,
    **context: Any,
) -> Template:
    bank = await service.bank_detail(db, actor, bank_id)
    questions = await service.list_questions(
        db,
        actor,
        bank_id,
        category=filters.category or None,
        kind=filters.kind or None,
        tag=filters.tag or None,
        limit=PAGE_SIZE + 1,
        offset=(filters.page - 1) * PAGE_SIZE,
    )
    return render(
        "banks/bank.html",
        actor,
        status_code=status_code,
        bank=bank,
        tree=category_tree(bank.categories),
        categories=sorted(c.path for c in bank.categories),
        questions=[_row(q) for q in questions[:PAGE_SIZE]],
        has_next=len(questions) > PAGE_SIZE,
        filters=filters,
        filtered=bool(filters.category or filters.kind or filters.tag),
        kinds=KIND_LABELS,
        import_formats=IMPORT_FORMATS,
        **context,
    )


@get("/banks/{bank_id:uuid}", name="bank")
async def bank_page(
    request: Request[Any, Any, Any],
    bank_id: FromPath[uuid.UUID],
    db: DbSession,
    optional_actor: MaybeActor,
    category: FromQuery[str] = "",
    kind: FromQuery[str] = "",
    tag: FromQuery[str] = "",
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    kind = kind if kind in KIND_LABELS else ""
    filters = BankFilters(category=category.strip(), kind=kind, tag=tag.strip(), page=page)
    try:
        return await _bank_page(db, actor, bank_id, filters, import_format="gift")
    except NotFound as error:
        return not_found(actor, error.detail)


@dataclass
class ImportForm:
    file: UploadFile | None = None
    format: str = "gift"


async def _read_upload(upload: UploadFile | None) -> str:
    if upload is None or not upload.filename:
        raise InvalidInput("Choose a file to import")
    raw = await upload.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{upload.filename} is not UTF-8 text: save it as UTF-8 and upload it again"
        ) from exc


@post("/banks/{bank_id:uuid}/import", request_max_body_size=IMPORT_MAX_BYTES)
async def bank_import(
    bank_id: FromPath[uuid.UUID],
    data: Annotated[ImportForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, f"/banks/{bank_id}")
    fmt = data.format if data.format in IMPORT_FORMATS else "gift"
    filename = data.file.filename if data.file is not None else ""
    try:
        await service.bank_detail(db, actor, bank_id)  # a missing bank is a 404, not a form error
        if data.format not in IMPORT_FORMATS:
            raise InvalidInput("Choose one of the listed formats")
        text = await _read_upload(data.file)
    except NotFound as error:
        return not_found(actor, error.detail)
    except DomainError as error:
        return await _bank_page(
            db,
            actor,
            bank_id,
            BankFilters(),
            error.status,
            import_error=error.detail,
            import_format=fmt,
        )
    import_fmt: ImportFormat = (
        "gift" if fmt == "gift" else "aiken" if fmt == "aiken" else "moodlexml"
    )
    report = await service.import_questions(db, platform, actor, bank_id, text, import_fmt)
    return await _bank_page(
        db,
        actor,
        bank_id,
        BankFilters(),
        report=report,
        report_file=filename,
        import_format=fmt,
    )


# --- preview ------------------------------------------------------------------------------


@get("/questions/{question_id:uuid}/preview", name="question_preview")
async def question_preview(
    request: Request[Any, Any, Any],
    question_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    try:
        student = await service.preview_question(db, platform, actor, question_id)
        question = await service.get_question(db, actor, question_id)
    except NotFound as error:
        return not_found(actor, error.detail)
    # Only what frames the preview leaves the teacher's view; the question itself is the
    # student's view, which holds no answer key.
    return render(
        "banks/preview.html",
        actor,
        q=student,
        bank_id=question.bank_id,
        title=question.title or first_words(question.content.text, 60),
        kind_label=KIND_LABELS.get(student.kind, student.kind),
    )


# --- editor -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowSpec:
    """One repeated group of inputs (a choice, an answer, a pair, an item).

    Every field of a row is a text or hidden input named ``{prefix}_{field}``, so the
    browser always sends each of them and the n-th values belong together.
    """

    prefix: str
    fields: tuple[str, ...]
    main: tuple[str, ...]  # a row with all of these blank is an unused row
    min_rows: int
    noun: str


CHOICES = RowSpec(
    "choice",
    ("text", "percent", "feedback", "text_format", "feedback_format"),
    ("text", "feedback"),
    4,
    "choice",
)
NUMERIC = RowSpec(
    "numeric",
    ("value", "tolerance", "min", "max", "percent", "feedback", "feedback_format"),
    ("value", "tolerance", "min", "max", "feedback"),
    2,
    "answer",
)
SHORT = RowSpec(
    "short", ("text", "percent", "feedback", "feedback_format"), ("text", "feedback"), 3, "answer"
)
PAIRS = RowSpec("pair", ("prompt", "answer", "prompt_format"), ("prompt", "answer"), 4, "pair")
ITEMS = RowSpec("item", ("text",), ("text",), 4, "item")
ROW_SPECS = {
    "single": CHOICES,
    "multiple": CHOICES,
    "numerical": NUMERIC,
    "shortanswer": SHORT,
    "matching": PAIRS,
    "ordering": ITEMS,
}
Row = dict[str, str]


class FormProblem(Exception):
    """A form value the editor cannot use; ``field`` names the input to point at."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class EditorForm:
    """The editor's inputs as text, exactly as shown or typed."""

    kind: str
    title: str = ""
    category: str = ""
    tags: str = ""
    difficulty: str = ""
    points: str = "1"
    text: str = ""
    text_format: str = "moodle"
    general_feedback: str = ""
    general_feedback_format: str = ""
    rows: list[Row] = field(default_factory=list)
    correct: str = ""
    feedback_true: str = ""
    feedback_false: str = ""
    case_sensitive: bool = False
    score_floor: str = "0"


def _num(value: float) -> str:
    return f"{value:.10g}"


def _blank(row: Row, spec: RowSpec) -> bool:
    return not any(row.get(name, "").strip() for name in spec.main)


def shown_rows(form: EditorForm) -> list[Row]:
    """The filled rows plus empty ones to type into (enough to work without JavaScript)."""
    spec = ROW_SPECS.get(form.kind)
    if spec is None:
        return []
    filled = [row for row in form.rows if not _blank(row, spec)]
    blanks = max(1, spec.min_rows - len(filled))
    return filled + [dict.fromkeys(spec.fields, "") for _ in range(blanks)]


def form_from_question(question: QuestionOut) -> EditorForm:
    content = question.content
    rows: list[Row] = []
    if question.kind in ("single", "multiple"):
        rows = [
            {
                "text": c.text,
                "percent": _num(c.fraction * 100),
                "feedback": c.feedback or "",
                "text_format": c.text_format or "",
                "feedback_format": c.feedback_format or "",
            }
            for c in content.choices
        ]
    elif question.kind == "numerical":
        for a in content.numeric_answers:
            any_answer = a.value is None and a.min is None and a.max is None
            rows.append(
                {
                    "value": "*" if any_answer else "" if a.value is None else _num(a.value),
                    "tolerance": _num(a.tolerance) if a.value is not None and a.tolerance else "",
                    "min": "" if a.min is None else _num(a.min),
                    "max": "" if a.max is None else _num(a.max),
                    "percent": _num(a.fraction * 100),
                    "feedback": a.feedback or "",
                    "feedback_format": a.feedback_format or "",
                }
            )
    elif question.kind == "shortanswer":
        rows = [
            {
                "text": a.text,
                "percent": _num(a.fraction * 100),
                "feedback": a.feedback or "",
                "feedback_format": a.feedback_format or "",
            }
            for a in content.short_answers
        ]
    elif question.kind == "matching":
        rows = [
            {"prompt": p.prompt, "answer": p.answer, "prompt_format": p.prompt_format or ""}
            for p in content.pairs
        ]
    elif question.kind == "ordering":
        rows = [{"text": item} for item in content.items]
    return EditorForm(
        kind=question.kind,
        title=question.title or "",
        category=question.category or "",
        tags=", ".join(question.tags),
        difficulty=question.difficulty or "",
        points=_num(question.points),
        text=content.text,
        text_format=content.text_format,
        general_feedback=content.general_feedback or "",
        general_feedback_format=content.general_feedback_format or "",
        rows=rows,
        correct="" if content.correct is None else "true" if content.correct else "false",
        feedback_true=content.feedback_true or "",
        feedback_false=content.feedback_false or "",
        case_sensitive=content.case_sensitive,
        score_floor=_num(content.score_floor * 100),
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def form_from_post(kind: str, posted: Any) -> EditorForm:
    """Read the posted form (a multi-dict) into the editor's text fields."""

    def one(name: str, default: str = "") -> str:
        return _text(posted.get(name, default))

    rows: list[Row] = []
    spec = ROW_SPECS.get(kind)
    if spec is not None:
        columns = {
            name: [_text(v) for v in posted.getall(f"{spec.prefix}_{name}", [])]
            for name in spec.fields
        }
        count = min(MAX_ROWS, max((len(values) for values in columns.values()), default=0))
        rows = [
            {name: values[i] if i < len(values) else "" for name, values in columns.items()}
            for i in range(count)
        ]
    return EditorForm(
        kind=kind,
        title=one("title"),
        category=one("category"),
        tags=one("tags"),
        difficulty=one("difficulty"),
        points=one("points"),
        text=one("text"),
        text_format=one("text_format", "moodle"),
        general_feedback=one("general_feedback"),
        general_feedback_format=one("general_feedback_format"),
        rows=rows,
        correct=one("correct"),
        feedback_true=one("feedback_true"),
        feedback_false=one("feedback_false"),
        case_sensitive=one("case_sensitive") in ("on", "true", "1"),
        score_floor=one("score_floor"),
    )


def _number(text: str, field_id: str, what: str, default: float | None = None) -> float:
    cleaned = text.strip().replace(",", ".").removesuffix("%").strip()
    if not cleaned:
        if default is None:
            raise FormProblem(field_id, f"{what} is missing")
        return default
    try:
        value = float(cleaned)
    except ValueError:
        raise FormProblem(field_id, f"{what} must be a number (got “{text.strip()}”)") from None
    if not math.isfinite(value):
        raise FormProblem(field_id, f"{what} must be a finite number")
    return value


def _percent(text: str, what: str, default: float) -> float:
    value = _number(text, "answers", what, default)
    if not -100 <= value <= 100:
        raise FormProblem("answers", f"{what} must be between -100% and 100%")
    return round(value / 100, 7)


def _format(value: str) -> TextFormat | None:
    for known in TEXT_FORMATS:
        if value == known:
            return known
    return None


def _kind(value: str) -> StoredKind:
    for known in KINDS:
        if value == known:
            return known
    raise FormProblem("text", "No such question type")


def _difficulty(value: str) -> Difficulty | None:
    for known in DIFFICULTIES:
        if value == known:
            return known
    if value:
        raise FormProblem("difficulty", "Choose easy, medium or hard")
    return None


def _optional(text: str) -> str | None:
    return text.strip() or None


def _choices(rows: list[Row]) -> list[Choice]:
    choices = []
    for n, row in enumerate(rows, start=1):
        if not row["text"].strip():
            raise FormProblem("answers", f"Choice {n} has feedback or a grade but no text")
        choices.append(
            Choice(
                text=row["text"].strip(),
                fraction=_percent(row["percent"], f"The grade of choice {n}", 0.0),
                feedback=_optional(row["feedback"]),
                text_format=_format(row["text_format"]),
                feedback_format=_format(row["feedback_format"]),
            )
        )
    return choices


def _numeric_answers(rows: list[Row]) -> list[NumericAnswer]:
    answers = []
    for n, row in enumerate(rows, start=1):
        what = f"Answer {n}"
        common: dict[str, Any] = {
            "fraction": _percent(row["percent"], f"The grade of answer {n}", 100.0),
            "feedback": _optional(row["feedback"]),
            "feedback_format": _format(row["feedback_format"]),
        }
        value, low, high = row["value"].strip(), row["min"].strip(), row["max"].strip()
        if value == "*":
            answers.append(NumericAnswer(**common))
        elif value:
            tolerance = _number(row["tolerance"], "answers", f"The tolerance of {what.lower()}", 0)
            if tolerance < 0:
                raise FormProblem(
                    "answers", f"The tolerance of {what.lower()} must not be negative"
                )
            answers.append(
                NumericAnswer(
                    value=_number(value, "answers", f"The value of {what.lower()}"),
                    tolerance=tolerance,
                    **common,
                )
            )
        elif low or high:
            minimum = _number(low, "answers", f"The minimum of {what.lower()}")
            maximum = _number(high, "answers", f"The maximum of {what.lower()}")
            if minimum > maximum:
                raise FormProblem("answers", f"{what}: the minimum is above the maximum")
            answers.append(NumericAnswer(min=minimum, max=maximum, **common))
        else:
            raise FormProblem(
                "answers", f"{what}: give a value, a minimum and maximum, or * for any answer"
            )
    return answers


def _short_answers(rows: list[Row]) -> list[ShortAnswer]:
    answers = []
    for n, row in enumerate(rows, start=1):
        if not row["text"].strip():
            raise FormProblem("answers", f"Answer {n} has feedback or a grade but no text")
        answers.append(
            ShortAnswer(
                text=row["text"].strip(),
                fraction=_percent(row["percent"], f"The grade of answer {n}", 100.0),
                feedback=_optional(row["feedback"]),
                feedback_format=_format(row["feedback_format"]),
            )
        )
    return answers


def _pairs(rows: list[Row]) -> list[MatchPair]:
    pairs = []
    for n, row in enumerate(rows, start=1):
        if not row["answer"].strip():
            raise FormProblem("answers", f"Pair {n} has a prompt but no answer")
        pairs.append(
            MatchPair(
                prompt=row["prompt"].strip(),
                answer=row["answer"].strip(),
                prompt_format=_format(row["prompt_format"]),
            )
        )
    return pairs


def content_from_form(form: EditorForm) -> QuestionContent:
    spec = ROW_SPECS.get(form.kind)
    rows = [row for row in form.rows if spec is not None and not _blank(row, spec)]
    answers: dict[str, Any] = {}
    if form.kind in ("single", "multiple"):
        answers["choices"] = _choices(rows)
    if form.kind == "multiple":
        floor = _number(form.score_floor, "score_floor", "The lowest total score", 0.0)
        if not -100 <= floor <= 0:
            raise FormProblem("score_floor", "The lowest total score is between -100% and 0%")
        answers["score_floor"] = round(floor / 100, 7)
    elif form.kind == "truefalse":
        answers["correct"] = {"true": True, "false": False}.get(form.correct)
        answers["feedback_true"] = _optional(form.feedback_true)
        answers["feedback_false"] = _optional(form.feedback_false)
    elif form.kind == "numerical":
        answers["numeric_answers"] = _numeric_answers(rows)
    elif form.kind == "shortanswer":
        answers["short_answers"] = _short_answers(rows)
        answers["case_sensitive"] = form.case_sensitive
    elif form.kind == "matching":
        answers["pairs"] = _pairs(rows)
    elif form.kind == "ordering":
        answers["items"] = [row["text"].strip() for row in rows]
    return QuestionContent(
        kind=_kind(form.kind),
        text=form.text.strip(),
        text_format=_format(form.text_format) or "moodle",
        general_feedback=_optional(form.general_feedback),
        general_feedback_format=_format(form.general_feedback_format),
        **answers,
    )


def question_from_form(form: EditorForm) -> QuestionIn:
    """The QuestionIn the API would accept, or a FormProblem naming the input at fault."""
    title = form.title.strip()
    if len(title) > 255:
        raise FormProblem("title", "The title has at most 255 characters")
    category = form.category.strip().strip("/")
    if len(category) > 1000:
        raise FormProblem("category", "The category path has at most 1000 characters")
    tags = list(dict.fromkeys(tag.strip() for tag in form.tags.split(",") if tag.strip()))
    if len(tags) > 50:
        raise FormProblem("tags", "A question has at most 50 tags")
    if any(len(tag) > 100 for tag in tags):
        raise FormProblem("tags", "A tag has at most 100 characters")
    difficulty = _difficulty(form.difficulty)
    default_points = 0.0 if form.kind == "description" else 1.0
    points = _number(form.points, "points", "Points", default_points)
    if not 0 <= points <= 1000:
        raise FormProblem("points", "Points are between 0 and 1000")
    question = QuestionIn(
        content=content_from_form(form),
        title=title or None,
        category=category or None,
        tags=tags,
        difficulty=difficulty,
        points=points,
    )
    try:  # the same validation the API's JSON body gets
        return msgspec.convert(msgspec.to_builtins(question), QuestionIn)
    except msgspec.ValidationError as exc:
        raise FormProblem("text", f"The question is not valid: {exc}") from None


def _problem_field(error: DomainError, form: EditorForm) -> str:
    if "text must not be empty" in error.detail:
        return "text"
    return "answers" if form.kind in ROW_SPECS or form.kind == "truefalse" else "text"


def _editor(
    actor: Actor,
    form: EditorForm,
    *,
    bank: Any,
    action: str,
    question: QuestionOut | None = None,
    status_code: int = 200,
    error: str | None = None,
    error_field: str | None = None,
) -> Template:
    spec = ROW_SPECS.get(form.kind)
    return render(
        "banks/editor.html",
        actor,
        status_code=status_code,
        form=form,
        rows=shown_rows(form),
        spec=spec,
        blank_row=dict.fromkeys(spec.fields, "") if spec else {},
        bank=bank,
        categories=sorted(c.path for c in bank.categories),
        action=action,
        question=question,
        kind_label=KIND_LABELS[form.kind],
        text_formats=TEXT_FORMAT_LABELS,
        difficulties=DIFFICULTIES,
        error=error,
        error_field=error_field,
    )


@get("/banks/{bank_id:uuid}/questions/new", name="question_new")
async def question_new(
    request: Request[Any, Any, Any],
    bank_id: FromPath[uuid.UUID],
    db: DbSession,
    optional_actor: MaybeActor,
    kind: FromQuery[str] = "single",
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    if kind not in KIND_LABELS:
        return not_found(actor, "No such question type")
    try:
        bank = await service.bank_detail(db, actor, bank_id)
    except NotFound as error:
        return not_found(actor, error.detail)
    form = EditorForm(kind=kind, points="0" if kind == "description" else "1")
    action = f"/banks/{bank_id}/questions/new?{urlencode({'kind': kind})}"
    return _editor(actor, form, bank=bank, action=action)


@post("/banks/{bank_id:uuid}/questions/new")
async def question_create(
    request: Request[Any, Any, Any],
    bank_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
    kind: FromQuery[str] = "single",
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    if kind not in KIND_LABELS:
        return not_found(actor, "No such question type")
    try:
        bank = await service.bank_detail(db, actor, bank_id)
    except NotFound as error:
        return not_found(actor, error.detail)
    form = form_from_post(kind, await request.form())
    action = f"/banks/{bank_id}/questions/new?{urlencode({'kind': kind})}"
    try:
        created = await service.create_question(
            db, platform, actor, bank_id, question_from_form(form)
        )
    except FormProblem as problem:
        return _editor(
            actor,
            form,
            bank=bank,
            action=action,
            status_code=422,
            error=problem.message,
            error_field=problem.field,
        )
    except DomainError as error:
        await db.rollback()
        return _editor(
            actor,
            form,
            bank=bank,
            action=action,
            status_code=error.status,
            error=error.detail,
            error_field=_problem_field(error, form),
        )
    return Redirect(f"/questions/{created.id}/preview", status_code=303)


@get("/questions/{question_id:uuid}/edit", name="question_edit")
async def question_edit(
    request: Request[Any, Any, Any],
    question_id: FromPath[uuid.UUID],
    db: DbSession,
    optional_actor: MaybeActor,
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    try:
        question = await service.get_question(db, actor, question_id)
        bank = await service.bank_detail(db, actor, question.bank_id)
    except NotFound as error:
        return not_found(actor, error.detail)
    return _editor(
        actor,
        form_from_question(question),
        bank=bank,
        action=f"/questions/{question_id}/edit",
        question=question,
    )


@post("/questions/{question_id:uuid}/edit")
async def question_update(
    request: Request[Any, Any, Any],
    question_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    try:
        question = await service.get_question(db, actor, question_id)
        bank = await service.bank_detail(db, actor, question.bank_id)
    except NotFound as error:
        return not_found(actor, error.detail)
    # The kind is the question's: the editor does not turn one type into another.
    form = form_from_post(question.kind, await request.form())
    action = f"/questions/{question_id}/edit"
    try:
        await service.update_question(db, platform, actor, question_id, question_from_form(form))
    except FormProblem as problem:
        return _editor(
            actor,
            form,
            bank=bank,
            action=action,
            question=question,
            status_code=422,
            error=problem.message,
            error_field=problem.field,
        )
    except DomainError as error:
        await db.rollback()
        return _editor(
            actor,
            form,
            bank=bank,
            action=action,
            question=question,
            status_code=error.status,
            error=error.detail,
            error_field=_problem_field(error, form),
        )
    return Redirect(f"/questions/{question_id}/preview", status_code=303)


ROUTES = [
    banks_page,
    banks_create,
    bank_page,
    bank_import,
    question_preview,
    question_new,
    question_create,
    question_edit,
    question_update,
]
