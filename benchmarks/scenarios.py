"""The benchmark scenarios: what the client sends, and what upstream answers it.

Every gateway gets the same request bytes. ``client_path`` is where the client sends them;
``upstream_path`` is the mock endpoint the gateway's upstream call lands on (hitting it
directly is the zero-overhead baseline). The bare pass-through cannot translate, so it
forwards the client's bytes to the mock endpoint of the client's own format: the floor
every gateway on the stack pays, translation excluded.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from mock_upstream import TEXT

SYSTEM = "You are a terse assistant."
PROMPT = "Tell me one sentence about a fox and a gateway."
API_KEY = "sk-bench"


@attrs.frozen
class Scenario:
    name: str
    title: str
    client: str  # "openai" or "anthropic": the wire the client speaks
    upstream: str  # "openai" or "anthropic": the wire the upstream speaks
    stream: bool
    model: str

    @property
    def client_path(self) -> str:
        return "/v1/chat/completions" if self.client == "openai" else "/v1/messages"

    @property
    def upstream_path(self) -> str:
        return "/v1/chat/completions" if self.upstream == "openai" else "/v1/messages"

    @property
    def needs(self) -> tuple[str, ...]:
        """What cliproxy must have installed for this scenario."""
        needs: list[str] = []
        if self.upstream == "anthropic":
            needs.append("claude-provider")
        if "anthropic" in (self.client, self.upstream):
            needs.append("anthropic-translator")
        if self.client == "anthropic":
            needs.append("messages-door")
        return tuple(needs)

    def body(self, model: str | None = None) -> bytes:
        return json.dumps(client_body(self.client, model or self.model, self.stream), separators=(",", ":")).encode()

    def headers(self) -> dict[str, str]:
        if self.client == "anthropic":
            return {
                "Content-Type": "application/json",
                "x-api-key": API_KEY,
                "anthropic-version": "2023-06-01",
            }
        return {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}

    def direct_body(self) -> bytes:
        """The request as the gateway would send it upstream (for the direct baseline)."""
        model = "mock-gpt" if self.upstream == "openai" else "claude-mock"
        return json.dumps(client_body(self.upstream, model, self.stream), separators=(",", ":")).encode()


def client_body(wire: str, model: str, stream: bool) -> dict[str, Any]:
    if wire == "openai":
        body: dict[str, Any] = {
            "model": model,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": PROMPT},
            ],
            "max_tokens": 64,
            "temperature": 0.2,
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body
    return {
        "model": model,
        "max_tokens": 64,
        "temperature": 0.2,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": stream,
    }


SCENARIOS = (
    Scenario("openai", "OpenAI client -> OpenAI upstream", "openai", "openai", False, "mock-gpt"),
    Scenario(
        "openai-stream",
        "OpenAI client -> OpenAI upstream, stream",
        "openai",
        "openai",
        True,
        "mock-gpt",
    ),
    Scenario(
        "openai-claude",
        "OpenAI client -> Claude upstream",
        "openai",
        "anthropic",
        False,
        "claude-mock",
    ),
    Scenario(
        "openai-claude-stream",
        "OpenAI client -> Claude upstream, stream",
        "openai",
        "anthropic",
        True,
        "claude-mock",
    ),
    Scenario(
        "messages-openai-stream",
        "Anthropic client -> OpenAI upstream, stream",
        "anthropic",
        "openai",
        True,
        "mock-gpt",
    ),
)


# -- checking an answer --------------------------------------------------------------------


def answer_text(wire: str, stream: bool, body: bytes) -> str:
    """The assistant text in a response of ``wire``; raises ValueError if malformed."""
    if not stream:
        data = json.loads(body)
        if wire == "openai":
            return data["choices"][0]["message"]["content"]
        return "".join(block.get("text", "") for block in data["content"] if block.get("type") == "text")
    text: list[str] = []
    done = False
    for raw in body.split(b"\n"):
        line = raw.strip()
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            done = True
            continue
        event = json.loads(payload)
        if wire == "openai":
            for choice in event.get("choices") or []:
                text.append((choice.get("delta") or {}).get("content") or "")
        else:
            if event.get("type") == "content_block_delta" and event["delta"].get("type") == "text_delta":
                text.append(event["delta"]["text"])
            done = done or event.get("type") == "message_stop"
    if not done:
        raise ValueError("the stream did not end properly ([DONE] / message_stop missing)")
    return "".join(text)


def check_answer(wire: str, stream: bool, status: int, body: bytes) -> str | None:
    """None when the answer is right; otherwise what is wrong with it."""
    if status != 200:
        return f"status {status}: {body[:300]!r}"
    try:
        text = answer_text(wire, stream, body)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return f"malformed answer ({exc}): {body[:300]!r}"
    if text != TEXT:
        return f"wrong text {text!r}"
    return None
