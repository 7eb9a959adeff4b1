"""Lecture videos over the API, on both deployments: raw-body upload, signed links, and the
media endpoint serving byte ranges the way a video player asks for them."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from studyhall.config import Settings
from studyhall.content import service
from studyhall.platform.clock import FakeClock
from studyhall.platform.runtime import Platform
from tests.content.helpers import add_lesson, create_course, post_video
from tests.helpers import Person

VIDEO = random.Random(11).randbytes(10_000)


def _media_files(settings: Settings) -> list[Path]:
    root = settings.data_dir / "media"
    return sorted(path for path in root.rglob("*") if path.is_file())


async def _lesson_with_video(
    client: httpx.AsyncClient, teacher: Person, *, published: bool = True, data: bytes = VIDEO
) -> tuple[dict[str, Any], dict[str, Any]]:
    uploaded = await post_video(client, teacher, data)
    assert uploaded.status_code == 201, uploaded.text
    course = await create_course(client, teacher, published=published)
    lesson = await add_lesson(client, teacher, course["id"], videoId=uploaded.json()["id"])
    return lesson, uploaded.json()


async def _signed_url(client: httpx.AsyncClient, reader: Person, lesson: dict[str, Any]) -> str:
    issued = await client.get(f"/api/v1/lessons/{lesson['id']}/video-url", headers=reader.headers)
    assert issued.status_code == 200, issued.text
    url: str = issued.json()["url"]
    return url


async def test_teachers_upload_videos_as_the_raw_body(
    client: httpx.AsyncClient, settings: Settings, teacher: Person, student: Person
) -> None:
    for content_type in ("video/mp4", "video/webm", "Video/WebM; codecs=vp8", "video/ogg"):
        uploaded = await post_video(client, teacher, VIDEO, content_type)
        assert uploaded.status_code == 201, uploaded.text
        body = uploaded.json()
        assert body["size"] == len(VIDEO)
        assert body["contentType"] == content_type.split(";")[0].lower()
        uuid.UUID(body["id"])
    stored = _media_files(settings)
    assert len(stored) == 4
    assert all(path.read_bytes() == VIDEO for path in stored)

    refused = await post_video(client, student, VIDEO)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    anonymous = await client.post(
        "/api/v1/videos", content=VIDEO, headers={"content-type": "video/mp4"}
    )
    assert anonymous.status_code == 401
    for content_type in ("text/plain", "video/x-msvideo", "application/octet-stream", ""):
        wrong = await post_video(client, teacher, VIDEO, content_type)
        assert wrong.status_code == 415, content_type
        assert wrong.json()["code"] == "unsupported_media_type"
        assert wrong.headers["content-type"].startswith("application/problem+json")
    empty = await post_video(client, teacher, b"")
    assert empty.status_code == 422
    assert empty.json()["code"] == "empty_upload"
    assert len(_media_files(settings)) == 4, "refused uploads leave no file"


async def _trickle(data: bytes, size: int) -> AsyncIterator[bytes]:
    """A body sent in chunks without a Content-Length, as a streaming client sends it."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_the_service_limit_decides_how_large_a_video_may_be(
    client: httpx.AsyncClient,
    settings: Settings,
    teacher: Person,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "VIDEO_MAX_BYTES", 4000)
    announced = await post_video(client, teacher, VIDEO)
    assert announced.status_code == 413
    assert announced.json()["code"] == "body_too_large"
    streamed = await client.post(
        "/api/v1/videos",
        content=_trickle(VIDEO, 1000),
        headers={**teacher.headers, "content-type": "video/mp4"},
    )
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "body_too_large"
    assert _media_files(settings) == [], "no partial file is left behind"
    exact = await post_video(client, teacher, VIDEO[:4000])
    assert exact.status_code == 201

    # Larger than the app-wide body limit for JSON requests, within the video limit.
    big = random.Random(5).randbytes(settings.max_body_bytes + 1)
    monkeypatch.setattr(service, "VIDEO_MAX_BYTES", len(big))
    accepted = await client.post(
        "/api/v1/videos",
        content=_trickle(big, 64 * 1024),
        headers={**teacher.headers, "content-type": "video/webm"},
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["size"] == len(big)


async def test_video_links_go_only_to_readers_of_the_lesson(
    client: httpx.AsyncClient, clock: FakeClock, teacher: Person, student: Person
) -> None:
    lesson, video = await _lesson_with_video(client, teacher)
    issued = await client.get(f"/api/v1/lessons/{lesson['id']}/video-url", headers=student.headers)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    url = urlsplit(body["url"])
    assert url.path == f"/media/videos/{video['id']}"
    expires = int(parse_qs(url.query)["expires"][0])
    assert expires == int(clock.timestamp()) + service.VIDEO_URL_TTL_SECONDS
    assert body["expiresAt"].startswith(clock.now().date().isoformat()[:4])

    draft, _ = await _lesson_with_video(client, teacher, published=False)
    hidden = await client.get(f"/api/v1/lessons/{draft['id']}/video-url", headers=student.headers)
    assert hidden.status_code == 404
    assert (await _signed_url(client, teacher, draft)).startswith("/media/videos/")
    course = await create_course(client, teacher, published=True)
    no_video = await add_lesson(client, teacher, course["id"])
    missing = await client.get(
        f"/api/v1/lessons/{no_video['id']}/video-url", headers=student.headers
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert (await client.get(f"/api/v1/lessons/{lesson['id']}/video-url")).status_code == 401


async def test_ranges_reassemble_the_uploaded_bytes(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    lesson, _ = await _lesson_with_video(client, teacher)
    url = await _signed_url(client, student, lesson)
    size = len(VIDEO)
    pieces: dict[str, tuple[int, int]] = {
        "bytes=0-99": (0, 99),
        "bytes=100-4999": (100, 4999),
        "bytes=5000-5000": (5000, 5000),
        "bytes=5001-": (5001, size - 1),
    }
    received = b""
    etags = set()
    for header, (start, end) in pieces.items():
        response = await client.get(url, headers={"Range": header})
        assert response.status_code == 206, header
        assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert response.headers["content-length"] == str(end - start + 1)
        assert response.headers["accept-ranges"] == "bytes"
        assert response.headers["content-type"] == "video/mp4"
        assert response.headers["cache-control"].startswith("private, max-age=")
        etags.add(response.headers["etag"])
        received += response.content
    assert received == VIDEO
    assert len(etags) == 1

    tail = await client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206
    assert tail.headers["content-range"] == f"bytes {size - 50}-{size - 1}/{size}"
    assert tail.content == VIDEO[-50:]
    clipped = await client.get(url, headers={"Range": f"bytes=9990-{size * 2}"})
    assert clipped.content == VIDEO[9990:]
    whole = await client.get(url)
    assert whole.status_code == 200
    assert whole.content == VIDEO
    assert whole.headers["content-length"] == str(size)
    assert whole.headers["accept-ranges"] == "bytes"
    assert "content-range" not in whole.headers
    for ignored in ("bytes=0-1,5-9", "lines=1-2"):
        all_of_it = await client.get(url, headers={"Range": ignored})
        assert all_of_it.status_code == 200, ignored
        assert all_of_it.content == VIDEO


async def test_conditional_requests(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    lesson, _ = await _lesson_with_video(client, teacher)
    url = await _signed_url(client, student, lesson)
    etag = (await client.get(url, headers={"Range": "bytes=0-0"})).headers["etag"]

    for matching in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached = await client.get(url, headers={"If-None-Match": matching, "Range": "bytes=0-9"})
        assert cached.status_code == 304, matching
        assert cached.content == b""
        assert cached.headers["etag"] == etag
    changed = await client.get(url, headers={"If-None-Match": '"stale"'})
    assert changed.status_code == 200
    assert changed.content == VIDEO

    stale = await client.get(url, headers={"Range": "bytes=10-19", "If-Range": '"stale"'})
    assert stale.status_code == 200, "a stale If-Range gets the whole video"
    assert stale.content == VIDEO
    current = await client.get(url, headers={"Range": "bytes=10-19", "If-Range": etag})
    assert current.status_code == 206
    assert current.content == VIDEO[10:20]


@pytest.mark.parametrize(
    "header",
    [
        "bytes=10000-",
        "bytes=99999-100000",
        "bytes=5-2",
        "bytes=-0",
        "bytes=-",
        "garbage",
        "bytes=x",
    ],
)
async def test_unsatisfiable_ranges_are_416(
    client: httpx.AsyncClient, teacher: Person, student: Person, header: str
) -> None:
    lesson, _ = await _lesson_with_video(client, teacher)
    url = await _signed_url(client, student, lesson)
    refused = await client.get(url, headers={"Range": header})
    assert refused.status_code == 416
    assert refused.headers["content-range"] == f"bytes */{len(VIDEO)}"
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "range_not_satisfiable"


async def test_forged_and_expired_links_are_refused(
    client: httpx.AsyncClient, clock: FakeClock, teacher: Person, student: Person
) -> None:
    lesson, video = await _lesson_with_video(client, teacher)
    other_lesson, _ = await _lesson_with_video(client, teacher, data=b"another video")
    url = urlsplit(await _signed_url(client, student, lesson))
    query = parse_qs(url.query)
    expires, sig = query["expires"][0], query["sig"][0]
    other = urlsplit(await _signed_url(client, student, other_lesson))
    path = url.path

    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    for bad in (
        f"{path}?expires={expires}&sig={flipped}",
        f"{path}?expires={int(expires) + 3600}&sig={sig}",
        f"{path}?expires={expires}",
        f"{path}?sig={sig}",
        path,
        f"{path}?expires=&sig=",
        f"{path}?expires=soon&sig={sig}",
        f"{path}?expires=-{expires}&sig={sig}",
        f"{path}?expires={'9' * 5000}&sig={sig}",
        f"{path}?expires={expires}&sig=%C3%A9",
        f"{path}?{other.query}",
        f"{other.path}?{url.query}",
        f"/media/videos/{uuid.uuid4()}?{url.query}",
    ):
        refused = await client.get(bad)
        assert refused.status_code == 403, bad[:200]
        assert refused.json()["code"] == "bad_signature", bad[:200]
    good = f"{path}?{url.query}"
    assert (await client.get(good)).status_code == 200

    clock.advance(service.VIDEO_URL_TTL_SECONDS - 1)
    last_second = await client.get(good, headers={"Range": "bytes=0-0"})
    assert last_second.status_code == 206
    assert last_second.headers["cache-control"] == "private, max-age=1", (
        "a cache may keep it only while the link is good"
    )
    clock.advance(1)
    expired = await client.get(good)
    assert expired.status_code == 403
    assert expired.json()["code"] == "link_expired"
    assert video["id"] in path


async def test_head_answers_like_get_without_a_body(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    lesson, _ = await _lesson_with_video(client, teacher)
    url = await _signed_url(client, student, lesson)
    whole = await client.head(url)
    assert whole.status_code == 200
    assert whole.content == b""
    assert whole.headers["content-length"] == str(len(VIDEO))
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4"
    part = await client.head(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(VIDEO)}"
    assert part.headers["content-length"] == "100"
    assert part.headers["etag"] == whole.headers["etag"]
    cached = await client.head(url, headers={"If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304
    assert (await client.head(url, headers={"Range": "bytes=-0"})).status_code == 416
    assert (await client.head(url.replace("sig=", "sig=0"))).status_code == 403


async def test_media_responses_set_no_cookie(
    client: httpx.AsyncClient, teacher: Person, student: Person
) -> None:
    """The signed URL is the credential; a cookie would make every response uncacheable."""
    lesson, _ = await _lesson_with_video(client, teacher)
    url = await _signed_url(client, student, lesson)
    client.cookies.clear()
    for response in (
        await client.get(url),
        await client.get(url, headers={"Range": "bytes=0-9"}),
        await client.head(url),
        await client.get(url, headers={"Range": "bytes=-0"}),
        await client.get(url.replace("sig=", "sig=0")),
    ):
        assert "set-cookie" not in response.headers, response.status_code
    assert not client.cookies


async def test_a_missing_video_file_is_404_not_500(
    client: httpx.AsyncClient, platform: Platform, settings: Settings, teacher: Person
) -> None:
    lesson, _ = await _lesson_with_video(client, teacher)
    url = await _signed_url(client, teacher, lesson)
    for path in _media_files(settings):
        path.unlink()
    gone = await client.get(url)
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"
