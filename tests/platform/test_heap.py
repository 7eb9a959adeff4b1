"""The collector settings a started server runs with (``platform/heap.py``).

Each case runs in a fresh interpreter: freezing changes the whole process's collector,
which the test process must keep as Python set it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.processes import REPO_ROOT

_STARTED_APP = """
import asyncio, gc, json, sys
from pathlib import Path
from studyhall.app import create_app
from tests.conftest import base_settings, serving

async def main():
    settings = base_settings(Path(sys.argv[1]), gc_young_threshold=int(sys.argv[2]))
    async with serving(create_app(settings)):
        print(json.dumps({"young": gc.get_threshold()[0], "frozen": gc.get_freeze_count()}))

asyncio.run(main())
"""

_COLLECTS_AFTERWARDS = """
import gc, json, weakref
from studyhall.platform.heap import settle

class Node:
    pass

settle(20_000)
node = Node()
node.self = node
alive = weakref.ref(node)
del node
gc.collect()
print(json.dumps({"cycle_freed": alive() is None}))
"""


def _run(script: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_started_app_freezes_its_startup_heap_and_collects_less_often(tmp_path: Path) -> None:
    settled = _run(_STARTED_APP, str(tmp_path / "on"), "20000")
    assert settled["young"] == 20_000
    assert isinstance(settled["frozen"], int)
    assert settled["frozen"] > 10_000


def test_a_threshold_of_zero_leaves_the_collector_alone(tmp_path: Path) -> None:
    assert _run(_STARTED_APP, str(tmp_path / "off"), "0") == {"young": 700, "frozen": 0}


def test_garbage_made_after_settling_is_still_collected() -> None:
    assert _run(_COLLECTS_AFTERWARDS) == {"cycle_freed": True}
