"""Every wire package has the same layout (CONTRIBUTING.md, "The layout of a wire package")."""

from __future__ import annotations

from pathlib import Path

import pytest

WIRE = Path(__file__).parents[1] / "src" / "cliproxy" / "wire"
CONTRIBUTING = (Path(__file__).parents[2] / "CONTRIBUTING.md").read_text()
REQUIRED = (
    "__init__.py",
    "common.py",
    "errors.py",
    "request_decode.py",
    "request_encode.py",
    "response.py",
    "stream_decode.py",
    "stream_encode.py",
)
STANDARD = {*REQUIRED, "parts.py"}
PACKAGES = sorted(p for p in WIRE.iterdir() if (p / "__init__.py").exists())


def test_the_four_wire_packages_are_checked():
    assert [p.name for p in PACKAGES] == ["anthropic", "gemini", "openai_chat", "openai_responses"]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_wire_package_follows_the_layout(package):
    modules = {p.name for p in package.glob("*.py")}
    missing = [m for m in REQUIRED if m not in modules]
    assert not missing, f"wire/{package.name} lacks {missing}"
    for extra in sorted(modules - STANDARD):
        assert f"`{package.name}/{extra}`" in CONTRIBUTING, (
            f"wire/{package.name}/{extra} is neither a standard module nor a documented extra; "
            "name it after the layout or describe it in CONTRIBUTING.md"
        )
