"""Log lines written in batches, and asctime from a per-second cache."""

from __future__ import annotations

import io
import logging
import os
import time
from pathlib import Path

import pytest
from cliproxy.log_output import BatchingStreamHandler, LineFormatter
from hypothesis import given
from hypothesis import strategies as st


class CountingStream(io.StringIO):
    """A text stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def logger():
    log = logging.getLogger(f"test.log_output.{time.monotonic_ns()}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in log.handlers[:]:
        log.removeHandler(handler)
        handler.close()


def attach(logger: logging.Logger, **options) -> tuple[BatchingStreamHandler, CountingStream]:
    stream = CountingStream()
    handler = BatchingStreamHandler(stream, **options)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    return handler, stream


def test_info_lines_are_held_and_written_together(logger):
    handler, stream = attach(logger, interval=60)
    for n in range(3):
        logger.info("line %d", n)
    assert stream.getvalue() == "" and stream.writes == 0
    handler.flush()
    assert stream.getvalue() == "INFO line 0\nINFO line 1\nINFO line 2\n"
    assert stream.writes == 1


def test_a_warning_is_written_at_once_after_what_was_held(logger):
    _, stream = attach(logger, interval=60)
    logger.info("before")
    logger.warning("trouble")
    assert stream.getvalue() == "INFO before\nWARNING trouble\n"


def test_lines_past_max_bytes_are_written_without_waiting(logger):
    _, stream = attach(logger, interval=60, max_bytes=40)
    logger.info("x" * 20)
    assert stream.getvalue() == ""
    logger.info("y" * 20)
    assert stream.getvalue() == f"INFO {'x' * 20}\nINFO {'y' * 20}\n"


def test_interval_zero_writes_each_line_as_it_comes(logger):
    _, stream = attach(logger, interval=0)
    logger.info("one")
    assert stream.getvalue() == "INFO one\n"


def test_held_lines_are_written_within_the_interval_without_another_line(logger):
    _, stream = attach(logger, interval=0.05)
    logger.info("alone")
    deadline = time.monotonic() + 10
    while "alone" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == "INFO alone\n"


def test_a_closed_handler_has_written_everything_and_still_works(logger):
    handler, stream = attach(logger, interval=60)
    logger.info("held")
    handler.close()  # (as logging.config.dictConfig does to the handlers it finds)
    assert stream.getvalue() == "INFO held\n"
    logger.info("after")
    handler.flush()
    assert stream.getvalue() == "INFO held\nINFO after\n"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_line_held_at_a_fork_is_written_once(logger, tmp_path: Path):
    path = tmp_path / "log.txt"
    with path.open("w") as stream:
        handler = BatchingStreamHandler(stream, interval=60)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.info("before the fork")
        pid = os.fork()
        if pid == 0:  # the child: write what it holds, then leave at once
            handler.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        logger.info("after the fork")
        handler.flush()
    assert path.read_text() == "before the fork\nafter the fork\n"


@given(st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False))
def test_asctime_is_what_logging_formatter_writes(created):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0
    fmt = "%(asctime)s %(message)s"
    cached = LineFormatter(fmt)
    assert cached.format(record) == logging.Formatter(fmt).format(record)
    assert cached.format(record) == logging.Formatter(fmt).format(record)  # from the cache
