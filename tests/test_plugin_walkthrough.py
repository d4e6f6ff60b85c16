"""docs/plugins.md's "Write a provider in 50 lines" works as written.

The walkthrough's files are copied out of the page into a directory outside this
repository, and ``pytest`` runs there in a subprocess with this environment's cliproxy, as
a plugin author's would after ``pip install cliproxy[testing]``: every check of the
provider contract must pass, none opted out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "plugins.md"
FILES = {"pyproject.toml", "src/cliproxy_hello/__init__.py", "tests/test_hello.py"}
BLOCK = re.compile(r"<!-- walkthrough: (?P<path>\S+) -->\n```[a-z]*\n(?P<body>.*?)\n```", re.DOTALL)
CONTRACT_TESTS = 14  # config 2, models 1, doors 2, four statuses whole and streamed 8, secrets 1


def walkthrough() -> dict[str, str]:
    files = {m.group("path"): m.group("body") + "\n" for m in BLOCK.finditer(PAGE.read_text())}
    assert set(files) == FILES, f"docs/plugins.md's walkthrough blocks are {sorted(files)}"
    return files


@pytest.fixture
def project(tmp_path: Path) -> Path:
    where = tmp_path / "cliproxy-hello"
    assert not where.resolve().is_relative_to(ROOT), "the walkthrough must run outside the repository"
    for name, text in walkthrough().items():
        path = where / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return where


def test_the_plugin_is_about_fifty_lines() -> None:
    code = walkthrough()["src/cliproxy_hello/__init__.py"].splitlines()
    assert len([line for line in code if line.strip()]) <= 60


def test_the_entry_point_names_the_module(project: Path) -> None:
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["cliproxy"] == {"hello": "cliproxy_hello"}
    module = "cliproxy_hello"
    assert (project / "src" / module / "__init__.py").exists()
    assert meta["project"]["optional-dependencies"]["test"] == ["cliproxy[testing]"]


def test_the_walkthrough_passes_the_provider_contract(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    summary = output.strip().splitlines()[-1]
    assert re.fullmatch(rf"{CONTRACT_TESTS} passed in [\d.]+s", summary), output
    assert "opted out" not in output and "warning" not in output.lower(), output
