"""cliproxy.oauth: token files in auth-dir, vendor-file import, expiry times."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cliproxy import GatewayError
from cliproxy.oauth import VendorFile, VendorPath, format_expiry, parse_expiry, save_token_file, token_file_name

VENDOR = VendorFile(
    vendor="Example CLI",
    create="run `example login`",
    paths=(
        VendorPath(".example/creds.json", env="EXAMPLE_HOME"),
        VendorPath(".example/creds.json", platforms=("linux", "darwin")),
        VendorPath("AppData/Example/creds.json", platforms=("win32",)),
    ),
)


def test_token_files_are_private_and_named_safely(tmp_path: Path):
    auth_dir = tmp_path / "auth"
    path = save_token_file(auth_dir, token_file_name("claude", "me@example.com"), {"type": "claude"})
    assert path == auth_dir / "claude-me@example.com.json" and json.loads(path.read_text()) == {"type": "claude"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(auth_dir.stat().st_mode) == 0o700
    assert token_file_name("kiro", "../../etc/passwd") == "kiro-etc_passwd.json"
    assert token_file_name("x", None).startswith("x-") and len(token_file_name("x", "")) == len("x-") + 8 + 5
    with pytest.raises(ValueError):
        save_token_file(auth_dir, "../escape.json", {})


def test_default_locations_per_os(tmp_path: Path):
    home = tmp_path
    linux = VENDOR.candidates(platform="linux", environ={}, home=home)
    assert linux == [home / ".example/creds.json"]
    windows = VENDOR.candidates(platform="win32", environ={"EXAMPLE_HOME": str(tmp_path / "h")}, home=home)
    assert windows == [tmp_path / "h/.example/creds.json", home / "AppData/Example/creds.json"]


def test_reading_the_first_file_that_exists(tmp_path: Path):
    (tmp_path / ".example").mkdir()
    (tmp_path / ".example/creds.json").write_text('{"token": "t"}')
    path, data = VENDOR.read(platform="linux", environ={}, home=tmp_path)
    assert path == tmp_path / ".example/creds.json" and data == {"token": "t"}
    assert VENDOR.read(tmp_path / ".example/creds.json")[1] == {"token": "t"}


def test_what_a_missing_or_broken_file_says(tmp_path: Path):
    with pytest.raises(GatewayError) as nothing:
        VENDOR.read(platform="linux", environ={}, home=tmp_path)
    assert "no Example CLI sign-in found" in nothing.value.message
    assert str(tmp_path / ".example/creds.json") in nothing.value.message
    assert "run `example login`" in nothing.value.message and "--import PATH" in nothing.value.message
    with pytest.raises(GatewayError, match=r"does not exist; run `example login`"):
        VENDOR.read(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(GatewayError, match=r"is not a Example CLI sign-in \(it is not JSON\); run `example login`"):
        VENDOR.read(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(GatewayError, match="not a JSON object"):
        VENDOR.read(tmp_path / "list.json")
    assert "has expired and cannot be renewed; run `example login`" in VENDOR.expired(tmp_path / "x.json").message


def test_expiry_times_in_every_shape():
    moment = datetime(2026, 1, 31, 12, 0, tzinfo=UTC).timestamp()
    assert parse_expiry(moment) == moment
    assert parse_expiry(int(moment * 1000)) == moment  # milliseconds (Claude Code, Gemini CLI)
    assert parse_expiry("2026-01-31T12:00:00Z") == moment
    assert parse_expiry("2026-01-31T12:00:00.000Z") == moment
    assert parse_expiry("2026-01-31T13:00:00+01:00") == moment
    assert parse_expiry("2026-01-31T12:00:00") == moment  # no offset: UTC
    assert parse_expiry(datetime(2026, 1, 31, 12, 0)) == moment
    assert parse_expiry("soon") is None and parse_expiry(True) is None and parse_expiry(None) is None
    assert format_expiry(moment) == "2026-01-31T12:00:00Z"
