"""Translator base classes: defaults of the optional members, adapted duck-typed
translators, and the registry's errors for translators it cannot use."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cliproxy_echo
import pytest
from cliproxy import (
    ClientTranslator,
    Door,
    EncodeContext,
    GatewayError,
    StreamEncoder,
    UpstreamTranslator,
    hookimpl,
    ir,
)
from cliproxy.registry import Translators
from cliproxy.testing import asgi_client, gateway_app
from cliproxy.wire.anthropic import Anthropic
from cliproxy.wire.gemini import Gemini
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy.wire.openai_completions import OpenAICompletions
from cliproxy.wire.openai_responses import OpenAIResponses

CORE = Path(__file__).parents[1] / "src" / "cliproxy"
CTX = EncodeContext(model="m", body={})


class MinimalClient(ClientTranslator):
    """Only what a client translator must have."""

    name = "minimal"
    doors = (Door("/minimal"),)

    def decode_request(self, body, *, model=None, stream=None):
        return ir.Request(model=model or body["model"], messages=[ir.Message("user", [ir.TextPart(body["say"])])])

    def encode_response(self, response, ctx):
        return json.dumps({"said": response.text}).encode()

    def stream_encoder(self, ctx):
        return LineEncoder()

    def encode_error(self, error):
        return json.dumps({"oops": error.message}).encode()


class LineEncoder(StreamEncoder):
    def encode(self, events):
        return b"".join(e.text.encode() + b"\n" for e in events if isinstance(e, ir.TextDelta))


class MinimalUpstream(UpstreamTranslator):
    name = "minimal-up"

    def encode_request(self, request, model):
        return {"model": model}

    def decode_response(self, body):
        return ir.Response(id="r", model="m", parts=[ir.TextPart(body.decode())])

    def stream_decoder(self):
        raise NotImplementedError

    def decode_error(self, status, headers, body):
        raise NotImplementedError

    def extract_usage(self, obj):
        return None


def test_optional_client_members_default_to_no_feature():
    client = MinimalClient()
    assert client.answers_models({"x-goog-api-client": "genai"}, {}) is False
    assert client.can_pass_through(True, {}) is True
    assert client.passthrough_filter({"stream": True}) is None
    body = {"model": "m", "messages": []}
    assert client.forwarded_body(body) is body
    with pytest.raises(NotImplementedError, match="'minimal' has no count_tokens door"):
        client.encode_count(3, CTX)
    with pytest.raises(NotImplementedError, match="'minimal' has no models door"):
        client.encode_models([])


def test_optional_upstream_members_default_to_no_feature():
    upstream = MinimalUpstream()
    assert upstream.model_field == "model"
    assert upstream.checks_response is False
    with pytest.raises(NotImplementedError, match="does not check responses"):
        upstream.check_response({})


def test_stream_encoder_defaults():
    encoder = LineEncoder()
    assert encoder.media_type == "text/event-stream"
    assert encoder.close() == b""


def test_built_in_translators_subclass_the_base_classes():
    for translator in (OpenAIChat(), OpenAIResponses(), Anthropic(), Gemini()):
        assert isinstance(translator, ClientTranslator) and isinstance(translator, UpstreamTranslator)
        assert isinstance(translator.stream_encoder(CTX), StreamEncoder)
    assert isinstance(OpenAICompletions(), ClientTranslator)
    assert not isinstance(OpenAICompletions(), UpstreamTranslator)
    assert isinstance(OpenAICompletions().stream_encoder(CTX), StreamEncoder)
    # checks_response follows whether the subclass implements check_response
    assert OpenAIChat.checks_response is True
    assert Anthropic.checks_response is False and Gemini.checks_response is False
    assert Gemini.model_field == "modelVersion" and OpenAIChat.model_field == "model"


def test_a_subclass_missing_a_required_method_cannot_be_made():
    class Incomplete(ClientTranslator):
        name = "incomplete"

        def decode_request(self, body, *, model=None, stream=None):
            raise NotImplementedError

    with pytest.raises(TypeError, match="encode_error"):
        Incomplete()  # type: ignore[abstract]


# -- translators that do not subclass ------------------------------------------------------


class DuckClient:
    """A client translator written against the methods only, without optional members."""

    name = "duck"
    doors = (Door("/duck"),)

    def decode_request(self, body, *, model=None, stream=None):
        return ir.Request(
            model=model or body["model"],
            messages=[ir.Message("user", [ir.TextPart(body["say"])])],
            stream=bool(body.get("stream")),
        )

    def encode_response(self, response, ctx):
        return json.dumps({"said": response.text}).encode()

    def stream_encoder(self, ctx):
        return DuckEncoder()

    def encode_error(self, error):
        return json.dumps({"oops": error.message}).encode()


class DuckEncoder:
    """No media_type, no close: the defaults apply."""

    def encode(self, events):
        return b"".join(e.text.encode() + b"|" for e in events if isinstance(e, ir.TextDelta))


class DuckUpstream:
    name = "duck-up"

    def encode_request(self, request, model):
        return {"model": model}

    def decode_response(self, body):
        return ir.Response(id="r", model="m", parts=[ir.TextPart(body.decode())])

    def stream_decoder(self):
        raise NotImplementedError

    def decode_error(self, status, headers, body):
        raise NotImplementedError

    def extract_usage(self, obj):
        return None

    def check_response(self, obj):
        return ir.Usage(input_tokens=1)


def test_a_duck_typed_translator_is_adapted_with_the_defaults():
    registry = Translators()
    registry.add(DuckClient(), "duck-plugin")
    registry.add(DuckUpstream(), "duck-plugin")
    client = registry.client("duck")
    assert isinstance(client, ClientTranslator)
    assert client.doors == (Door("/duck"),)
    assert client.answers_models({}, {}) is False and client.passthrough_filter({}) is None
    assert client.encode_error(GatewayError.invalid("bad")) == b'{"oops": "bad"}'
    encoder = client.stream_encoder(CTX)
    assert isinstance(encoder, StreamEncoder) and encoder.media_type == "text/event-stream"
    assert encoder.encode([ir.TextDelta(0, "hi")]) == b"hi|" and encoder.close() == b""
    upstream = registry.upstream("duck-up")
    assert isinstance(upstream, UpstreamTranslator)
    assert upstream.model_field == "model"
    assert upstream.checks_response is True and upstream.check_response({}) == ir.Usage(input_tokens=1)
    assert not registry.has_upstream("duck") and not registry.has_client("duck-up")


class DuckPlugin:
    @hookimpl
    def register_translators(self, register):
        register(DuckClient())


async def test_a_duck_typed_stream_encoder_streams_with_the_default_media_type():
    app = gateway_app({"echo": [{"models": ["echo-1"]}]}, plugins=[cliproxy_echo, DuckPlugin()])
    async with asgi_client(app) as client:
        reply = await client.post("/duck", json={"model": "echo-1", "say": "hello there", "stream": True})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.text.replace("|", "").strip() == "hello there"


def test_the_registry_says_how_to_fix_a_translator_it_cannot_use():
    registry = Translators()

    class Nothing:
        name = "nothing"

    with pytest.raises(TypeError, match=r"subclass cliproxy\.ClientTranslator and/or cliproxy\.UpstreamTranslator"):
        registry.add(Nothing(), "p")


def test_a_door_without_the_method_that_answers_it_is_refused():
    class Counting(MinimalClient):
        name = "counting"
        doors = (Door("/counting"), Door("/counting/count", action="count_tokens"))

    class Listing(MinimalClient):
        name = "listing"

        def answers_models(self, headers, query):
            return True

    class DuckCounting(DuckClient):
        name = "duck-counting"
        doors = (Door("/dc", action="count_tokens"),)

    registry = Translators()
    with pytest.raises(TypeError, match=r"door '/counting/count' \(count_tokens\) needs an encode_count method"):
        registry.add(Counting(), "p")
    with pytest.raises(TypeError, match=r"answers_models.*no encode_models"):
        registry.add(Listing(), "p")
    with pytest.raises(TypeError, match="needs an encode_count method"):
        registry.add(DuckCounting(), "p")
    assert registry.names() == []


def test_core_calls_optional_translator_members_directly():
    """No probing for optional members at request time, no type: ignore for them."""
    members = (
        "can_pass_through|check_response|model_field|media_type|passthrough_filter|forwarded_body|"
        "answers_models|encode_models|encode_count"
    )
    probe = re.compile(rf"(getattr|hasattr)\([^)]*\"({members})\"")
    for path in sorted(CORE.rglob("*.py")):
        if path.name == "translate.py":  # the adapter for translators that do not subclass
            continue
        source = path.read_text()
        name = path.relative_to(CORE)
        assert not probe.search(source), f"{name} probes a translator member with getattr"
        for line in source.splitlines():
            if re.search(rf"\.({members})\b", line):
                assert "type: ignore" not in line, f"{name}: {line.strip()}"
