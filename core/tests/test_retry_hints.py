"""Retry hints the cooldown table honours: Retry-After, retry-after-ms, Gemini RetryInfo."""

from __future__ import annotations

import json

import pytest
from cliproxy.wire.common import retry_after_seconds, retry_info_seconds
from cliproxy.wire.openai_chat import decode_error


def test_retry_info_from_the_recorded_gemini_429(recording):
    body = json.loads(recording("gemini/vercel-google-429-retry-info.json").read_text())
    assert retry_info_seconds(body["error"]) == pytest.approx(34.4)


@pytest.mark.parametrize(
    "delay, seconds",
    [("34.4s", 34.4), ("0s", 0.0), ({"seconds": 3, "nanos": 500_000_000}, 3.5), ("soon", None), (12, None)],
)
def test_retry_info_delay_forms(delay, seconds):
    error = {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]}
    assert retry_info_seconds(error) == (None if seconds is None else pytest.approx(seconds))


def test_no_retry_info_without_the_detail():
    assert retry_info_seconds({"details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure"}]}) is None
    assert retry_info_seconds({"message": "x"}) is None
    assert retry_info_seconds("not a mapping") is None


def test_retry_after_ms_wins_over_retry_after():
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"retry-after": "9"}) == 9.0


def test_openai_wire_reads_gemini_errors_wrapped_in_a_list(recording):
    body = json.loads(recording("gemini/vercel-google-429-retry-info.json").read_text())
    error = decode_error(429, {}, json.dumps([body]).encode())
    assert error.status == 429 and error.retry_after == pytest.approx(34.4)
    assert error.message == "You exceeded your current quota, please check your plan."


def test_a_retry_after_header_beats_the_body_hint(recording):
    body = json.loads(recording("gemini/vercel-google-429-retry-info.json").read_text())
    assert decode_error(429, {"retry-after": "7"}, json.dumps(body).encode()).retry_after == 7.0
