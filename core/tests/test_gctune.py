"""The serving process's collector settings."""

from __future__ import annotations

import gc

from cliproxy.gctune import GEN0_THRESHOLD, tune_for_serving


def test_serving_collects_young_objects_less_often_and_freezes_start_up():
    before = gc.get_threshold()
    try:
        tune_for_serving()
        assert gc.get_threshold() == (max(before[0], GEN0_THRESHOLD), before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
