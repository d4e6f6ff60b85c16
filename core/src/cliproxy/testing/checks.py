"""What the contract classes share: their checks, and the explicit way to opt out of one.

Each contract test belongs to a named check. A contract subclass opts out of a check only
by naming it in ``opt_out`` with a reason; the pytest plugin (:mod:`cliproxy.testing.
pytest_plugin`) then leaves the check's tests out and lists every opt-out, reason
included, at the end of the run. Without the plugin, the same tests skip with the reason.
A name that is no check, or an empty reason, fails every test of the class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import pytest

__all__ = ["Contract", "check", "check_of"]

_CHECK = "__cliproxy_check__"

F = TypeVar("F", bound=Callable[..., Any])


def check(name: str) -> Callable[[F], F]:
    """Tag a contract test as part of the check ``name``."""

    def tag(test: F) -> F:
        setattr(test, _CHECK, name)
        return test

    return tag


def check_of(function: object) -> str | None:
    """The check a test function belongs to (None for tests outside a contract)."""
    name = getattr(function, _CHECK, None)
    return name if isinstance(name, str) else None


class Contract:
    """Base of the contract classes: ``checks`` names what they prove, ``opt_out`` is the
    subclass's list of checks that do not apply to it, each with the reason."""

    checks: ClassVar[Mapping[str, str]] = {}
    opt_out: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def opt_out_problems(cls) -> list[str]:
        """What is wrong with ``opt_out`` (unknown names, missing reasons)."""
        opt_out = cls.opt_out
        if not isinstance(opt_out, Mapping):
            return [f"{cls.__name__}.opt_out must map check names to reasons, not {type(opt_out).__name__}"]
        problems = []
        for name, reason in opt_out.items():
            if name not in cls.checks:
                known = ", ".join(sorted(cls.checks))
                problems.append(f"{cls.__name__}.opt_out names {name!r}, which is no check (the checks: {known})")
            elif not isinstance(reason, str) or not reason.strip():
                problems.append(f"{cls.__name__}.opt_out[{name!r}] needs a reason: say why the check does not apply")
        return problems

    @classmethod
    def opted_out(cls, name: str | None) -> str | None:
        """The reason ``name`` is opted out, or None when it runs."""
        if name is None or cls.opt_out_problems():
            return None
        reason = cls.opt_out.get(name)
        return reason.strip() if isinstance(reason, str) else None

    @pytest.fixture(autouse=True)
    def _cliproxy_contract_opt_outs(self, request: pytest.FixtureRequest) -> None:
        problems = self.opt_out_problems()
        if problems:
            pytest.fail("; ".join(problems), pytrace=False)
        reason = self.opted_out(check_of(getattr(request, "function", None)))
        if reason is not None:  # only reached when the pytest plugin is disabled
            pytest.skip(f"opted out: {reason}")
