"""The SDK driver of the testing kit (``cliproxy.testing.ask_sdk``): what it folds from each
door, the chat reasoning hook, and what it says when an SDK is missing. (Tool calls and
reasoning through every door are exercised by ``tests/test_door_matrix.py``.)"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import cliproxy_openai
import pytest
from cliproxy.testing import (
    SDK_DOORS,
    FakeUpstream,
    Reply,
    SdkAnswer,
    SdkUsage,
    ask_sdk,
    chat_reasoning,
    gateway_app,
    serve_app,
    wire_answer,
)

CHAT = "/v1/chat/completions"


@pytest.fixture
def gateway(upstream: FakeUpstream) -> Iterator[str]:
    config = {
        "api-keys": ["client-key"],
        "request-retry": 0,
        "openai-compatibility": [
            {"name": "compat", "base-url": upstream.url + "/v1", "models": [{"name": "small-1", "alias": "small"}]}
        ],
    }
    with serve_app(gateway_app(config, plugins=[cliproxy_openai])) as url:
        yield url


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("door", SDK_DOORS)
def test_every_door_folds_text_and_usage(door, stream, upstream, gateway):
    upstream.add("POST", CHAT, wire_answer("openai-chat", "Hello from the fake"))
    answer = ask_sdk(gateway, door, "small", prompt="hi", stream=stream)
    assert answer == SdkAnswer("Hello from the fake")
    assert answer.tool_calls == () and answer.reasoning == ""
    # wire_answer counts 7 prompt tokens and one per word; a chat stream reports usage
    # only when the client asks for it (stream_options), as the SDK can through ``extra``
    expected = None if (door, stream) == ("chat", True) else SdkUsage(7, 4)
    assert answer.usage == expected


def test_a_chat_stream_reports_usage_when_asked_through_extra(upstream, gateway):
    upstream.add("POST", CHAT, wire_answer("openai-chat", "Hello from the fake"))
    answer = ask_sdk(
        gateway, "chat", "small", prompt="hi", stream=True, extra={"stream_options": {"include_usage": True}}
    )
    assert answer.usage == SdkUsage(7, 4)
    assert upstream.requests[0].json["stream_options"] == {"include_usage": True}


def test_equal_answers_read_the_same_whatever_their_usage():
    assert SdkAnswer("hi", usage=SdkUsage(1, 2)) == SdkAnswer("hi", usage=None)
    assert SdkAnswer("hi", reasoning="because") != SdkAnswer("hi")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_the_chat_reasoning_hook_reads_what_the_sdk_does_not_model(stream, upstream, gateway):
    message = {"role": "assistant", "content": "42", "reasoning_content": "think", "vendor_thought": "deep"}
    if stream:
        chunks = [
            {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "small-1", "choices": [choice]}
            for choice in (
                {"index": 0, "delta": {"role": "assistant", "vendor_thought": "de"}, "finish_reason": None},
                {"index": 0, "delta": {"vendor_thought": "ep", "content": "42"}, "finish_reason": None},
                {"index": 0, "delta": {}, "finish_reason": "stop"},
            )
        ]
        upstream.add("POST", CHAT, Reply.sse_events(chunks, done=True))
    else:
        body = {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "small-1",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        }
        upstream.add("POST", CHAT, Reply.json(body))

    def vendor_thought(extras: Sequence[Mapping[str, Any]]) -> str:
        return "".join(extra.get("vendor_thought") or "" for extra in extras)

    # a chat-to-chat passthrough keeps the fields nobody modelled; the hook is handed those
    # of the message, or of every delta in order
    answer = ask_sdk(gateway, "chat", "small", prompt="hi", stream=stream, reasoning=vendor_thought)
    assert answer == SdkAnswer("42", reasoning="deep")


def test_chat_reasoning_prefers_the_plain_field_over_the_details():
    details = {"reasoning_details": [{"type": "reasoning.text", "text": "signed whole"}]}
    assert chat_reasoning([{"reasoning_content": "a"}, {"reasoning": "b"}, details]) == "ab"
    assert chat_reasoning([details, {"reasoning_details": [{"type": "reasoning.encrypted"}]}]) == "signed whole"
    assert chat_reasoning([{}, {"reasoning_details": None}]) == ""


def test_an_unknown_door_names_the_doors(gateway):
    with pytest.raises(ValueError, match="chat, responses, messages, gemini"):
        ask_sdk(gateway, "completions", "small", prompt="hi", stream=False)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("door", "module", "package"),
    [("chat", "openai", "openai"), ("messages", "anthropic", "anthropic"), ("gemini", "google.genai", "google-genai")],
)
def test_a_missing_sdk_fails_when_its_door_is_used_naming_the_package(door, module, package, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(ImportError, match=f"pip install {package}$"):
        ask_sdk("http://127.0.0.1:9", door, "small", prompt="hi", stream=False)


def test_the_kit_imports_without_any_sdk():
    hide = "; ".join(f"sys.modules[{name!r}] = None" for name in ("openai", "anthropic", "google.genai"))
    code = f"import sys; {hide}; import cliproxy.testing as kit; print(kit.ask_sdk.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ask_sdk"
