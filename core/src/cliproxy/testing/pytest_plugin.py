"""cliproxy's pytest plugin, loaded through the ``pytest11`` entry point when cliproxy is
installed (disable it with ``-p no:cliproxy``).

* the ``fake_upstream`` fixture: a started :class:`~cliproxy.testing.FakeUpstream`;
* contract opt-outs: the tests of a check a contract class opts out of (``opt_out``) are
  left out of the run, and every opt-out is listed with its reason in the summary.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cliproxy.testing.checks import Contract, check_of
from cliproxy.testing.upstream import FakeUpstream

__all__ = ["fake_upstream"]

_OPTED_OUT = pytest.StashKey[dict[str, str]]()


@pytest.fixture
def fake_upstream() -> Iterator[FakeUpstream]:
    """A fake upstream on loopback, started for the test and stopped after it."""
    with FakeUpstream() as server:
        yield server


@pytest.hookimpl(trylast=True)  # after -k and -m have chosen: report only what would have run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    notes = config.stash.setdefault(_OPTED_OUT, {})
    for item in items:
        cls = getattr(item, "cls", None)
        if not (isinstance(cls, type) and issubclass(cls, Contract)):
            kept.append(item)
            continue
        for name in cls.opt_out if not cls.opt_out_problems() else ():
            notes[f"{item.nodeid.split('::')[0]}::{cls.__name__}: {name}"] = cls.opt_out[name].strip()
        if cls.opted_out(check_of(getattr(item, "function", None))) is not None:
            left_out.append(item)
        else:
            kept.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    notes = config.stash.get(_OPTED_OUT, {})
    if not notes:
        return
    terminalreporter.section("cliproxy contract checks opted out")
    for where, reason in sorted(notes.items()):
        terminalreporter.line(f"{where} -- {reason}")
