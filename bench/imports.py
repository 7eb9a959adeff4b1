"""Bulk import: 10,000 GIFT questions through ``POST /api/v1/banks/{id}/import``."""

from __future__ import annotations

import time

import httpx

QUESTIONS = 10_000
TARGET_SECONDS = 60.0


def gift_file(count: int = QUESTIONS) -> str:
    """A mixed file: single, multiple, true/false, numerical, short answer, in categories."""
    shapes = [
        "::Q{n}:: What is {n} plus one? {{={m} ~{n} ~{k}}}",
        "::Q{n}:: Pick the even numbers near {n}. {{~%50%{e1} ~%50%{e2} ~%-100%{o}}}",
        "::Q{n}:: {n} is greater than {k}. {{T}}",
        "::Q{n}:: Half of {d} is {{#{n}:0.5}}",
        "::Q{n}:: Type the number {n} in digits. {{={n}}}",
    ]
    blocks = []
    for n in range(count):
        if n % 500 == 0:
            blocks.append(f"$CATEGORY: $course$/top/Bulk/Part {n // 500}")
        even = n - n % 2
        blocks.append(
            shapes[n % len(shapes)].format(
                n=n, m=n + 1, k=max(n - 1, 0), e1=even + 2, e2=even + 4, o=even + 1, d=2 * n
            )
        )
    return "\n\n".join(blocks) + "\n"


def import_once(base_url: str, token: str) -> tuple[float, int]:
    """Seconds for one import of the generated file, and the count the server reported."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=300) as client:
        bank = client.post("/api/v1/banks", json={"name": "bulk"}).json()["id"]
        body = gift_file().encode()
        started = time.perf_counter()
        report = client.post(f"/api/v1/banks/{bank}/import?format=gift", content=body).json()
        return time.perf_counter() - started, int(report["imported"])
