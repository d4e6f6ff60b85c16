"""A fake Roo Code Cloud on loopback -- the CLI sign-in page, the proxy's chat and models
endpoints -- and gateways in front of it."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import cliproxy_roo
import pytest
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, gateway_app

CHAT = "/proxy/v1/chat/completions"
MODELS = "/proxy/v1/models"
TOOL_STREAM = "openai-chat/openai-sdk-stream-single-tool-call.sse.txt"
TOOL_WHOLE = "openai-chat/openai-sdk-nonstream-single-tool-call-strict.json"
TEXT_WHOLE = "openai-chat/aibridge-chat_simple.nonstream.json"
TEXT_STREAM = "openai-chat/aibridge-chat_simple.stream.sse.txt"


def jwt(*, expires_in: float, user: str = "user_2abc", org: str | None = None) -> str:
    """A Roo Code Cloud session token: a JWT with Roo's claims (unsigned here)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": "rcc", "sub": user, "iat": now, "nbf": now, "exp": now + int(expires_in), "v": 1}
    claims["r"] = {"u": user, "o": org, "t": "cli"}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


MODEL_LIST = {
    "object": "list",
    "data": [
        {
            "id": "xai/grok-code-fast-1",
            "object": "model",
            "type": "language",
            "tags": ["free"],
            "context_window": 262144,
        },
        {"id": "anthropic/claude-opus-4.6", "object": "model", "type": "language", "tags": ["vision", "reasoning"]},
        {"id": "anthropic/claude-3.5-sonnet", "object": "model", "type": "language", "deprecated": True},
        {"id": "google/gemini-2.5-flash-image", "object": "model", "type": "image"},
    ],
}


class FakeRoo:
    """Roo Code Cloud as its CLI sees it: ``tokens`` are accepted by the proxy; the sign-in
    page signs in as ``signed_in`` (a token) or refuses with ``refusal``."""

    def __init__(self, server: FakeUpstream, recording: Callable[[str], Path]) -> None:
        self.server = server
        self.recording = recording
        self.token = jwt(expires_in=30 * 86400)
        self.tokens = {self.token}
        self.signed_in = self.token
        self.refusal: str | None = None
        server.add("GET", "/cli/sign-in", self.sign_in)
        server.add("POST", CHAT, self.checked(self.chat))
        server.add("GET", MODELS, lambda request: Reply.json(MODEL_LIST))

    @property
    def url(self) -> str:
        return self.server.url

    def sign_in(self, request: RecordedRequest) -> Reply:
        query = request.query
        answer = {"error": self.refusal} if self.refusal else {"token": self.signed_in, "state": query["state"]}
        return Reply(status=302, headers={"Location": f"{query['callback']}?{urlencode(answer)}"})

    def checked(self, answer: Callable[[RecordedRequest], Reply]) -> Callable[[RecordedRequest], Reply]:
        def check(request: RecordedRequest) -> Reply:
            if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
                return Reply.json({"error": {"message": "Unauthorized", "type": "authentication_error"}}, status=401)
            return answer(request)

        return check

    def chat(self, request: RecordedRequest) -> Reply:
        body = request.json
        tools = bool(body.get("tools"))
        if body.get("stream"):
            return Reply.sse_file(self.recording(TOOL_STREAM if tools else TEXT_STREAM))
        return Reply.json(json.loads(self.recording(TOOL_WHOLE if tools else TEXT_WHOLE).read_text()))


@pytest.fixture
def roo(upstream: FakeUpstream, recording: Callable[[str], Path]) -> FakeRoo:
    return FakeRoo(upstream, recording)


@pytest.fixture
def roo_app(roo: FakeRoo) -> Callable[..., Any]:
    """``roo_app(entries=None, **config)``: a gateway with only this plugin; by default one
    ``roo:`` entry with the fake's token and prefix ``roo``."""

    def make(entries: list[dict[str, Any]] | None = None, **config: Any) -> Any:
        block = (
            entries if entries is not None else [{"token": roo.token, "base-url": roo.url + "/proxy", "prefix": "roo"}]
        )
        full: dict[str, Any] = {"api-keys": ["client-key"], "roo": block, **config}
        if not block:
            del full["roo"]
        return gateway_app(full, plugins=[cliproxy_roo])

    return make


@pytest.fixture
def make_jwt() -> Callable[..., str]:
    return jwt


# -- the official SDKs through the four doors ----------------------------------------------

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PROMPT = "What is the weather in New York?"
_genai_clients: list[Any] = []


def _args(value: Any) -> dict[str, Any]:
    return json.loads(value or "{}") if isinstance(value, str) else dict(value or {})


def ask(url: str, door: str, model: str, *, stream: bool, tools: bool = True) -> tuple[str, list[tuple[str, dict]]]:
    """Ask ``model`` through ``door`` with the official SDK; ``(text, [(tool, args)...])``."""
    import anthropic
    import openai
    from google import genai
    from google.genai import types

    calls: list[tuple[str, dict]] = []
    if door == "chat":
        client = openai.OpenAI(base_url=url + "/v1", api_key="client-key", max_retries=0)
        extra: dict[str, Any] = {}
        if tools:
            fn = {"name": WEATHER["name"], "description": WEATHER["description"], "parameters": WEATHER["schema"]}
            extra["tools"] = [{"type": "function", "function": fn}]
        messages = [{"role": "user", "content": PROMPT}]
        if not stream:
            message = client.chat.completions.create(model=model, messages=messages, **extra).choices[0].message
            return message.content or "", [
                (c.function.name, _args(c.function.arguments)) for c in message.tool_calls or ()
            ]
        text, pieces = "", {}
        for chunk in client.chat.completions.create(model=model, messages=messages, stream=True, **extra):
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            text += delta.content or ""
            for call in delta.tool_calls or ():
                name, args = pieces.get(call.index, ("", ""))
                pieces[call.index] = (name + (call.function.name or ""), args + (call.function.arguments or ""))
        return text, [(n, _args(a)) for _, (n, a) in sorted(pieces.items())]
    if door == "responses":
        client = openai.OpenAI(base_url=url + "/v1", api_key="client-key", max_retries=0)
        extra = {}
        if tools:
            extra["tools"] = [
                {
                    "type": "function",
                    "name": WEATHER["name"],
                    "description": WEATHER["description"],
                    "parameters": WEATHER["schema"],
                }
            ]
        if stream:
            with client.responses.stream(model=model, input=PROMPT, **extra) as events:
                for _ in events:
                    pass
                response = events.get_final_response()
        else:
            response = client.responses.create(model=model, input=PROMPT, **extra)
        text = ""
        for item in response.output:
            if item.type == "message":
                text += "".join(c.text for c in item.content if c.type == "output_text")
            elif item.type == "function_call":
                calls.append((item.name, _args(item.arguments)))
        return text, calls
    if door == "messages":
        client = anthropic.Anthropic(base_url=url, api_key="client-key", max_retries=0)
        params: dict[str, Any] = {"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": PROMPT}]}
        if tools:
            params["tools"] = [
                {"name": WEATHER["name"], "description": WEATHER["description"], "input_schema": WEATHER["schema"]}
            ]
        if stream:
            with client.messages.stream(**params) as events:
                for _ in events:
                    pass
                message = events.get_final_message()
        else:
            message = client.messages.create(**params)
        text = "".join(b.text for b in message.content if b.type == "text")
        return text, [(b.name, _args(b.input)) for b in message.content if b.type == "tool_use"]
    assert door == "gemini"
    client = genai.Client(api_key="client-key", http_options=types.HttpOptions(base_url=url, api_version="v1beta"))
    _genai_clients.append(client)  # the SDK closes its HTTP client when the Client is collected
    config = types.GenerateContentConfig()
    if tools:
        declaration = types.FunctionDeclaration(
            name=WEATHER["name"], description=WEATHER["description"], parameters_json_schema=WEATHER["schema"]
        )
        config.tools = [types.Tool(function_declarations=[declaration])]
    chunks = (
        list(client.models.generate_content_stream(model=model, contents=PROMPT, config=config))
        if stream
        else [client.models.generate_content(model=model, contents=PROMPT, config=config)]
    )
    text = ""
    for chunk in chunks:
        content = chunk.candidates[0].content if chunk.candidates else None
        for part in (content.parts or []) if content else []:
            if part.function_call is not None:
                calls.append((part.function_call.name, _args(part.function_call.args)))
            elif part.text:
                text += part.text
    return text, calls


@pytest.fixture
def sdk() -> Callable[..., tuple[str, list[tuple[str, dict]]]]:
    return ask
