"""Signed links: a URL that carries its own credential, an HMAC of what it names and of
when it stops working, so a media request needs no cookie or token and a cache can key
on the URL alone.

``subject`` names the thing and its kind; different kinds use different subjects
(``question-files/<id>``), so a link to one kind can never open another. A video link
signs the bare video id.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from studyhall.platform.errors import Forbidden

_EXPIRES = re.compile(r"[0-9]{1,12}")


class BadSignature(Forbidden):
    code = "bad_signature"
    title = "The media link is not valid"


class LinkExpired(Forbidden):
    code = "link_expired"
    title = "The media link has expired"


def link_signature(secret: str, subject: str, expires: int) -> str:
    message = f"{subject}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check_link(secret: str, subject: str, expires: str | None, sig: str | None, now: float) -> int:
    """The seconds the link has left at ``now`` (the server's clock); 403 when it is
    forged, malformed or expired."""
    if not expires or not sig or not _EXPIRES.fullmatch(expires):
        raise BadSignature()
    expected = link_signature(secret, subject, int(expires))
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise BadSignature()
    remaining = int(expires) - int(now)
    if remaining <= 0:
        raise LinkExpired()
    return remaining
