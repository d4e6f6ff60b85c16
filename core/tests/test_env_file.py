"""``env-file:``: NAME=value lines beside the config, read before ``${NAME}`` expands."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from cliproxy.config import ConfigError, load_config


@pytest.fixture(autouse=True)
def own_environment(monkeypatch):
    """Each test gets a copy of the environment: what an env file sets stays here."""
    monkeypatch.setattr(os, "environ", dict(os.environ))


def write(tmp_path: Path, env: str, config: str) -> Path:
    (tmp_path / "cliproxy.env").write_text(env)
    (tmp_path / "cliproxy.env").chmod(0o600)
    path = tmp_path / "config.yaml"
    path.write_text(config)
    return path


def test_values_expand_and_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setitem(os.environ, "CLIPROXY_HOST", "127.0.0.2")
    path = write(
        tmp_path,
        "# typed into cliproxy init\n\nexport CLIPROXY_KEY='sk-from-file'\nCLIPROXY_HOST=10.0.0.1\n",
        'env-file: cliproxy.env\nhost: "${CLIPROXY_HOST}"\napi-keys: ["${CLIPROXY_KEY}"]\n',
    )
    config = load_config(path)
    assert config.api_keys == ("sk-from-file",)  # read from the file, relative to the config
    assert config.host == "127.0.0.2"  # what the environment already had wins


def test_a_missing_file_is_a_located_error(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("port: 8317\nenv-file: nowhere.env\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert error.line == 2 and "nowhere.env does not exist" in error.message and "NAME=value" in (error.hint or "")


def test_a_line_that_is_not_an_assignment_names_its_number(tmp_path):
    path = write(tmp_path, "A=1\nthis is not one\n", "env-file: cliproxy.env\n")
    with pytest.raises(ConfigError, match=r"line 2: not a NAME=value line"):
        load_config(path)


def test_a_file_others_can_read_loads_with_a_warning(tmp_path, caplog):
    path = write(tmp_path, "CLIPROXY_OPEN=1\n", "env-file: cliproxy.env\n")
    (tmp_path / "cliproxy.env").chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="cliproxy.config"):
        load_config(path)
    assert os.environ["CLIPROXY_OPEN"] == "1"
    assert "can be read by other users" in caplog.text and "chmod 600" in caplog.text
