"""Wire types of the live quiz API (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec


class QuestionIn(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """An inline question, or ``{questionId}`` (plus optional time limit, points and
    image) for a question of a bank you may read. ``image``: the id of an image you
    uploaded (``POST /api/v1/quiz-images``), with ``imageAlt`` describing it."""

    type: str | None = None
    text: str | None = None
    options: list[str] = []
    correct_options: list[int] = []
    accepted_answers: list[str] = []
    correct_value: float | None = None
    tolerance: float = 0.0
    min: float | None = None
    max: float | None = None
    time_limit_seconds: int = 20
    points: str | None = None
    question_id: uuid.UUID | None = None
    image: uuid.UUID | None = None
    image_alt: str | None = None


class QuizIn(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """``answerResult``: ``reveal`` sends each player's result when the question closes,
    ``immediate`` as soon as the answer is in. ``autoStartSeconds``: how long after more
    than two players joined an ``autoStart`` game starts (the server default when left out).
    ``questionsOn``: ``players`` shows each question on every player's screen, ``host``
    only on the host's (players then get answer buttons marked by shape and colour)."""

    title: str
    scoring: str = "classic"
    auto_start: bool = False
    auto_advance: bool = False
    answer_result: str = "reveal"
    auto_start_seconds: int | None = None
    max_players: int | None = None
    questions_on: str = "players"
    questions: list[QuestionIn]


class QuizCreatedOut(msgspec.Struct, rename="camel", kw_only=True):
    id: uuid.UUID


class QuizOut(msgspec.Struct, rename="camel", kw_only=True):
    """A quiz as its author sees it, answer keys included."""

    id: uuid.UUID
    title: str
    scoring: str
    auto_start: bool
    auto_advance: bool
    answer_result: str
    auto_start_seconds: int | None
    max_players: int | None
    questions_on: str
    questions: list[dict[str, Any]]
    created_at: datetime


class QuizImageOut(msgspec.Struct, rename="camel", kw_only=True):
    """An uploaded question image: give ``id`` as a question's ``image``; ``url`` shows it
    (a signed link that works for a few hours)."""

    id: uuid.UUID
    url: str
    content_type: str
    size: int


class QuizSummaryOut(msgspec.Struct, rename="camel", kw_only=True):
    id: uuid.UUID
    title: str
    scoring: str
    question_count: int
    created_at: datetime


class GameCreatedOut(msgspec.Struct, rename="camel", kw_only=True):
    game_id: uuid.UUID
    join_code: str
    join_url: str
    qr_code_url: str


class GameOut(msgspec.Struct, rename="camel", kw_only=True):
    """The host's view of a game."""

    game_id: uuid.UUID
    quiz_id: uuid.UUID
    title: str
    join_code: str
    status: str
    question_index: int
    question_count: int
    players: int
    answered: int
    last_event_id: int


class HostActionOut(GameOut, kw_only=True):
    """The game after a host action; ``advanced`` is False when it had already moved on
    from the step the host acted on (a repeated click), so nothing changed."""

    advanced: bool


class KickOut(msgspec.Struct, rename="camel", kw_only=True):
    participant_id: uuid.UUID
    kicked: bool
    players: int


class JoinIn(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    participant_name: str


class JoinOut(msgspec.Struct, rename="camel", kw_only=True):
    """``quizId`` echoes the join code the player used (seed 002)."""

    quiz_id: str
    game_id: uuid.UUID
    participant_id: uuid.UUID
    resume_token: str


class AnswerIn(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """An answer over HTTP, when the WebSocket cannot be used; same rules as over the socket."""

    participant_id: uuid.UUID
    resume_token: str
    question_id: str
    selected_option: Any
    answered_at: str | None = None


class AnswerAckOut(msgspec.Struct, rename="camel", kw_only=True):
    """``duplicate``: this player had already answered; the first answer stands.
    ``result`` is the ``answer_result`` payload when the quiz shows results at once."""

    question_id: str
    accepted: bool = True
    duplicate: bool = False
    result: dict[str, Any] | None = None


class LiveGameOpsOut(msgspec.Struct, rename="camel", kw_only=True):
    """A running game as operators see it; rates are per second since the last read."""

    game_id: uuid.UUID
    title: str
    join_code: str
    status: str
    question_index: int
    question_count: int
    players: int
    answers: int
    answers_per_second: float
    errors: int
    errors_per_second: float
    last_event_id: int


class LiveOpsOut(msgspec.Struct, rename="camel", kw_only=True):
    games: list[LiveGameOpsOut]
    players: int
    answers_per_second: float
    errors: int
