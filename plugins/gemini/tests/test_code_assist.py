"""Gemini CLI / Code Assist credentials against fake Code Assist and Google token servers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cliproxy_gemini
import openai
import orjson
import pytest
from cliproxy.app import gateway_of
from cliproxy.testing import (
    FakeUpstream,
    RecordedRequest,
    Reply,
    asgi_client,
    gateway_app,
    serve_app,
)
from cliproxy_gemini.code_assist.translator import CodeAssist, Unwrapper
from google import genai
from google.genai import types

RECORDINGS = Path(__file__).parents[3] / "recordings"
GENERATE = "/v1internal:generateContent"
STREAM = "/v1internal:streamGenerateContent"
QUOTA = {
    "error": {
        "code": 429,
        "message": "You have exhausted your capacity on this model.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34.4s"}],
    }
}


def recorded(name: str) -> Any:
    data = json.loads((RECORDINGS / "gemini-code-assist" / name).read_text())
    data.pop("_comment", None)
    return data


def token_file(directory: Path, *, projects: str = "proj-a", expires_in: float = 3600, **extra: Any) -> Path:
    path = directory / "gemini-cli-me@example.com.json"
    content = {
        "type": "gemini-cli",
        "email": "me@example.com",
        "project_id": projects,
        "access_token": "access-1",
        "refresh_token": "refresh-1",
        "expires_at": int(time.time() + expires_in),
        "client_id": "client-123",
        "client_secret": "secret-456",
        **extra,
    }
    path.write_text(json.dumps(content))
    return path


def config(upstream: FakeUpstream, auth_dir: Path, **quota: bool) -> dict[str, Any]:
    return {
        "api-keys": ["client-key"],
        "auth-dir": str(auth_dir),
        "request-retry": 0,
        "quota-exceeded": {key.replace("_", "-"): value for key, value in quota.items()},
        "gemini-cli": {
            "base-url": upstream.url,
            "token-url": upstream.url + "/token",
            "preview-models": {"gemini-2.5-pro": "gemini-2.5-pro-preview-06-05"},
        },
    }


def refreshed(request: RecordedRequest) -> Reply:
    return Reply.json({"access_token": "access-2", "expires_in": 3599, "token_type": "Bearer"})


_clients: list[Any] = []


def gemini_client(url: str) -> genai.Client:
    sdk = genai.Client(
        api_key="client-key",
        http_options=types.HttpOptions(base_url=url, api_version="v1beta", retry_options=None),
    )
    _clients.append(sdk)
    return sdk


def openai_client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)


@pytest.fixture
def auth_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "auth"
    directory.mkdir()
    return directory


@pytest.fixture
def live(upstream: FakeUpstream, auth_dir: Path) -> Iterator[Any]:
    def start(**quota: bool) -> Any:
        return serve_app(gateway_app(config(upstream, auth_dir, **quota), plugins=[cliproxy_gemini]))

    return start


# -- token files ---------------------------------------------------------------------------------


def test_one_credential_per_project(upstream: FakeUpstream, auth_dir: Path) -> None:
    token_file(auth_dir, projects="proj-a, proj-b,proj-a", prefix="ca", priority=3)
    (auth_dir / "off.json").write_text(
        json.dumps({"type": "gemini-cli", "disabled": True, "project_id": "x", "access_token": "t"})
    )
    (auth_dir / "broken.json").write_text(json.dumps({"type": "gemini-cli", "access_token": "t"}))
    gateway = gateway_of(gateway_app(config(upstream, auth_dir), plugins=[cliproxy_gemini]))
    first, second = gateway.credentials
    assert [c.settings.project for c in (first, second)] == ["proj-a", "proj-b"]
    assert first.label == "gemini-cli-me@example.com.json [proj-a]" and "access-1" not in repr(first)
    assert first.prefix == "ca" and first.priority == 3 and first.id != second.id
    assert first.settings.account == second.settings.account  # one Google account
    assert gateway.tokens.tokens(first).refresh_token == "refresh-1"
    assert gateway.tokens.tokens(second).refresh_token == "refresh-1"
    assert "ca/gemini-2.5-pro" in {m.id for m in gateway.router.models()}


# -- calls ---------------------------------------------------------------------------------------


def test_openai_client_request_is_wrapped_and_answer_unwrapped(
    upstream: FakeUpstream, auth_dir: Path, live: Any
) -> None:
    token_file(auth_dir)
    upstream.add(
        "POST",
        GENERATE,
        Reply.json(recorded("CONSTRUCTED-response-v1internal-generateContent.json")),
    )
    with live() as url:
        answer = openai_client(url).chat.completions.create(
            model="gemini-2.5-pro",
            messages=[
                {"role": "system", "content": "be kind"},
                {"role": "user", "content": "Hello"},
            ],
            reasoning_effort="medium",
        )
    assert answer.choices[0].message.content == "Hello! How can I help?" and answer.model == "gemini-2.5-pro"
    assert answer.usage.prompt_tokens == 16 and answer.usage.completion_tokens == 7
    sent = upstream.requests_to(GENERATE)[0]
    assert sent.headers["authorization"] == "Bearer access-1"
    assert sent.headers["user-agent"].startswith("GeminiCLI/0.56.0/gemini-2.5-pro (")
    assert set(sent.json) == set(recorded("CONSTRUCTED-request-v1internal-streamGenerateContent.json"))
    assert sent.json["model"] == "gemini-2.5-pro" and sent.json["project"] == "proj-a" and sent.json["user_prompt_id"]
    assert sent.json["request"] == {
        "contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
        "systemInstruction": {"parts": [{"text": "be kind"}]},
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 8192, "includeThoughts": True}},
    }


def test_openai_client_streams_a_tool_call_with_its_signature(
    upstream: FakeUpstream, auth_dir: Path, live: Any
) -> None:
    token_file(auth_dir)
    upstream.add(
        "POST",
        STREAM,
        Reply.sse_file(RECORDINGS / "gemini-code-assist" / "DERIVED-v1internal-stream-tool-call.sse.txt"),
    )
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
            },
        }
    ]
    with live() as url:
        chunks = list(
            openai_client(url).chat.completions.create(
                model="gemini-2.5-pro",
                messages=[{"role": "user", "content": "SF?"}],
                tools=tools,
                stream=True,
            )
        )
    calls = [c for ch in chunks if ch.choices for c in (ch.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "weather"
    assert calls[0].model_extra["extra_content"]["google"]["thought_signature"].startswith("EqUCCqIC")
    assert upstream.requests_to(STREAM)[0].query == {"alt": "sse"}


def test_gemini_client_gets_the_unwrapped_stream_passed_through(
    upstream: FakeUpstream, auth_dir: Path, live: Any
) -> None:
    token_file(auth_dir)
    upstream.add(
        "POST",
        STREAM,
        Reply.sse_file(RECORDINGS / "gemini-code-assist" / "DERIVED-v1internal-stream-tool-call.sse.txt"),
    )
    config = types.GenerateContentConfig(
        safety_settings=[types.SafetySetting(category="HARM_CATEGORY_HATE_SPEECH", threshold="BLOCK_NONE")]
    )
    with live() as url:
        chunks = list(
            gemini_client(url).models.generate_content_stream(model="gemini-2.5-pro", contents="SF?", config=config)
        )
    calls = [p for c in chunks for p in c.candidates[0].content.parts if p.function_call]
    assert calls[0].function_call.name == "weather" and calls[0].thought_signature
    assert all(c.model_version == "gemini-2.5-pro" for c in chunks)
    assert chunks[0].response_id == "b36LacjwM668nsEP2tbsgQQ"
    inner = upstream.requests_to(STREAM)[0].json["request"]
    assert inner["safetySettings"] == [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]


def test_count_tokens(upstream: FakeUpstream, auth_dir: Path, live: Any) -> None:
    token_file(auth_dir)
    upstream.add("POST", "/v1internal:countTokens", Reply.json({"totalTokens": 12}))
    with live() as url:
        assert gemini_client(url).models.count_tokens(model="gemini-2.5-flash", contents="Hello").total_tokens == 12
    sent = upstream.requests_to("/v1internal:countTokens")[0].json
    assert sent == {
        "request": {
            "model": "models/gemini-2.5-flash",
            "contents": [{"parts": [{"text": "Hello"}], "role": "user"}],
        }
    }
    shape = recorded("CONSTRUCTED-countTokens-request.json")
    assert set(sent) == set(shape) and set(sent["request"]) == set(shape["request"])  # no project


# -- tokens ----------------------------------------------------------------------------------------


async def test_tokens_are_refreshed_ahead_of_expiry_once(upstream: FakeUpstream, auth_dir: Path) -> None:
    path = token_file(auth_dir, projects="proj-a", expires_in=60)
    upstream.add("POST", "/token", Reply.json({"access_token": "access-2", "expires_in": 3599}, delay=0.05))
    upstream.add(
        "POST",
        GENERATE,
        Reply.json(recorded("CONSTRUCTED-response-v1internal-generateContent.json")),
    )
    app = gateway_app({**config(upstream, auth_dir), "api-keys": []}, plugins=[cliproxy_gemini])
    body = {"model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(app) as http:
        answers = await asyncio.gather(*(http.post("/v1/chat/completions", json=body) for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    refreshes = upstream.requests_to("/token")
    assert len(refreshes) == 1, "one refresh in flight, whoever asks"
    form = dict(pair.split("=") for pair in refreshes[0].body.decode().split("&"))
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-1",
        "client_id": "client-123",
        "client_secret": "secret-456",
    }
    assert {r.headers["authorization"] for r in upstream.requests_to(GENERATE)} == {"Bearer access-2"}
    saved = json.loads(path.read_text())
    assert (
        saved["access_token"] == "access-2"
        and saved["refresh_token"] == "refresh-1"
        and saved["project_id"] == "proj-a"
    )
    assert saved["expires_at"] > time.time() + 3000
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_401_refreshes_and_retries_once(upstream: FakeUpstream, auth_dir: Path, live: Any) -> None:
    token_file(auth_dir, projects="proj-a,proj-b")
    upstream.add("POST", "/token", refreshed)

    def answer(request: RecordedRequest) -> Reply:
        if request.headers["authorization"] == "Bearer access-1":
            return Reply.json(
                {
                    "error": {
                        "code": 401,
                        "message": "Request had invalid authentication credentials.",
                        "status": "UNAUTHENTICATED",
                    }
                },
                status=401,
            )
        return Reply.json(recorded("CONSTRUCTED-response-v1internal-generateContent.json"))

    upstream.add("POST", GENERATE, answer)
    with live() as url:
        texts = [_ask(url, "gemini-2.5-pro") for _ in range(4)]
    assert texts == ["Hello! How can I help?"] * 4
    sent = [(r.json["project"], r.headers["authorization"]) for r in upstream.requests_to(GENERATE)]
    # each project's credential refreshes once and retries; none is rested
    assert sorted(sent) == [
        ("proj-a", "Bearer access-1"),
        ("proj-a", "Bearer access-2"),
        ("proj-a", "Bearer access-2"),
        ("proj-b", "Bearer access-1"),
        ("proj-b", "Bearer access-2"),
        ("proj-b", "Bearer access-2"),
    ]
    assert len(upstream.requests_to("/token")) == 2


def test_a_refresh_google_refuses_rests_the_account(
    upstream: FakeUpstream, auth_dir: Path, live: Any, caplog: Any
) -> None:
    path = token_file(auth_dir, expires_in=10)
    before = path.read_text()
    upstream.add(
        "POST",
        "/token",
        Reply.json(
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
            status=400,
        ),
    )
    with live() as url, pytest.raises(openai.APIStatusError) as failed:
        openai_client(url).chat.completions.create(model="gemini-2.5-pro", messages=[{"role": "user", "content": "hi"}])
    # Refused by the request's own refresh (401) or by the background one that ran first (resting: 429).
    assert failed.value.status_code in (401, 429)
    assert "Token has been expired or revoked." in caplog.text
    assert not upstream.requests_to(GENERATE) and path.read_text() == before


# -- quota -----------------------------------------------------------------------------------------


def quota_on(project: str, model: str | None = None) -> Any:
    def answer(request: RecordedRequest) -> Reply:
        body = request.json
        if body["project"] == project and (model is None or body["model"] == model):
            return Reply.json(QUOTA, status=429)
        return Reply.json(recorded("CONSTRUCTED-response-v1internal-generateContent.json"))

    return answer


def _ask(url: str, model: str = "gemini-2.5-flash") -> str:
    return (
        openai_client(url)
        .chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        .choices[0]
        .message.content
    )


def test_switch_project_moves_on_to_the_next_project(upstream: FakeUpstream, auth_dir: Path, live: Any) -> None:
    token_file(auth_dir, projects="proj-a,proj-b")
    upstream.add("POST", GENERATE, quota_on("proj-a"))
    with live(switch_project=True) as url:
        assert [_ask(url) for _ in range(3)] == ["Hello! How can I help?"] * 3
    projects = [r.json["project"] for r in upstream.requests_to(GENERATE)]
    assert projects.count("proj-a") == 1 and projects.count("proj-b") == 3


def test_without_switch_project_the_whole_account_rests(upstream: FakeUpstream, auth_dir: Path, live: Any) -> None:
    token_file(auth_dir, projects="proj-a,proj-b")
    upstream.add("POST", GENERATE, quota_on("proj-a"))
    with live(switch_project=False) as url:
        for _ in range(2):
            with pytest.raises(openai.RateLimitError):
                _ask(url)
    assert [r.json["project"] for r in upstream.requests_to(GENERATE)] == ["proj-a"]


def test_switch_preview_model_tries_the_preview(upstream: FakeUpstream, auth_dir: Path, live: Any) -> None:
    token_file(auth_dir)
    upstream.add("POST", GENERATE, quota_on("proj-a", model="gemini-2.5-pro"))
    with live(switch_preview_model=True) as url:
        assert _ask(url, "gemini-2.5-pro") == "Hello! How can I help?"
    assert [r.json["model"] for r in upstream.requests_to(GENERATE)] == [
        "gemini-2.5-pro",
        "gemini-2.5-pro-preview-06-05",
    ]


# -- the translator on its own ---------------------------------------------------------------------


def test_translator_wraps_and_unwraps() -> None:
    from cliproxy.ir import Message, Request, TextPart

    translator = CodeAssist()
    body = translator.encode_request(Request(model="x", messages=[Message("user", [TextPart("hi")])]), "gemini-2.5-pro")
    assert body == {
        "model": "gemini-2.5-pro",
        "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    }
    response = translator.decode_response(
        orjson.dumps(recorded("CONSTRUCTED-response-v1internal-generateContent.json"))
    )
    assert response.text == "Hello! How can I help?" and response.id == "<id>"
    error = translator.decode_error(429, {}, orjson.dumps(QUOTA))
    assert error.retry_after == pytest.approx(34.4)
    assert (
        translator.extract_usage(
            {"response": {"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1}}}
        ).input_tokens
        == 3
    )


@pytest.mark.parametrize("size", [1, 7, 64, 100000])
def test_unwrapping_a_stream_split_anywhere(size: int) -> None:
    data = (RECORDINGS / "gemini-code-assist" / "DERIVED-v1internal-stream-tool-call.sse.txt").read_bytes()
    unwrapper = Unwrapper()
    out = b"".join(unwrapper.feed(data[i : i + size]) for i in range(0, len(data), size)) + unwrapper.close()
    events = [orjson.loads(frame[6:]) for frame in out.split(b"\r\n\r\n") if frame]
    assert len(events) == 2 and "response" not in events[0]
    assert events[0]["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "weather"
    assert events[1]["candidates"][0]["finishReason"] == "STOP"
