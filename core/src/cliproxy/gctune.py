"""Garbage-collector settings for a serving process.

A request allocates thousands of short-lived objects, and with the default gen-0
threshold (700 allocations) the collector runs every few requests, each time walking the
young objects of every request in flight: measured at 5-7% of a busy worker's CPU. The
objects of a request die by reference counting, not by the collector, so collecting less
often frees the same memory. What start-up built (modules, config, plugins, routes) lives
as long as the process; frozen, full collections no longer walk it.

Open streams are the other load: each holds about 140 collector-tracked objects (the
server's protocol and task, the upstream connection's, the relay's) for as long as it
lasts, so with ten thousand open a full collection walks some 1.4 million objects -- 1.5-2
seconds on a shared core, with every stream stalled behind it -- and finds nothing to free
(measured: 0 objects collected), since a stream's objects too die by reference counting.
CPython starts a full collection once its gen-2 threshold (10) of middle-generation
collections have run and the objects promoted since the last full one exceed a quarter of
the old generation: with
ten thousand streams opening, or ending and being replaced, that came every 15-40 s.
``GEN2_THRESHOLD`` makes full collections that much rarer, by allocation count: they still
run, so reference cycles that outlive the young collections are still freed, only after
more net allocations of tracked objects (``GEN0_THRESHOLD * (GEN1_THRESHOLD + 1) *
(GEN2_THRESHOLD + 1)``, about 12 million, ten times before); a cycle that dies young, as
most do, is freed as soon as before.
``GEN1_THRESHOLD`` halves the typical middle-generation pause (it walks what the young
collections promoted since the last one: about 90 ms with streams opening by the
thousand, 45 ms at 3), for the same total work.
"""

from __future__ import annotations

import gc

__all__ = ["GEN0_THRESHOLD", "GEN1_THRESHOLD", "GEN2_THRESHOLD", "tune_for_serving"]

GEN0_THRESHOLD = 10_000
"""Net allocations of tracked objects between young collections (CPython's default is 700)."""

GEN1_THRESHOLD = 3
"""Young collections between middle-generation collections (CPython's default is 10)."""

GEN2_THRESHOLD = 300
"""Middle-generation collections before a full one may run (CPython's default is 10); it
also waits, as always, for the promoted objects to reach a quarter of the old generation."""


def tune_for_serving() -> None:
    """Collect what start-up left, freeze the survivors, and collect less often: young
    objects every ``GEN0_THRESHOLD`` net allocations, all of them far more rarely.
    Called once per serving process, after the app is built."""
    gc.collect()
    gc.freeze()
    gen0, _, _ = gc.get_threshold()
    gc.set_threshold(max(gen0, GEN0_THRESHOLD), GEN1_THRESHOLD, GEN2_THRESHOLD)
