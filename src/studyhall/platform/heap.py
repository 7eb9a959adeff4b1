"""The garbage collector, tuned for a long-running server process.

A full collection walks every tracked container, and after startup most of them never
become garbage: modules, routes, mapped classes, compiled SQL. A burst of submits
decodes and builds thousands of small dicts per batch, which keeps triggering those
walks; measured, they cost the submit burst about a third of its CPU (see
``docs/benchmarks.md``). Freezing what startup left alive takes it out of every later
walk, and a larger youngest generation makes collections rarer during a burst.
"""

from __future__ import annotations

import gc


def settle(young_threshold: int) -> None:
    """Call once, when the process has started; 0 leaves the collector as Python set it.

    What is alive now is kept out of later collections (it is still freed when its
    last reference goes), and the youngest generation collects every
    ``young_threshold`` allocations instead of every 700."""
    if young_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
