"""The serving process's collector settings."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

from cliproxy.gctune import GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD, tune_for_serving


def test_serving_collects_less_often_and_freezes_start_up():
    before = gc.get_threshold()
    try:
        tune_for_serving()
        assert gc.get_threshold() == (max(before[0], GEN0_THRESHOLD), GEN1_THRESHOLD, GEN2_THRESHOLD)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_each_worker_of_serve_workers_tunes_its_own_collector(tmp_path: Path):
    """``serve --workers N`` builds the app in each worker process (``cliproxy.worker.app``);
    the settings are per process, so that factory must apply them, not only the parent."""
    config = tmp_path / "config.yaml"
    config.write_text('api-keys: ["sk-test"]\n')
    probe = (
        "import gc, json; from cliproxy.worker import app; app(); "
        "print(json.dumps([gc.get_threshold(), gc.get_freeze_count()]))"
    )
    env = {**os.environ, "CLIPROXY_CONFIG": str(config), "CLIPROXY_LOG_LEVEL": "warning"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    threshold, frozen = json.loads(done.stdout.strip().splitlines()[-1])
    assert threshold == [GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD]
    assert frozen > 0
