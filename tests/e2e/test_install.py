"""Installing the CLIs: without Node.js or the npm registry the suite fails, saying what to
install -- it never skips."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .install import HERE, STAMP, InstallError, install_clis


@pytest.fixture
def lock_copy(tmp_path: Path) -> Path:
    """The suite's package.json and lock file, without node_modules."""
    for name in ("package.json", "package-lock.json"):
        shutil.copy(HERE / name, tmp_path / name)
    return tmp_path


def test_without_node_the_suite_says_what_to_install(lock_copy: Path, tmp_path: Path):
    nothing = tmp_path / "empty-bin"
    nothing.mkdir()
    with pytest.raises(InstallError, match=r"needs Node\.js 20\+ with npm, but node and npm are not on PATH"):
        install_clis(lock_copy, env={**os.environ, "PATH": str(nothing)})


def test_without_the_registry_the_install_fails_loudly(lock_copy: Path, tmp_path: Path):
    closed = {
        "npm_config_registry": "http://127.0.0.1:9/",  # nothing listens on the discard port
        "npm_config_cache": str(tmp_path / "empty-cache"),  # no copy to fall back on
        "npm_config_fetch_retries": "0",
        "npm_config_offline": "false",
    }
    with pytest.raises(InstallError, match=r"npm ci .* failed .*needs the npm registry") as raised:
        install_clis(lock_copy, env={**os.environ, **closed})
    assert "ECONNREFUSED" in str(raised.value) or "127.0.0.1:9" in str(raised.value)
    assert not (lock_copy / "node_modules" / STAMP).exists()
