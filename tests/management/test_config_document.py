"""The config file as an editable document: read and written back byte for byte, edits
touching only their lines, written in one step with the file's mode."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
from cliproxy.config import ConfigError
from cliproxy.management_api.config_document import ConfigDocument, write_atomically

EXAMPLE = Path(__file__).parents[2] / "examples" / "config.yaml"

STYLES = [
    "api-keys:\n- a   # c\necho:\n- models: [x]\n  delay-ms: 3\n",
    "api-keys:\n  - a   # c\necho:\n  - models: [x]\n    delay-ms: 3\n",
    "# top\nport: 1\nrouting: {strategy: fill-first}\nx:\n    y: 1\n",
    'k: "quoted"\nl:\n    - a\n    - b: 1\n      c: 2\n',
]


@pytest.mark.parametrize("text", [EXAMPLE.read_text(), *STYLES])
def test_a_file_reads_back_as_it_was_written(text):
    assert ConfigDocument.parse(text, "config.yaml").dump() == text


def test_an_edit_touches_only_its_own_lines():
    text = EXAMPLE.read_text()
    document = ConfigDocument.parse(text, "config.yaml")
    document.data["request-retry"] = 5
    changed = [(a, b) for a, b in zip(text.splitlines(), document.dump().splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1].startswith("request-retry: 5")


def test_bad_yaml_is_a_located_error():
    with pytest.raises(ConfigError) as caught:
        ConfigDocument.parse("a: 1\nb: [\n", "config.yaml")
    assert caught.value.line == 3 and "invalid YAML" in caught.value.message
    with pytest.raises(ConfigError, match="must be a mapping"):
        ConfigDocument.parse("- a\n", "config.yaml")


def test_writing_keeps_the_mode_and_follows_a_symlink(tmp_path):
    target = tmp_path / "real.yaml"
    target.write_text("port: 1\n")
    os.chmod(target, 0o640)
    link = tmp_path / "config.yaml"
    link.symlink_to(target)
    write_atomically(link, "port: 2\n")
    assert link.is_symlink() and target.read_text() == "port: 2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_a_file_that_cannot_be_renamed_over_is_rewritten_in_place(tmp_path, monkeypatch, caplog):
    path = tmp_path / "config.yaml"
    path.write_text("port: 1\n# a long tail that the new text is shorter than\n")
    inode = path.stat().st_ino

    def busy(src, dst):  # a single file bind-mounted into a container
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(os, "replace", busy)
    write_atomically(path, "port: 2\n")
    assert path.read_text() == "port: 2\n" and path.stat().st_ino == inode
    assert "rewriting it in place" in caplog.text
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]
