"""Teacher pages for grading essays: the exams with essays waiting, one exam's queue, the
grading form of one essay, and the rubric of an essay in an exam.

- ``/grading``: the exams you grade, with how many essays wait in each
- ``/exams/{examId}/grading``: the queue, oldest submit first (``?show=all``: graded too)
- ``/exams/{examId}/grading/{sessionId}/{questionId}``: the question, the answer, the
  rubric, a score and feedback; saving goes on to the next essay waiting
- ``/exams/{examId}/grading/rubrics/{questionId}``: the rubric as lines of text

Thin handlers over ``exams.grading``, which decides who may grade (the exam's owner or an
admin): everyone else gets the 404 page, a signed-out visitor the sign-in page. Forms are
plain posts (with the CSRF token) and come back with the service's message and the input
as typed.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from studyhall.exams import grading
from studyhall.exams.schemas import EssayOut, GradeIn, GradingFilter, RubricIn, RubricOut
from studyhall.platform.auth import Actor
from studyhall.platform.errors import DomainError, NotFound
from studyhall.platform.http import DbSession, MaybeActor, Runtime
from studyhall.questions import service as question_service
from studyhall.web.bank_pages import FormProblem, first_words
from studyhall.web.pages import not_found, refuse, render, request_target

SAVED_NOTICE = "Grade saved."


def _grading_path(exam_id: uuid.UUID, session_id: uuid.UUID, question_id: uuid.UUID) -> str:
    return f"/exams/{exam_id}/grading/{session_id}/{question_id}"


def _rubric_path(
    exam_id: uuid.UUID, question_id: uuid.UUID, session_id: uuid.UUID | None, **query: str
) -> str:
    """The rubric page; ``session_id``: the essay to go back to."""
    params = {"session": str(session_id)} if session_id else {}
    params.update(query)
    path = f"/exams/{exam_id}/grading/rubrics/{question_id}"
    return f"{path}?{urlencode(params)}" if params else path


def paragraphs(text: str) -> list[list[str]]:
    """A typed answer as paragraphs of lines, so the page keeps its breaks (escaped)."""
    blocks = text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n")
    return [block.strip("\n").split("\n") for block in blocks if block.strip()]


def points_text(value: float) -> str:
    return f"{value:g} point{'' if value == 1 else 's'}"


# --- the exams and one exam's queue -------------------------------------------------------


@get("/grading", name="grading")
async def grading_overview_page(
    request: Request[Any, Any, Any], db: DbSession, optional_actor: MaybeActor
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    exams = await grading.grading_overview(db, actor)
    return render("grading/overview.html", actor, exams=exams)


@get("/exams/{exam_id:uuid}/grading", name="grading_queue")
async def grading_queue_page(
    request: Request[Any, Any, Any],
    exam_id: FromPath[uuid.UUID],
    db: DbSession,
    optional_actor: MaybeActor,
    show: FromQuery[GradingFilter] = "pending",
    saved: FromQuery[bool] = False,
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    try:
        queue = await grading.grading_queue(db, actor, exam_id, show=show)
    except NotFound as error:
        return not_found(actor, error.detail)
    return render(
        "grading/queue.html",
        actor,
        queue=queue,
        show=show,
        notice=SAVED_NOTICE if saved else None,
        points_text=points_text,
    )


# --- one essay ------------------------------------------------------------------------


@dataclass
class GradeForm:
    score: str = ""
    feedback: str = ""
    levels: dict[int, int] = field(default_factory=dict)  # criterion -> level index


def grade_form_from_post(posted: Any) -> GradeForm:
    levels = {}
    for key in posted:
        name, _, index = str(key).partition("-")
        if name == "criterion" and index.isdigit() and str(posted.get(key, "")).isdigit():
            levels[int(index)] = int(str(posted.get(key)))
    return GradeForm(
        score=str(posted.get("score", "")),
        feedback=str(posted.get("feedback", "")),
        levels=levels,
    )


def grade_from_form(form: GradeForm, rubric: RubricOut | None) -> GradeIn:
    """A typed score (a decimal comma is fine) or a level for every criterion."""
    typed = form.score.strip().replace(",", ".")
    score = None
    if typed:
        try:
            score = float(typed)
        except ValueError:
            raise FormProblem("score", "The score must be a number, like 7 or 7.5") from None
        if not math.isfinite(score):
            raise FormProblem("score", "The score must be a number, like 7 or 7.5")
    levels = None
    if form.levels:
        count = len(rubric.criteria) if rubric else 0
        if sorted(form.levels) != list(range(count)):
            raise FormProblem("rubric", "Choose a level for every criterion of the rubric")
        levels = [form.levels[index] for index in range(count)]
    if score is not None and levels is not None:
        raise FormProblem("score", "Type a score or choose rubric levels, not both")
    if score is None and levels is None:
        what = "type a score or choose a level for every criterion" if rubric else "type a score"
        raise FormProblem("score", f"To grade this essay, {what}")
    return GradeIn(score=score, feedback=form.feedback, rubric_levels=levels)


def _form_of(essay: EssayOut) -> GradeForm:
    """The form filled with the current grade, so a regrade starts from it."""
    grade = essay.grade
    if grade is None:
        return GradeForm()
    if grade.rubric is not None:
        return GradeForm(
            feedback=grade.feedback, levels={c.criterion: c.level for c in grade.rubric}
        )
    return GradeForm(score=f"{grade.score:g}", feedback=grade.feedback)


async def _essay_page(
    db: DbSession,
    platform: Runtime,
    actor: Actor,
    ids: tuple[uuid.UUID, uuid.UUID, uuid.UUID],
    form: GradeForm | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response[Any]:
    exam_id, session_id, question_id = ids
    try:
        essay = await grading.essay_for_grading(
            db, platform, actor, exam_id, session_id, question_id
        )
        history = await grading.grade_history(db, actor, exam_id, session_id, question_id)
    except DomainError as error:
        return not_found(actor, error.detail)
    return render(
        "grading/essay.html",
        actor,
        status_code=status_code,
        essay=essay,
        history=list(reversed(history)),
        form=form or _form_of(essay),
        answer=paragraphs(essay.response),
        action=_grading_path(exam_id, session_id, question_id),
        rubric_path=_rubric_path(exam_id, question_id, session_id),
        points_text=points_text,
        **context,
    )


@get("/exams/{exam_id:uuid}/grading/{session_id:uuid}/{question_id:uuid}", name="grade_essay")
async def essay_page(
    request: Request[Any, Any, Any],
    exam_id: FromPath[uuid.UUID],
    session_id: FromPath[uuid.UUID],
    question_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
    saved: FromQuery[bool] = False,
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    notice = SAVED_NOTICE + " Here is the next essay waiting." if saved else None
    return await _essay_page(db, platform, actor, (exam_id, session_id, question_id), notice=notice)


@post("/exams/{exam_id:uuid}/grading/{session_id:uuid}/{question_id:uuid}")
async def essay_grade(
    request: Request[Any, Any, Any],
    exam_id: FromPath[uuid.UUID],
    session_id: FromPath[uuid.UUID],
    question_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    """Save the grade, then go on to the oldest essay still waiting (or the queue)."""
    actor = optional_actor
    ids = (exam_id, session_id, question_id)
    if actor is None or not actor.is_staff:
        return refuse(actor, _grading_path(*ids))
    form = grade_form_from_post(await request.form())
    try:
        rubric = await grading.rubric_of(db, actor, exam_id, question_id)
        data = grade_from_form(form, rubric)
        await grading.grade_essay(db, platform, actor, exam_id, session_id, question_id, data)
    except FormProblem as problem:
        return await _essay_page(
            db, platform, actor, ids, form, 422, error=problem.message, error_field=problem.field
        )
    except NotFound as error:
        await db.rollback()
        return not_found(actor, error.detail)
    except DomainError as error:
        await db.rollback()
        field_name = "rubric" if error.code == "rubric_mismatch" else "score"
        return await _essay_page(
            db, platform, actor, ids, form, error.status, error=error.detail, error_field=field_name
        )
    waiting = await grading.grading_queue(db, actor, exam_id, limit=1)
    if waiting.items:
        following = waiting.items[0]
        target = _grading_path(exam_id, following.session_id, following.question_id)
        return Redirect(f"{target}?saved=true", status_code=303)
    return Redirect(f"/exams/{exam_id}/grading?saved=true", status_code=303)


# --- rubrics --------------------------------------------------------------------------


def rubric_text(rubric: RubricOut | None) -> str:
    """One line per criterion: ``Clarity: Muddled = 1 | Clear = 5``."""
    if rubric is None:
        return ""
    return "\n".join(
        f"{criterion.title}: "
        + " | ".join(f"{level.title} = {level.points:g}" for level in criterion.levels)
        for criterion in rubric.criteria
    )


def rubric_from_text(text: str) -> RubricIn | None:
    """The lines of :func:`rubric_text` back into a rubric; None for no lines at all."""
    criteria = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        title, colon, rest = line.partition(":")
        if not colon or not title.strip():
            raise FormProblem("rubric", f"Line {number}: start with the criterion and a colon")
        levels = []
        for part in rest.split("|"):
            name, equals, points = part.rpartition("=")
            try:
                value = float(points.strip().replace(",", "."))
            except ValueError:
                value = math.nan
            if not equals or not name.strip() or not 0 <= value <= 1000:
                raise FormProblem(
                    "rubric",
                    f"Line {number}: write each level as “name = points” (0 to 1000), "
                    "separated by |",
                )
            levels.append({"title": name.strip(), "points": value})
        criteria.append({"title": title.strip(), "levels": levels})
    if not criteria:
        return None
    try:
        return msgspec.convert({"criteria": criteria}, RubricIn)
    except msgspec.ValidationError:
        raise FormProblem(
            "rubric",
            "A rubric has 1 to 20 criteria, each with 1 to 10 levels; "
            "titles are at most 200 characters",
        ) from None


async def _rubric_page(
    db: DbSession,
    actor: Actor,
    exam_id: uuid.UUID,
    question_id: uuid.UUID,
    session_id: uuid.UUID | None,
    text: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response[Any]:
    try:
        rubric = await grading.rubric_of(db, actor, exam_id, question_id)
        question = await question_service.get_question(db, actor, question_id)
    except DomainError as error:
        return not_found(actor, error.detail)
    back = (
        _grading_path(exam_id, session_id, question_id)
        if session_id
        else f"/exams/{exam_id}/grading"
    )
    return render(
        "grading/rubric.html",
        actor,
        status_code=status_code,
        exam_id=exam_id,
        question_label=question.title or first_words(question.content.text),
        rubric=rubric,
        text=rubric_text(rubric) if text is None else text,
        action=_rubric_path(exam_id, question_id, session_id),
        back=back,
        **context,
    )


@get("/exams/{exam_id:uuid}/grading/rubrics/{question_id:uuid}", name="essay_rubric")
async def rubric_page(
    request: Request[Any, Any, Any],
    exam_id: FromPath[uuid.UUID],
    question_id: FromPath[uuid.UUID],
    db: DbSession,
    optional_actor: MaybeActor,
    session: FromQuery[uuid.UUID | None] = None,
    saved: FromQuery[bool] = False,
) -> Response[Any]:
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    notice = "Rubric saved." if saved else None
    return await _rubric_page(db, actor, exam_id, question_id, session, notice=notice)


@post("/exams/{exam_id:uuid}/grading/rubrics/{question_id:uuid}")
async def rubric_save(
    request: Request[Any, Any, Any],
    exam_id: FromPath[uuid.UUID],
    question_id: FromPath[uuid.UUID],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
    session: FromQuery[uuid.UUID | None] = None,
) -> Response[Any]:
    """Save the rubric; no lines at all removes it."""
    actor = optional_actor
    if actor is None or not actor.is_staff:
        return refuse(actor, request_target(request))
    text = str((await request.form()).get("rubric", ""))
    try:
        rubric = rubric_from_text(text)
        if rubric is not None:
            await grading.set_rubric(db, platform, actor, exam_id, question_id, rubric)
        elif await grading.rubric_of(db, actor, exam_id, question_id):
            await grading.delete_rubric(db, actor, exam_id, question_id)
    except FormProblem as problem:
        return await _rubric_page(
            db, actor, exam_id, question_id, session, text, 422, error=problem.message
        )
    except NotFound as error:
        await db.rollback()
        return not_found(actor, error.detail)
    except DomainError as error:
        await db.rollback()
        return await _rubric_page(
            db, actor, exam_id, question_id, session, text, error.status, error=error.detail
        )
    return Redirect(_rubric_path(exam_id, question_id, session, saved="true"), status_code=303)


ROUTES = [
    grading_overview_page,
    grading_queue_page,
    essay_page,
    essay_grade,
    rubric_page,
    rubric_save,
]
