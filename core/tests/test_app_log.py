"""``logging.file``: the gateway's log also goes to a rotated file, each line with its
request id; the config says where, relative to the config file."""

from __future__ import annotations

import logging

from cliproxy.app_log import add_log_file, tail
from cliproxy.config import load_config
from cliproxy.exchange import Exchange, current


def test_the_log_file_gets_every_line_with_its_request_id_and_rotates(tmp_path):
    config_file = tmp_path / "config.yaml"
    config_file.write_text("logging:\n  file: logs/cliproxy.log\n  max-size-mb: 0.001\n  backups: 2\n")
    config = load_config(config_file).logging
    assert config.file == str(tmp_path / "logs" / "cliproxy.log")
    handler = add_log_file(config)
    assert handler is not None
    log = logging.getLogger("cliproxy.test-app-log")
    log.setLevel(logging.INFO)
    token = current.set(Exchange(None, "openai-chat", "req-42"))  # type: ignore[arg-type]
    try:
        log.info("served one")
    finally:
        current.reset(token)
    for n in range(100):
        log.info("filler line %d to make the file rotate", n)
    logging.getLogger().removeHandler(handler)
    handler.close()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["cliproxy.log", "cliproxy.log.1", "cliproxy.log.2"]  # bounded: two old files kept
    assert all(p.stat().st_size <= 1100 for p in (tmp_path / "logs").iterdir())
    last = tail(config.file, lines=1)["lines"]
    assert last[0].endswith("filler line 99 to make the file rotate")
    assert "[-]" in last[0]


def test_the_request_id_is_on_the_line(tmp_path):
    config_file = tmp_path / "config.yaml"
    config_file.write_text("logging: {file: app.log}\n")
    handler = add_log_file(load_config(config_file).logging)
    assert handler is not None
    token = current.set(Exchange(None, "openai-chat", "req-42"))  # type: ignore[arg-type]
    try:
        logging.getLogger("cliproxy.test-app-log").warning("served one")
    finally:
        current.reset(token)
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert "[req-42] served one" in (tmp_path / "app.log").read_text()


def test_no_file_configured_means_no_handler():
    assert add_log_file(load_config({}).logging) is None
