"""cliproxy.oauth.TokenEndpoint and token_error: requests as the endpoint expects them,
refusals turned into errors that say what to do, and never a secret in a message."""

from __future__ import annotations

from urllib.parse import parse_qs

import aiohttp
import orjson
import pytest
from cliproxy import GatewayError
from cliproxy.errors import ErrorKind
from cliproxy.oauth import TokenEndpoint, token_error
from cliproxy.testing import FakeUpstream, Reply


def endpoint(url: str, **options) -> TokenEndpoint:
    return TokenEndpoint(
        url=url,
        name="the Test token endpoint",
        provider="test",
        login_command="cliproxy login test",
        client_setting="test-oauth.client-id",
        **options,
    )


def err(status: int, body: object, **options) -> GatewayError:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return token_error(
        status,
        raw,
        endpoint="the Test token endpoint",
        provider="test",
        login_command="cliproxy login test",
        client_setting="test-oauth.client-id",
        **options,
    )


def test_invalid_grant_says_to_log_in_again():
    error = err(400, {"error": "invalid_grant", "error_description": "Refresh token expired"})
    assert error.status == 401 and error.kind is ErrorKind.AUTHENTICATION and error.code == "invalid_grant"
    assert error.message == (
        "the Test token endpoint answered 400 (invalid_grant: Refresh token expired); "
        "the sign-in expired or was revoked: log in again with `cliproxy login test`"
    )


def test_invalid_client_points_at_the_client_id():
    error = err(401, {"error": "invalid_client"})
    assert error.code == "invalid_client"
    assert "client id is wrong or no longer accepted" in error.message and "test-oauth.client-id" in error.message


def test_anthropic_and_aws_error_shapes_are_read():
    nested = err(
        400, {"type": "error", "error": {"type": "invalid_request_error", "message": "Invalid request format"}}
    )
    assert "(invalid_request_error: Invalid request format)" in nested.message
    aws = err(403, {"message": "The security token included in the request is expired"})
    assert "(The security token included in the request is expired)" in aws.message and "log in again" in aws.message


def test_service_trouble_is_an_upstream_error_worth_retrying():
    for status in (429, 500, 503):
        error = err(status, b"<html>busy</html>")
        assert error.status == 502 and error.kind is ErrorKind.UPSTREAM and "try again shortly" in error.message
        assert "<html>" not in error.message and "not JSON" in error.message


def test_a_server_echoing_a_secret_does_not_get_it_into_the_message():
    error = err(
        400,
        {"error": "invalid_grant", "error_description": "token rt-SECRET-123 is unknown"},
        secrets=["rt-SECRET-123"],
    )
    assert "rt-SECRET-123" not in error.message and "[redacted]" in error.message


async def test_post_form_and_json_and_what_comes_back():
    with FakeUpstream() as upstream:
        upstream.add("POST", "/form", Reply.json({"access_token": "at", "expires_in": 60}))
        upstream.add("POST", "/json", Reply.json({"accessToken": "at2"}))
        upstream.add(
            "POST", "/refuse", Reply.json({"error": "invalid_grant", "error_description": "rt-1 revoked"}, 400)
        )
        upstream.add("POST", "/empty", Reply.json({"token_type": "Bearer"}))
        upstream.add("POST", "/github", Reply.json({"error": "bad_verification_code"}))  # 200 with an error
        upstream.add("POST", "/html", Reply(status=200, body=b"<html>", content_type="text/html"))
        async with aiohttp.ClientSession() as http:
            form = await endpoint(upstream.url + "/form").post(
                http, {"grant_type": "refresh_token", "refresh_token": "rt-1"}
            )
            json = await endpoint(upstream.url + "/json", encoding="json").post(
                http, {"refreshToken": "rt-1"}, require="accessToken"
            )
            with pytest.raises(GatewayError) as refused:
                await endpoint(upstream.url + "/refuse").post(http, {"refresh_token": "rt-1"})
            with pytest.raises(GatewayError, match="answered 200 without access_token"):
                await endpoint(upstream.url + "/empty").post(http, {})
            with pytest.raises(GatewayError, match="bad_verification_code"):
                await endpoint(upstream.url + "/github").post(http, {})
            with pytest.raises(GatewayError, match="not JSON"):
                await endpoint(upstream.url + "/html").post(http, {})
        sent_form = upstream.requests_to("/form")[0]
        sent_json = upstream.requests_to("/json")[0]
    assert form["access_token"] == "at" and json["accessToken"] == "at2"
    assert parse_qs(sent_form.body.decode()) == {"grant_type": ["refresh_token"], "refresh_token": ["rt-1"]}
    assert sent_json.json == {"refreshToken": "rt-1"} and sent_json.headers["content-type"] == "application/json"
    assert "rt-1" not in refused.value.message and refused.value.code == "invalid_grant"


async def test_network_errors_propagate_unless_mapped():
    gone = endpoint("http://127.0.0.1:9/token")  # discard port: nothing listens
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientError):
            await gone.post(http, {})
        with pytest.raises(GatewayError) as caught, gone.network_errors():
            await gone.post(http, {})
    assert caught.value.status == 502 and "could not reach the Test token endpoint" in caught.value.message
