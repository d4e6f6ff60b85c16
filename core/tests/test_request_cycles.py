"""A request's objects form no reference cycle, so they are freed by reference counting
when the last reference goes. A cycle would keep them until the collector's next pass --
for a long stream, whose objects have reached the old generation, a full collection, which
``cliproxy serve`` runs rarely (:mod:`cliproxy.gctune`)."""

from __future__ import annotations

import gc
from types import FunctionType
from typing import Any

import cliproxy_openai
import pytest
from cliproxy import doors
from cliproxy.exchange import Exchange
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
CHUNKS = [
    {"id": "c1", "model": "gpt-4.1-nano", "choices": [{"index": 0, "delta": {"content": "hi"}}]},
    {"id": "c1", "model": "gpt-4.1-nano", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
]


def refers_back(start: object) -> list[str]:
    """A path of cliproxy objects (and the closures, cells and containers between them)
    from ``start`` back to itself; empty when there is none."""
    todo: list[tuple[object, list[str]]] = [(r, [type(start).__name__]) for r in gc.get_referents(start)]
    seen: set[int] = set()
    while todo:
        obj, path = todo.pop()
        if obj is start:
            return [*path, type(start).__name__]
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, FunctionType):
            referents: list[Any] = [cell.cell_contents for cell in obj.__closure__ or ()]
        elif type(obj).__module__.startswith("cliproxy") or type(obj).__name__ in ("cell", "tuple", "list", "dict"):
            referents = [r for r in gc.get_referents(obj) if not isinstance(r, type)]
        else:
            continue
        todo += [(r, [*path, type(obj).__name__]) for r in referents]
    return []


@pytest.mark.parametrize("door", [CHAT, MESSAGES], ids=["passed-through", "translated"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_a_requests_exchange_does_not_refer_back_to_itself(
    fake_upstream: FakeUpstream, door: str, stream: bool, monkeypatch: pytest.MonkeyPatch
):
    exchanges: list[Exchange] = []

    class Recorded(Exchange):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            exchanges.append(self)

    monkeypatch.setattr(doors, "Exchange", Recorded)
    whole = {"id": "c1", "model": "gpt-4.1-nano", "choices": [{"index": 0, "message": {"content": "hi"}}]}
    fake_upstream.add("POST", CHAT, Reply.sse_events(CHUNKS, done=True) if stream else Reply.json(whole))
    app = gateway_app(
        {
            "api-keys": ["client-key"],
            "openai-compatibility": [
                {
                    "name": "up",
                    "base-url": fake_upstream.url + "/v1",
                    "api-key-entries": [{"api-key": "sk-up-0001"}],
                    "models": ["gpt-4.1-nano"],
                }
            ],
        },
        plugins=[cliproxy_openai],
    )
    body: dict[str, Any] = {"model": "gpt-4.1-nano", "stream": stream, "messages": [{"role": "user", "content": "x"}]}
    if door == MESSAGES:
        body["max_tokens"] = 16
    async with asgi_client(app) as client:
        answer = await client.post(door, json=body, headers={"Authorization": "Bearer client-key"})
    assert answer.status_code == 200, answer.text
    (exchange,) = exchanges
    assert refers_back(exchange) == []
