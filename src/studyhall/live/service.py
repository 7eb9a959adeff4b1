"""Live quiz rules: authoring, games, players' tokens, host actions, export. No HTTP here
(joining is ``live.joins``)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
import uuid
from collections.abc import AsyncIterable
from typing import Any

import msgspec
import segno
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from studyhall.live import images, repository
from studyhall.live.engine import GameDef, GameNotRunning, LiveEngine, Step
from studyhall.live.models import KICKED_PREFIX, LiveGame, LiveQuiz
from studyhall.live.questions import (
    MAX_IMAGE_ALT,
    MAX_QUESTIONS,
    InvalidQuiz,
    LiveQuestion,
    QuestionProblem,
    build_question,
    check_common,
    from_bank,
)
from studyhall.live.schemas import (
    GameCreatedOut,
    GameOut,
    HostActionOut,
    KickOut,
    QuestionIn,
    QuizCreatedOut,
    QuizImageOut,
    QuizIn,
    QuizOut,
    QuizSummaryOut,
)
from studyhall.live.scoring import PointsLevel
from studyhall.live.store import GameState
from studyhall.platform.auth import Actor
from studyhall.platform.errors import Conflict, Forbidden, InvalidInput, NotFound
from studyhall.platform.ids import new_id
from studyhall.platform.runtime import Platform
from studyhall.questions import service as questions_service

MAX_TITLE = 200
MAX_PLAYERS = 10_000
MAX_AUTO_START_SECONDS = 600
JOIN_CODE_ATTEMPTS = 20
QUESTIONS_ON = ("players", "host")


class NotAuthor(Forbidden):
    code = "not_a_teacher"
    title = "Only teachers and admins author and host quizzes"


class GameNotFound(NotFound):
    code = "game_not_found"
    title = "No live game has this code"


class BadResumeToken(NotFound):
    code = "unknown_participant"
    title = "No such participant in this game"


# --- authoring --------------------------------------------------------------------------------


def _require_author(actor: Actor) -> None:
    if not actor.is_staff:
        raise NotAuthor()


async def create_quiz(
    session: AsyncSession, platform: Platform, actor: Actor, data: QuizIn
) -> QuizCreatedOut:
    """Check the whole quiz and report every problem at once (422 ``invalid_quiz`` with
    ``errors: [{question, code, message}]``; ``question`` is -1 for the quiz itself)."""
    _require_author(actor)
    problems: list[QuestionProblem] = []

    def refuse(code: str, message: str) -> None:
        problems.append(QuestionProblem(-1, code, message))

    title = data.title.strip()
    if not title or len(title) > MAX_TITLE:
        refuse("invalid_title", f"title must be 1 to {MAX_TITLE} characters")
    if data.scoring not in ("classic", "speed"):
        refuse("invalid_scoring", "scoring must be classic or speed")
    if data.answer_result not in ("reveal", "immediate"):
        refuse("invalid_answer_result", "answerResult must be reveal or immediate")
    if data.max_players is not None and not 1 <= data.max_players <= MAX_PLAYERS:
        refuse("invalid_max_players", f"maxPlayers must be 1 to {MAX_PLAYERS}")
    if data.auto_start_seconds is not None and not (
        0 <= data.auto_start_seconds <= MAX_AUTO_START_SECONDS
    ):
        refuse("invalid_auto_start", f"autoStartSeconds must be 0 to {MAX_AUTO_START_SECONDS}")
    if data.questions_on not in QUESTIONS_ON:
        refuse("invalid_questions_on", "questionsOn must be players or host")
    if not 1 <= len(data.questions) <= MAX_QUESTIONS:
        refuse("invalid_question_count", f"a quiz has 1 to {MAX_QUESTIONS} questions")
    wanted = {item.image for item in data.questions if item.image is not None}
    owned = await repository.owned_image_ids(session, actor.user_id, wanted)
    questions: list[LiveQuestion] = []
    for index, item in enumerate(data.questions):
        question = await _question(session, actor, index, item, problems)
        question = _with_image(index, item, question, owned, problems)
        if question is not None:
            questions.append(question)
    if problems:
        raise InvalidQuiz(
            f"{len(problems)} problem(s) in the quiz",
            extra={"errors": msgspec.to_builtins(problems)},
        )
    quiz = LiveQuiz(
        id=new_id(),
        owner_id=actor.user_id,
        title=title,
        scoring=data.scoring,
        auto_start=data.auto_start,
        auto_advance=data.auto_advance,
        answer_result=data.answer_result,
        auto_start_seconds=data.auto_start_seconds,
        max_players=data.max_players,
        questions_on=data.questions_on,
        questions=[msgspec.to_builtins(question) for question in questions],
        created_at=platform.clock.now(),
    )
    session.add(quiz)
    await session.flush()
    return QuizCreatedOut(id=quiz.id)


async def _question(
    session: AsyncSession,
    actor: Actor,
    index: int,
    item: QuestionIn,
    problems: list[QuestionProblem],
) -> LiveQuestion | None:
    if item.question_id is None:
        return build_question(index, item, problems)
    before = len(problems)
    check_common(index, item, problems)
    try:
        bank_question = await questions_service.get_question(session, actor, item.question_id)
    except NotFound:
        problems.append(QuestionProblem(index, "unknown_bank_question", "no such bank question"))
        return None
    points: PointsLevel = "standard"
    if item.points in ("none", "double"):
        points = "none" if item.points == "none" else "double"
    question = from_bank(
        bank_question.content,
        time_limit=item.time_limit_seconds,
        points=points,
        seed=str(item.question_id),
    )
    if question is None:
        problems.append(
            QuestionProblem(
                index,
                "unsupported_bank_question",
                f"a {bank_question.kind} question cannot be played live",
            )
        )
    return None if len(problems) > before else question


def _with_image(
    index: int,
    item: QuestionIn,
    question: LiveQuestion | None,
    owned: set[uuid.UUID],
    problems: list[QuestionProblem],
) -> LiveQuestion | None:
    """The question with its image, which must be one the quiz's author uploaded; the
    alt text defaults to naming the question, since only the author can describe it."""
    alt = " ".join((item.image_alt or "").split())
    found: list[QuestionProblem] = []
    if item.image is None:
        if alt:
            found.append(QuestionProblem(index, "unexpected_image_alt", "imageAlt needs image"))
    elif item.image not in owned:
        found.append(QuestionProblem(index, "unknown_image", "no image of yours has this id"))
    if len(alt) > MAX_IMAGE_ALT:
        found.append(
            QuestionProblem(index, "invalid_image_alt", f"imageAlt has at most {MAX_IMAGE_ALT}")
        )
    if found:
        problems.extend(found)
        return None
    if question is None or item.image is None:
        return question
    return msgspec.structs.replace(
        question, image=str(item.image), image_alt=alt or f"Picture for question {index + 1}"
    )


async def upload_image(
    session: AsyncSession,
    platform: Platform,
    actor: Actor,
    *,
    chunks: AsyncIterable[bytes],
    content_length: int | None,
) -> QuizImageOut:
    """An image for your quiz questions (413 ``image_too_large``, 415
    ``unsupported_image_type``)."""
    _require_author(actor)
    return await images.save_upload(
        session, platform, actor.user_id, chunks=chunks, content_length=content_length
    )


def _quiz_out(quiz: LiveQuiz) -> QuizOut:
    return QuizOut(
        id=quiz.id,
        title=quiz.title,
        scoring=quiz.scoring,
        auto_start=quiz.auto_start,
        auto_advance=quiz.auto_advance,
        answer_result=quiz.answer_result,
        auto_start_seconds=quiz.auto_start_seconds,
        max_players=quiz.max_players,
        questions_on=quiz.questions_on,
        questions=quiz.questions,
        created_at=quiz.created_at,
    )


async def list_quizzes(session: AsyncSession, actor: Actor) -> list[QuizSummaryOut]:
    """Your quizzes (admins: all)."""
    _require_author(actor)
    quizzes = await repository.quizzes_of(session, None if actor.is_admin else actor.user_id)
    return [
        QuizSummaryOut(
            id=quiz.id,
            title=quiz.title,
            scoring=quiz.scoring,
            question_count=len(quiz.questions),
            created_at=quiz.created_at,
        )
        for quiz in quizzes
    ]


async def _own_quiz(session: AsyncSession, actor: Actor, quiz_id: uuid.UUID) -> LiveQuiz:
    quiz = await repository.quiz_by_id(session, quiz_id)
    if quiz is None or not (actor.is_admin or quiz.owner_id == actor.user_id):
        raise NotFound("No such quiz")
    return quiz


async def quiz_detail(session: AsyncSession, actor: Actor, quiz_id: uuid.UUID) -> QuizOut:
    return _quiz_out(await _own_quiz(session, actor, quiz_id))


# --- games ------------------------------------------------------------------------------------


async def create_game(
    session: AsyncSession, engine: LiveEngine, actor: Actor, quiz_id: uuid.UUID, base_url: str
) -> GameCreatedOut:
    """A game of your quiz with a 6-digit join code no other live game holds."""
    _require_author(actor)
    quiz = await _own_quiz(session, actor, quiz_id)
    now = engine.clock.now()
    for _ in range(JOIN_CODE_ATTEMPTS):
        code = f"{secrets.randbelow(1_000_000):06d}"
        game = LiveGame(
            id=new_id(),
            quiz_id=quiz.id,
            host_id=actor.user_id,
            join_code=code,
            live_code=code,
            status="lobby",
            created_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(game)
                await session.flush()
        except IntegrityError:
            continue
        await engine.create_game(str(game.id))
        return GameCreatedOut(
            game_id=game.id,
            join_code=code,
            join_url=join_url(base_url, code),
            qr_code_url=f"/api/v1/games/{game.id}/qr",
        )
    raise Conflict("No free join code was found; try again")


def join_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/play/{code}"


def qr_code(url: str, kind: str) -> bytes:
    """The join URL as a QR code image (``svg`` or ``png``)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind=kind, scale=8, border=2)
    return out.getvalue()


async def hosted_game(session: AsyncSession, actor: Actor, game_id: uuid.UUID) -> LiveGame:
    """Your game as its host (admins: any); anyone else's is 404."""
    game = await repository.game_by_id(session, game_id)
    if game is None or not (actor.is_admin or game.host_id == actor.user_id):
        raise NotFound("No such game")
    return game


async def game_view(
    session: AsyncSession, engine: LiveEngine, actor: Actor, game_id: uuid.UUID
) -> GameOut:
    game = await hosted_game(session, actor, game_id)
    definition = await engine.definition(str(game.id))
    state = await engine.state(str(game.id))
    return GameOut(
        game_id=game.id,
        quiz_id=game.quiz_id,
        title=definition.title,
        join_code=game.join_code,
        status=state.status if state else game.status,
        question_index=state.qi if state else -1,
        question_count=len(definition.questions),
        players=state.players if state else 0,
        answered=state.answered if state else 0,
        last_event_id=state.seq if state else 0,
    )


class InvalidStep(InvalidInput):
    code = "invalid_step"
    title = "fromStatus question or reveal needs the fromQuestion of this game it is at"


async def host_action(
    session: AsyncSession,
    engine: LiveEngine,
    actor: Actor,
    game_id: uuid.UUID,
    action: str,
    step: Step | None = None,
) -> HostActionOut:
    """``step``: where the host's screen was when it sent ``next`` (see ``LiveEngine.advance``)."""
    game = await hosted_game(session, actor, game_id)
    definition = await engine.definition(str(game.id))
    await engine.state(definition.game_id)  # a game Redis lost is rebuilt before it moves
    if (
        step is not None
        and step[0] in ("question", "reveal")
        and not 0 <= step[1] < len(definition.questions)
    ):
        raise InvalidStep()
    if action == "start":
        await engine.start(definition)
        moved = True
    elif action == "next":
        moved = await engine.advance(definition, step)
    else:
        moved = await engine.end(definition)
    view = await game_view(session, engine, actor, game_id)
    return HostActionOut(**msgspec.structs.asdict(view), advanced=moved)


async def kick_player(
    session: AsyncSession,
    engine: LiveEngine,
    actor: Actor,
    game_id: uuid.UUID,
    participant_id: uuid.UUID,
) -> KickOut:
    """Take a player out of your game. Their row and answers stay for the audit; its
    ``name_key`` becomes ``kicked:<id>`` (no name folds to that: names are at most 30
    characters), which frees the name for someone else and records the kick."""
    game = await hosted_game(session, actor, game_id)
    player = await repository.player_by_id(session, participant_id)
    if player is None or player.game_id != game.id:
        raise NotFound("No such player in this game")
    definition = await engine.definition(str(game.id))
    await engine.state(definition.game_id)  # rebuilt if Redis lost it
    players = await engine.kick(definition, str(player.id))
    if players is None:
        if not player.name_key.startswith(KICKED_PREFIX):
            raise GameNotRunning("The game is over")
        state = await engine.state(str(game.id))
        players = state.players if state else 0
    player.name_key = f"{KICKED_PREFIX}{player.id}"
    await session.flush()
    return KickOut(participant_id=player.id, kicked=True, players=players)


# --- players ----------------------------------------------------------------------------------


def resume_token(secret: str, game_id: str, player_id: str) -> str:
    message = f"live-player:{game_id}:{player_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


def check_resume_token(secret: str, game_id: str, player_id: str, token: str) -> None:
    # Bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, a 500).
    expected = resume_token(secret, game_id, player_id).encode()
    if not hmac.compare_digest(expected, token.encode()):
        raise BadResumeToken()


async def live_game(
    session: AsyncSession, engine: LiveEngine, join_code: str
) -> tuple[uuid.UUID, GameState]:
    """The running game with this code and its state (404 when none runs)."""
    state = await engine.live_game_of_code(join_code)
    if state is not None:
        return uuid.UUID(engine.codes[join_code]), state
    game = await repository.live_game_by_code(session, join_code) if join_code.isdigit() else None
    if game is None:
        raise GameNotFound()
    state = await engine.state(str(game.id))
    if state is None or state.status == "ended":
        raise GameNotFound()
    engine.remember_code(join_code, str(game.id))
    return game.id, state


async def game_for_code(session: AsyncSession, engine: LiveEngine, join_code: str) -> GameDef:
    """The game a join code names: the live one, else the last that had it (for players
    reconnecting after the end)."""
    if await engine.live_game_of_code(join_code) is not None:
        return await engine.definition(engine.codes[join_code])
    game = await repository.latest_game_by_code(session, join_code) if join_code.isdigit() else None
    if game is None:
        raise GameNotFound()
    if game.live_code is not None:
        engine.remember_code(join_code, str(game.id))
    return await engine.definition(str(game.id))


# --- export -----------------------------------------------------------------------------------

EXPORT_COLUMNS = [
    "participantId",
    "name",
    "finalScore",
    "finalRank",
    "questionIndex",
    "questionId",
    "questionText",
    "response",
    "correct",
    "points",
    "responseMs",
    "receivedAt",
    "clientAnsweredAt",
]


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def export_csv(
    session: AsyncSession, engine: LiveEngine, actor: Actor, game_id: uuid.UUID
) -> str:
    game = await hosted_game(session, actor, game_id)
    definition = await engine.definition(str(game.id))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for player, answer in await repository.export_rows(session, game.id):
        row: list[Any] = [player.id, player.name, player.final_score, player.final_rank]
        if answer is None:
            row += [None] * 9
        else:
            row += [
                answer.question_index,
                answer.question_id,
                definition.questions[answer.question_index].text,
                msgspec.json.encode(answer.response).decode(),
                answer.correct,
                answer.points,
                answer.response_ms,
                answer.received_at.isoformat(),
                answer.client_answered_at,
            ]
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()
