"""Fixtures shared by every test suite in the workspace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cliproxy.testing import FakeUpstream

RECORDINGS = Path(__file__).parent / "recordings"


@pytest.fixture(scope="session")
def recording() -> Callable[[str], Path]:
    """``recording("anthropic/aibridge-anthropic_simple.stream.sse.txt")`` -> its path."""

    def find(name: str) -> Path:
        path = RECORDINGS / name
        if not path.exists():
            raise FileNotFoundError(f"no recording {name!r} under {RECORDINGS}")
        return path

    return find


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    """A fresh fake upstream server on loopback."""
    with FakeUpstream() as server:
        yield server
