"""The pure pieces: the backend's errors, its rate-limit headers and usage answer, the
tokens' claims, the models list, and the refresh endpoint's refusals."""

from __future__ import annotations

import base64
import json

import pytest
from cliproxy import SIGN_IN_AGAIN, ErrorKind
from cliproxy_codex.auth import refresh_endpoint
from cliproxy_codex.claims import account_claims
from cliproxy_codex.errors import decode_error, stream_error
from cliproxy_codex.limits import from_headers, from_usage, window_name
from cliproxy_codex.models import served_slugs
from cliproxy_codex.testing import jwt

NOW = 1_800_000_000.0


def test_a_usage_limit_says_when_it_resets_from_resets_at_or_resets_in_seconds():
    body = {"error": {"type": "usage_limit_reached", "plan_type": "pro", "resets_at": NOW + 7200}}
    error = decode_error(429, {}, json.dumps(body).encode(), NOW)
    assert (error.status, error.code, error.retry_after) == (429, "usage_limit_reached", 7200)
    assert "ChatGPT pro plan's usage limit" in error.message and "in 2.0 h" in error.message
    body = {"error": {"type": "usage_limit_reached", "resets_in_seconds": 90}}
    assert decode_error(429, {}, json.dumps(body).encode(), NOW).retry_after == 90


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (429, {"error": {"type": "usage_not_included", "plan_type": "free"}}, {}, (403, "model_not_supported")),
        (
            503,
            {"error": {"code": "server_is_overloaded", "message": "busy"}},
            {"retry-after": "3"},
            (503, "server_is_overloaded"),
        ),
        (429, {"error": {"message": "Rate limit reached. Please try again in 1.5s."}}, {}, (429, None)),
        (400, {"detail": "Unsupported parameter: max_output_tokens"}, {}, (400, None)),
        (400, {"error": {"code": "cyber_policy", "message": "refused"}}, {}, (400, "cyber_policy")),
        (404, {"detail": "Model not found gpt-x"}, {}, (404, "model_not_found")),
        (401, {"error": {"message": "expired", "code": "token_expired"}}, {}, (401, "token_expired")),
    ],
)
def test_http_errors_map_to_what_the_cooldown_table_understands(status, body, headers, expected):
    error = decode_error(status, headers, json.dumps(body).encode(), NOW)
    assert (error.status, error.code) == expected and error.provider == "codex"
    assert error.message.startswith("Codex: ")


def test_retry_hints_come_from_headers_or_the_message():
    assert decode_error(503, {"retry-after": "3"}, b'{"error": {"code": "slow_down"}}', NOW).retry_after == 3
    body = b'{"error": {"message": "Please try again in 1.5s."}}'
    assert decode_error(429, {}, body, NOW).retry_after == 1.5


def test_the_x_error_json_header_fills_in_a_missing_code():
    header = base64.b64encode(json.dumps({"error": {"code": "server_is_overloaded"}}).encode()).decode()
    error = decode_error(500, {"x-error-json": header}, b"<html>oops</html>", NOW)
    assert error.status == 503 and error.code == "server_is_overloaded" and "<html>" not in error.message


def test_failures_inside_a_stream():
    failed = {"type": "response.failed", "response": {"error": {"code": "server_is_overloaded", "message": "busy"}}}
    assert stream_error(failed, NOW).status == 503
    flat = {"type": "error", "code": "rate_limit_exceeded", "message": "try again in 20ms"}
    error = stream_error(flat, NOW)
    assert (error.status, error.retry_after) == (429, 0.02)
    assert stream_error({"type": "error", "message": "boom"}, NOW).status == 502


def test_rate_limit_headers_become_windows():
    headers = {
        "X-Codex-Primary-Used-Percent": "83",
        "X-Codex-Primary-Window-Minutes": "300",
        "X-Codex-Primary-Reset-At": str(int(NOW) + 600),
        "X-Codex-Secondary-Used-Percent": "40",
        "X-Codex-Secondary-Window-Minutes": "10080",
        "X-Codex-Secondary-Reset-After-Seconds": "3600",
        "X-Codex-Plan-Type": "plus",
        "X-Codex-Credits-Has-Credits": "True",
        "X-Codex-Credits-Balance": "12.5",
        "x-premium-primary-used-percent": "10",
        "x-premium-primary-window-minutes": "1440",
        "x-premium-limit-name": "GPT-5.5 Pro",
        "content-type": "text/event-stream",
    }
    limits = from_headers(headers, NOW)
    assert limits is not None and limits.plan == "plus" and limits.note == "credits: 12.5"
    got = [(w.name, w.used_percent, w.resets_at) for w in limits.windows]
    assert got == [("5h", 83.0, NOW + 600), ("weekly", 40.0, NOW + 3600), ("GPT-5.5 Pro daily", 10.0, None)]
    assert from_headers({"content-type": "application/json"}, NOW) is None


def test_a_plan_without_a_secondary_window_has_none():
    headers = {
        "x-codex-primary-used-percent": "5",
        "x-codex-primary-window-minutes": "10080",
        "x-codex-secondary-used-percent": "0",
        "x-codex-secondary-window-minutes": "0",
    }
    assert [w.name for w in from_headers(headers, NOW).windows] == ["weekly"]


def test_the_usage_answer_becomes_windows():
    payload = {
        "plan_type": "pro",
        "rate_limit": {
            "primary_window": {"used_percent": 6, "limit_window_seconds": 18000, "reset_at": int(NOW) + 60},
            "secondary_window": {"used_percent": 24, "limit_window_seconds": 604800, "reset_after_seconds": 120},
        },
        "credits": {"has_credits": False, "unlimited": True},
    }
    limits = from_usage(payload, NOW)
    assert [(w.name, w.used_percent, w.resets_at) for w in limits.windows] == [
        ("5h", 6.0, NOW + 60),
        ("weekly", 24.0, NOW + 120),
    ]
    assert limits.plan == "pro" and limits.note == "credits: unlimited"
    assert from_usage({"unexpected": True}, NOW) is None


@pytest.mark.parametrize(
    ("minutes", "name"),
    [(300, "5h"), (10080, "weekly"), (1440, "daily"), (43200, "monthly"), (90, "90m"), (None, "primary")],
)
def test_window_names(minutes, name):
    assert window_name(minutes, "primary") == name


def test_the_account_comes_from_the_id_tokens_claims():
    auth = {"chatgpt_account_id": "acct-1", "chatgpt_plan_type": "team"}
    claims = account_claims(jwt({"email": "a@example.com", "https://api.openai.com/auth": auth}), jwt({"exp": 123}))
    assert (claims.account_id, claims.plan_type, claims.email, claims.expires_at) == (
        "acct-1",
        "team",
        "a@example.com",
        123.0,
    )
    fallback = account_claims(jwt({"https://api.openai.com/auth": {"organizations": [{"id": "org-9"}]}}))
    assert fallback.account_id == "org-9"
    assert account_claims("not-a-jwt", "x.y").account_id is None


def test_the_models_list_keeps_what_this_client_version_may_use():
    payload = {
        "models": [
            {"slug": "a", "visibility": "list"},
            {"slug": "b", "visibility": "hide", "minimal_client_version": "0.98.0"},
            {"slug": "c", "visibility": "none"},
            {"slug": "d", "minimal_client_version": [0, 200, 0]},
            {"slug": ""},
            "junk",
        ]
    }
    assert served_slugs(payload, "0.171.0") == ["a", "b"]
    assert served_slugs({"error": "nope"}, "0.171.0") is None


@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [
        (401, {"error": {"code": "refresh_token_reused", "message": "used"}}, True),
        (400, {"error": {"code": "refresh_token_expired"}}, True),
        (400, {"error": "refresh_token_invalidated"}, True),
        (400, {"code": "refresh_token_expired"}, True),
        (401, {"error": {"message": "who are you"}}, True),
        (400, {"error": "invalid_request"}, False),
        (503, {"error": "unavailable"}, False),
    ],
)
def test_refresh_refusals_that_can_never_succeed_say_sign_in_again(status, body, permanent):
    error = refresh_endpoint("https://auth.example/oauth/token").error(status, json.dumps(body).encode())
    assert (error.code == SIGN_IN_AGAIN) is permanent
    if permanent:
        assert error.kind is ErrorKind.AUTHENTICATION and "cliproxy login codex" in error.message
    elif status >= 500:
        assert error.status == 502
