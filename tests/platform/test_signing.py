"""Signed links: what a valid link needs, and why a forged or old one is refused."""

from __future__ import annotations

import pytest

from studyhall.platform.signing import BadSignature, LinkExpired, check_link, link_signature

SECRET = "signing-test-secret-" + "x" * 20


def test_a_link_is_good_until_it_expires() -> None:
    sig = link_signature(SECRET, "things/1", 1_000)
    assert check_link(SECRET, "things/1", "1000", sig, now=400) == 600
    with pytest.raises(LinkExpired):
        check_link(SECRET, "things/1", "1000", sig, now=1_000)


@pytest.mark.parametrize(
    ("subject", "expires", "sig"),
    [
        ("things/2", "1000", None),  # another subject
        ("things/1", "1001", None),  # another expiry
        ("things/1", "1000", "0" * 64),
        ("things/1", "1000", ""),
        ("things/1", None, None),
        ("things/1", "-1000", None),
        ("things/1", "1e3", None),
        ("things/1", "0" * 13, None),  # longer than any real expiry
        ("things/1", "\u0661\u0660\u0660\u0660", None),  # Arabic-Indic digits: isdigit()
        ("things/1", "1000", "é"),
    ],
)
def test_forged_links_are_refused(subject: str, expires: str | None, sig: str | None) -> None:
    good = link_signature(SECRET, "things/1", 1_000)
    with pytest.raises(BadSignature):
        check_link(SECRET, subject, expires, good if sig is None else sig, now=0)
    with pytest.raises(BadSignature):
        check_link("another-secret", "things/1", "1000", good, now=0)


def test_an_absurdly_long_expiry_is_refused_not_parsed() -> None:
    """int() of 5,000 digits raises ValueError in Python 3.11: it must be a 403, not a 500."""
    with pytest.raises(BadSignature):
        check_link(SECRET, "things/1", "9" * 5_000, "0" * 64, now=0)
