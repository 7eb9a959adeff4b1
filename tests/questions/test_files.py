"""Images embedded in Moodle XML, on both deployments: kept with their question, shown
through signed links to the people who may see the question, refused with a reason."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from studyhall.identity import repository as identity_repository
from studyhall.identity.service import actor_for
from studyhall.platform.auth import Role
from studyhall.platform.clock import FakeClock
from studyhall.platform.runtime import Platform
from studyhall.platform.signing import link_signature
from studyhall.questions import files, repository, service
from studyhall.questions.formats.moodlexml import parse_moodle_xml_with_files
from studyhall.questions.models import QuestionFile
from tests.conftest import TEST_SECRET
from tests.helpers import Person, make_person
from tests.questions.api import create_bank, import_file, shown_images

WITH_IMAGE = (Path(__file__).parent / "fixtures" / "with_image.xml").read_text()
IMAGES = {file.name: file.data for file in parse_moodle_xml_with_files(WITH_IMAGE)[1][0]}
PNG = IMAGES["diagram one.png"]
LINK = re.compile(r'src="(/media/question-files/([0-9a-f-]+)\?expires=(\d+)&amp;sig=([0-9a-f]+))"')


async def _imported(client: httpx.AsyncClient, teacher: Person) -> dict[str, Any]:
    """The fixture's question, imported into a new bank of ``teacher``'s."""
    bank = await create_bank(client, teacher)
    report = await import_file(client, teacher, bank, WITH_IMAGE, "moodlexml")
    assert report.json() == {"imported": 1, "errors": []}
    listed = await client.get(f"/api/v1/banks/{bank}/questions", headers=teacher.headers)
    question: dict[str, Any] = listed.json()[0]
    return question


async def _stem_link(client: httpx.AsyncClient, viewer: Person, question_id: str) -> re.Match[str]:
    preview = await client.get(f"/api/v1/questions/{question_id}/preview", headers=viewer.headers)
    assert preview.status_code == 200, preview.text
    link = LINK.search(preview.json()["html"])
    assert link is not None, preview.text
    return link


def _stored_objects(platform: Platform) -> list[Path]:
    folder = platform.settings.data_dir / "media" / "question-files"
    return sorted(folder.iterdir()) if folder.exists() else []


async def test_an_embedded_image_is_kept_and_served_to_whoever_holds_the_link(
    client: httpx.AsyncClient, teacher: Person, platform: Platform, clock: FakeClock
) -> None:
    window = files.LINK_WINDOW_SECONDS
    clock.advance(window - clock.timestamp() % window + 1)  # just into a window
    question = await _imported(client, teacher)
    assert 'src="@@PLUGINFILE@@/diagram%20one.png"' in question["content"]["text"], (
        "the stored text keeps Moodle's form, so versions and exports stay portable"
    )
    async with platform.sessions() as session:
        rows = await repository.files_of(session, [uuid.UUID(question["id"])])
    assert [(row.filename, row.content_type, row.size) for row in rows] == [
        ("diagram one.png", "image/png", len(PNG)),
        ("shapes/square.gif", "image/gif", len(IMAGES["shapes/square.gif"])),
    ]
    assert [path.name for path in _stored_objects(platform)] == sorted(str(r.id) for r in rows)

    preview = await client.get(
        f"/api/v1/questions/{question['id']}/preview", headers=teacher.headers
    )
    assert "@@PLUGINFILE@@" not in preview.text
    assert "/media/question-files/" in preview.json()["choices"][0]["html"]
    link = await _stem_link(client, teacher, question["id"])
    served = await client.get(link.group(1).replace("&amp;", "&"))  # no credential but the link
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-length"] == str(len(PNG))
    assert served.headers["etag"] == f'"{hashlib.sha256(PNG).hexdigest()}"'
    assert served.headers["x-content-type-options"] == "nosniff"
    remaining = int(link.group(3)) - int(clock.timestamp())
    assert remaining >= files.LINK_TTL_SECONDS
    assert served.headers["cache-control"] == f"private, max-age={remaining}"
    assert "set-cookie" not in served.headers

    clock.advance(600)
    again = await _stem_link(client, teacher, question["id"])
    assert again.group(1) == link.group(1), "within one window the same URL, for caches"
    later = await client.get(link.group(1).replace("&amp;", "&"))
    assert later.headers["cache-control"] == f"private, max-age={remaining - 600}"


async def test_forged_and_expired_links_are_refused(
    client: httpx.AsyncClient, teacher: Person, clock: FakeClock
) -> None:
    question = await _imported(client, teacher)
    link = await _stem_link(client, teacher, question["id"])
    file_id, expires, sig = link.group(2), link.group(3), link.group(4)
    path = f"/media/question-files/{file_id}"
    video_style = link_signature(TEST_SECRET, file_id, int(expires))
    forged = [
        f"{path}?expires={expires}&sig={sig[:-1]}{'0' if sig[-1] != '0' else '1'}",
        f"{path}?expires={int(expires) + 3600}&sig={sig}",
        f"{path}?expires={expires}",
        f"{path}?sig={sig}",
        f"{path}?expires=-5&sig={sig}",
        f"{path}?expires={expires}&sig=%C3%A9",
        f"/media/question-files/{uuid.uuid4()}?expires={expires}&sig={sig}",
        f"{path}?expires={expires}&sig={video_style}",  # a video link's signature
    ]
    for url in forged:
        refused = await client.get(url)
        assert refused.status_code == 403, url
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "bad_signature", url

    clock.advance(int(expires) - int(clock.timestamp()))
    expired = await client.get(f"{path}?expires={expires}&sig={sig}")
    assert expired.status_code == 403
    assert expired.json()["code"] == "link_expired"


async def test_only_people_who_may_see_the_bank_get_a_link(
    client: httpx.AsyncClient, teacher: Person, platform: Platform
) -> None:
    question = await _imported(client, teacher)
    stranger = await make_person(platform, Role.TEACHER)
    student = await make_person(platform, Role.STUDENT)
    for person in (stranger, student):
        preview = await client.get(
            f"/api/v1/questions/{question['id']}/preview", headers=person.headers
        )
        assert preview.status_code == 404
        assert "question-files" not in preview.text
    shared = await client.post(
        f"/api/v1/banks/{question['bankId']}/shares",
        json={"userId": str(stranger.id)},
        headers=teacher.headers,
    )
    assert shared.status_code == 204
    _, images = await shown_images(client, stranger, question["id"])
    assert images == [PNG, IMAGES["shapes/square.gif"]]


def _question(name: str, text: str, embedded: str = "") -> str:
    return (
        '  <question type="essay">\n'
        f"    <name><text>{name}</text></name>\n"
        '    <questiontext format="html">\n'
        f"      <text><![CDATA[{text}]]></text>\n"
        f"{embedded}"
        "    </questiontext>\n"
        "  </question>\n"
    )


def _file(name: str, data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return f'      <file name="{name}" path="/" encoding="base64">{encoded}</file>\n'


def _line(source: str, needle: str) -> int:
    return source[: source.index(needle)].count("\n") + 1


async def test_refused_files_are_reported_at_their_line_and_their_question_is_left_out(
    client: httpx.AsyncClient, teacher: Person, platform: Platform
) -> None:
    """A question whose picture cannot be kept would reach students unanswerable, and no
    picture can be attached later: it is reported like any other broken question."""
    too_large = PNG[:16] + bytes(files.IMAGE_MAX_BYTES)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    cases = [
        ("notes.pdf", b"%PDF-1.7\n...", "is not a PNG, JPEG, GIF or WebP image"),
        ("big.png", too_large, f"has {len(too_large)} bytes; an image may have at most 5 MiB"),
        ("evil.svg", svg, "SVG is refused"),
        ("page.png", b"<html><script>alert(1)</script>", "is not a PNG, JPEG, GIF or WebP"),
    ]
    parts = [
        _question(f"Q {name}", f'<img src="@@PLUGINFILE@@/{name}">', _file(name, data))
        for name, data, _ in cases
    ]
    parts.append(
        _question(
            "Q bad base64",
            "x",
            '      <file name="b.png" path="/" encoding="base64">not base64!</file>\n',
        )
    )
    parts.append(_question("Q dangling", '<img src="@@PLUGINFILE@@/gone.png">'))
    parts.append(_question("Q fine", '<img src="@@PLUGINFILE@@/ok.png">', _file("ok.png", PNG)))
    source = "<quiz>\n" + "".join(parts) + "</quiz>\n"
    bank = await create_bank(client, teacher)
    report = (await import_file(client, teacher, bank, source, "moodlexml")).json()

    assert report["imported"] == 1
    expected = [(_line(source, f'<file name="{name}"'), words) for name, _, words in cases]
    expected.append((_line(source, '<file name="b.png"'), "'b.png' is not valid base64"))
    expected.append((_line(source, "Q dangling") - 1, "shows the file 'gone.png'"))
    assert [error["line"] for error in report["errors"]] == [line for line, _ in expected]
    for error, (_, words) in zip(report["errors"], expected, strict=True):
        assert words in error["message"]
    listed = await client.get(f"/api/v1/banks/{bank}/questions", headers=teacher.headers)
    assert [q["title"] for q in listed.json()] == ["Q fine"]
    assert len(_stored_objects(platform)) == 1, "no bytes of a refused question are kept"


async def test_a_failed_import_leaves_no_bytes_behind(
    client: httpx.AsyncClient,
    teacher: Person,
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bank = await create_bank(client, teacher)
    insert_rows = repository.insert_rows

    async def failing(session: Any, table: Any, rows: list[dict[str, Any]]) -> None:
        if table is QuestionFile:
            raise ConnectionError("the database went away")
        await insert_rows(session, table, rows)

    async def run_import() -> None:
        async with platform.sessions() as session, session.begin():
            user = await identity_repository.user_by_id(session, teacher.id)
            assert user is not None
            actor = actor_for(user, "bearer")
            await service.import_questions(
                session, platform, actor, uuid.UUID(bank), WITH_IMAGE, "moodlexml"
            )

    monkeypatch.setattr(repository, "insert_rows", failing)
    with pytest.raises(ConnectionError):
        await run_import()
    assert _stored_objects(platform) == []
    listed = await client.get(f"/api/v1/banks/{bank}/questions", headers=teacher.headers)
    assert listed.json() == []


async def test_a_new_version_keeps_the_question_s_files(
    client: httpx.AsyncClient, teacher: Person, platform: Platform
) -> None:
    question = await _imported(client, teacher)
    async with platform.sessions() as session, session.begin():
        found = await repository.question_with_version(session, uuid.UUID(question["id"]))
        assert found is not None
        await service.mark_seen(session, [found[1].id])
    content = {**question["content"], "text": question["content"]["text"] + "<p>Look closely.</p>"}
    edited = await client.put(
        f"/api/v1/questions/{question['id']}", json={"content": content}, headers=teacher.headers
    )
    assert edited.json()["version"] == 2
    _, images = await shown_images(client, teacher, question["id"])
    assert images == [PNG, IMAGES["shapes/square.gif"]]


def test_links_repeat_within_a_window_and_outlast_an_exam() -> None:
    start = 1_800_000_000 - 1_800_000_000 % files.LINK_WINDOW_SECONDS
    expiries = {files.link_expiry(start + offset) for offset in range(1, 3600, 97)}
    assert expiries == {start + files.LINK_TTL_SECONDS + files.LINK_WINDOW_SECONDS}
    for now in (start, start + 1, start + 3599):
        expires = files.link_expiry(now)
        assert expires - now >= files.LINK_TTL_SECONDS
        assert expires - now <= files.LINK_TTL_SECONDS + files.LINK_WINDOW_SECONDS
        assert expires % files.LINK_WINDOW_SECONDS == 0


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b"<svg/>", None),
        (b"", None),
    ],
)
def test_images_are_recognised_by_their_bytes(data: bytes, media_type: str | None) -> None:
    assert files.image_type(data) == media_type
