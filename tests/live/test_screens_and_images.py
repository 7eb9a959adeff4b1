"""Where players see the question (their screen or only the host's) and question images:
upload, reference in a quiz, links in ``new_question``, serving; on both deployments."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from studyhall.config import Settings
from studyhall.live.images import SNIFF_BYTES
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.observe import ObservedApp
from studyhall.platform.runtime import Platform
from studyhall.questions.files import IMAGE_MAX_BYTES
from tests.helpers import Person, make_person
from tests.live.helpers import (
    SINGLE,
    Game,
    host,
    join,
    make_game,
    open_socket,
    player_url,
    quiz_body,
    run_timers,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
IMAGES = {
    "image/png": PNG,
    "image/jpeg": b"\xff\xd8\xff\xe0" + b"\x00" * 60,
    "image/gif": b"GIF89a" + b"\x01\x00" * 20,
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40,
}
MULTIPLE = {
    "type": "multiple",
    "text": "Which gases are noble?",
    "options": ["Neon", "Oxygen", "Argon"],
    "correctOptions": [0, 2],
}
SECRETS = [SINGLE["text"], *SINGLE["options"], MULTIPLE["text"], *MULTIPLE["options"]]


async def upload(
    client: httpx.AsyncClient, person: Person, data: Any, content_type: str = "image/png"
) -> httpx.Response:
    headers = {**person.headers, "Content-Type": content_type}
    return await client.post("/api/v1/quiz-images", content=data, headers=headers)


async def uploaded(client: httpx.AsyncClient, teacher: Person, data: bytes = PNG) -> str:
    response = await upload(client, teacher, data)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def stored_images(settings: Settings) -> list[Path]:
    folder = settings.data_dir / "media" / "quiz-images"
    return sorted(folder.iterdir()) if folder.exists() else []


def leaks(messages: list[Any]) -> list[str]:
    """The question and option texts (and image links) found in what a player received."""
    text = json.dumps(messages)
    return [secret for secret in [*SECRETS, "/media/quiz-images"] if secret in text]


async def test_images_are_told_by_their_bytes_and_kept_within_the_limit(
    client: httpx.AsyncClient, platform: Platform, settings: Settings
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    for kind, data in IMAGES.items():
        # The client's claimed type does not count: the bytes do.
        response = await upload(client, teacher, data, content_type="text/plain")
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["contentType"], body["size"]) == (kind, len(data))
        served = await client.get(body["url"])
        assert served.status_code == 200
        assert served.content == data
        assert served.headers["content-type"] == kind
        assert served.headers["x-content-type-options"] == "nosniff"
    kept = stored_images(settings)
    assert len(kept) == len(IMAGES)

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for refused in (svg, b"", b"GIF8", b"%PDF-1.7" + b"\x00" * 100):
        response = await upload(client, teacher, refused, content_type="image/png")
        assert response.status_code == 415, refused
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "unsupported_image_type"

    too_big = PNG + b"\x00" * (IMAGE_MAX_BYTES - len(PNG) + 1)
    announced = await upload(client, teacher, too_big)
    assert (announced.status_code, announced.json()["code"]) == (413, "image_too_large")

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        yield too_big[:SNIFF_BYTES]
        for start in range(SNIFF_BYTES, len(too_big), 1024 * 1024):
            yield too_big[start : start + 1024 * 1024]

    streamed = await upload(client, teacher, chunked())
    assert (streamed.status_code, streamed.json()["code"]) == (413, "image_too_large")
    assert stored_images(settings) == kept, "nothing of a refused upload is left behind"

    student = await make_person(platform, Role.STUDENT)
    refused_student = await upload(client, student, PNG)
    assert (refused_student.status_code, refused_student.json()["code"]) == (403, "not_a_teacher")
    anonymous = await client.post("/api/v1/quiz-images", content=PNG)
    assert anonymous.status_code == 401


async def test_image_links_are_signed(client: httpx.AsyncClient, platform: Platform) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    url = (await upload(client, teacher, PNG)).json()["url"]
    forged = await client.get(url.replace("sig=", "sig=0"))
    assert (forged.status_code, forged.json()["code"]) == (403, "bad_signature")
    bare = await client.get(url.split("?")[0])
    assert bare.status_code == 403


async def test_a_quiz_refers_only_to_its_authors_own_images(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    colleague = await make_person(platform, Role.TEACHER)
    mine = await uploaded(client, teacher)
    theirs = await uploaded(client, colleague)
    body = quiz_body(
        {**SINGLE, "image": mine, "imageAlt": "  A  red planet "},
        {**SINGLE, "image": mine},
        {**SINGLE, "image": theirs},
        {**SINGLE, "image": "00000000-0000-0000-0000-000000000000"},
        {**SINGLE, "imageAlt": "no picture"},
        {**SINGLE, "image": mine, "imageAlt": "x" * 201},
        questionsOn="wall",
    )
    refused = await client.post("/api/v1/quizzes", json=body, headers=teacher.headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_quiz"
    errors = {(e["question"], e["code"]) for e in refused.json()["errors"]}
    assert errors == {
        (-1, "invalid_questions_on"),
        (2, "unknown_image"),
        (3, "unknown_image"),
        (4, "unexpected_image_alt"),
        (5, "invalid_image_alt"),
    }

    good = quiz_body(body["questions"][0], body["questions"][1], questionsOn="host")
    created = await client.post("/api/v1/quizzes", json=good, headers=teacher.headers)
    assert created.status_code == 201, created.text
    quiz = (
        await client.get(f"/api/v1/quizzes/{created.json()['id']}", headers=teacher.headers)
    ).json()
    assert quiz["questionsOn"] == "host"
    first, second = quiz["questions"]
    assert (first["image"], first["imageAlt"]) == (mine, "A red planet")
    assert second["imageAlt"] == "Picture for question 2", "a sensible default"

    plain = await client.post("/api/v1/quizzes", json=quiz_body(SINGLE), headers=teacher.headers)
    detail = await client.get(f"/api/v1/quizzes/{plain.json()['id']}", headers=teacher.headers)
    assert detail.json()["questionsOn"] == "players", "today's behaviour is the default"


async def _start(app: ObservedApp, client: httpx.AsyncClient, clock: FakeClock, game: Game) -> None:
    await host(client, game, "start")
    await run_timers(app, clock, 3)


async def test_players_see_the_question_image_on_their_own_screens(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    live_server: str,
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    image = await uploaded(client, teacher)
    game = await make_game(client, teacher, {**SINGLE, "image": image, "imageAlt": "Mars"})
    ada = await join(client, game, "Ada")
    ada_ws = await open_socket(player_url(live_server, game, ada))
    await ada_ws.next("snapshot")
    await _start(app, client, clock, game)
    question = (await ada_ws.next("new_question"))["payload"]
    assert (question["text"], question["questionsOn"]) == (SINGLE["text"], "players")
    assert question["imageAlt"] == "Mars"
    served = await client.get(question["imageUrl"])  # a player's link needs no account
    assert served.content == PNG
    assert [c["shape"] for c in question["choices"]] == ["triangle", "diamond", "circle"]
    await ada_ws.connection.close()


async def test_on_the_host_screen_only_players_get_no_question_text_and_still_score(
    client: httpx.AsyncClient,
    app: ObservedApp,
    platform: Platform,
    clock: FakeClock,
    live_server: str,
) -> None:
    teacher = await make_person(platform, Role.TEACHER)
    image = await uploaded(client, teacher)
    game = await make_game(
        client, teacher, {**SINGLE, "image": image}, MULTIPLE, questionsOn="host"
    )
    ada = await join(client, game, "Ada")
    bea = await join(client, game, "Bea")
    ada_ws = await open_socket(player_url(live_server, game, ada))
    host_ws = await open_socket(f"ws://{live_server}/ws?quizId={game.code}", teacher.headers)
    await ada_ws.next("snapshot")
    await host_ws.next("snapshot")
    bea_poll = f"/api/v1/quizzes/{game.code}/events?participantId={bea.id}&resumeToken={bea.token}"
    polled: list[Any] = []

    await _start(app, client, clock, game)
    question = (await ada_ws.next("new_question"))["payload"]
    assert question["questionsOn"] == "host"
    assert not {"text", "options", "imageUrl", "imageAlt"} & question.keys()
    assert [c["id"] for c in question["choices"]] == [0, 1, 2]
    assert {"startTime", "endTime", "questionId", "type"} <= question.keys()
    shown = (await host_ws.next("host_question"))["payload"]
    assert (shown["text"], shown["options"]) == (SINGLE["text"], SINGLE["options"])
    assert shown["questionId"] == question["questionId"]
    assert (await client.get(shown["imageUrl"])).content == PNG
    assert shown["imageAlt"] == "Picture for question 1"

    # A fresh screen's snapshot, a reconnect's replay and the long poll: no texts either.
    snapshot = (await client.get(f"{bea_poll}&wait=0")).json()
    polled += snapshot["events"]
    assert snapshot["events"][0]["payload"]["question"]["questionId"] == question["questionId"]
    replay = await open_socket(player_url(live_server, game, ada, last_event_id=0))
    replayed = await replay.next("new_question")
    assert "text" not in replayed["payload"]
    fresh = await open_socket(player_url(live_server, game, ada))
    assert "choices" in (await fresh.next("snapshot"))["payload"]["question"]
    host_again = await open_socket(f"ws://{live_server}/ws?quizId={game.code}", teacher.headers)
    again = (await host_again.next("snapshot"))["payload"]["question"]
    assert (again["text"], again["imageAlt"]) == (SINGLE["text"], "Picture for question 1")

    clock.advance(2)
    await ada_ws.send(
        "answer_submission", {"questionId": question["questionId"], "selectedOption": 1}
    )
    await ada_ws.next("answer_received")
    answered = await client.post(
        f"/api/v1/quizzes/{game.code}/answers",
        json={
            "participantId": bea.id,
            "resumeToken": bea.token,
            "questionId": question["questionId"],
            "selectedOption": 0,
        },
    )
    assert answered.status_code == 200, answered.text
    result = (await ada_ws.next("answer_result"))["payload"]
    assert (result["correct"], result["awardedPoints"]) == (True, 145)

    await host(client, game, "next")
    second = (await ada_ws.next("new_question"))["payload"]
    assert "text" not in second
    await host_ws.next("host_question", lambda m: m["payload"]["index"] == 1)
    polled += (await client.get(f"{bea_poll}&after={snapshot['lastEventId']}&wait=0")).json()[
        "events"
    ]
    await ada_ws.send(
        "answer_submission", {"questionId": second["questionId"], "selectedOption": [2, 0]}
    )
    await host(client, game, "end")
    ended = (await ada_ws.next("quiz_ended"))["payload"]
    assert ended["you"]["score"] > 145, "the second answer scored too"
    polled += (await client.get(f"{bea_poll}&after={snapshot['lastEventId']}&wait=0")).json()[
        "events"
    ]

    assert any(m["type"] == "new_question" for m in polled)
    for messages in (ada_ws.seen, replay.seen, fresh.seen, polled):
        assert not any(m["type"] == "host_question" for m in messages)
        assert leaks(messages) == []
    assert leaks(host_ws.seen) != [], "the host's screen has everything"
    for socket in (ada_ws, host_ws, replay, fresh, host_again):
        await socket.connection.close()
