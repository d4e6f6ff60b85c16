"""Test helpers for cliproxy and its plugins, and the conformance kit.

* :class:`FakeUpstream` / :class:`Reply` -- a scriptable HTTP upstream on loopback;
  :func:`wire_answer` makes it answer in a built-in wire format;
* :func:`serve_app` / :class:`LiveServer` -- the gateway behind a real Hypercorn server;
* :func:`asgi_client` -- the gateway in-process through ``httpx``;
* :func:`gateway_app` -- an app from a config mapping with only the plugins you name;
  :func:`host_of` -- the :class:`~cliproxy.Host` its plugins are handed;
* :func:`ask_sdk` -- a client door called with its official SDK (``openai``, ``anthropic``,
  ``google-genai``; each imported when its door is used), the answer folded into an
  :class:`SdkAnswer`; :func:`answer_of` -- the same view of an IR response;
* :class:`FakeClock` -- time that moves only when told (cooldowns expire without sleeping);
* :class:`ProviderContract` -- the tests every provider plugin passes (subclass it);
* :class:`TranslatorContract` / :class:`Sample` -- the properties every translator has;
* :mod:`cliproxy.testing.state_contract` -- the tests every state store backend passes.

Installed with ``pip install cliproxy[testing]`` (pytest, pytest-asyncio, hypothesis,
httpx), this package is also a pytest plugin (the ``fake_upstream`` fixture, and the
report of the checks a contract class opts out of): see docs/plugins.md, "Testing your
plugin".
"""

import importlib
from typing import TYPE_CHECKING

from cliproxy.testing.apps import gateway_app, host_of
from cliproxy.testing.clock import FakeClock
from cliproxy.testing.replies import wire_answer
from cliproxy.testing.sdk_doors import (
    SDK_DOORS,
    SdkAnswer,
    SdkDoor,
    SdkTool,
    SdkUsage,
    ToolCall,
    answer_of,
    ask_sdk,
    chat_reasoning,
)
from cliproxy.testing.server import LiveServer, asgi_client, serve_app
from cliproxy.testing.upstream import FakeUpstream, RecordedRequest, Reply

if TYPE_CHECKING:
    from cliproxy.testing.provider_contract import ProviderContract
    from cliproxy.testing.translator_contract import Sample, TranslatorContract

__all__ = [
    "SDK_DOORS",
    "FakeClock",
    "FakeUpstream",
    "LiveServer",
    "ProviderContract",
    "RecordedRequest",
    "Reply",
    "Sample",
    "SdkAnswer",
    "SdkDoor",
    "SdkTool",
    "SdkUsage",
    "ToolCall",
    "TranslatorContract",
    "answer_of",
    "asgi_client",
    "ask_sdk",
    "chat_reasoning",
    "gateway_app",
    "host_of",
    "serve_app",
    "wire_answer",
]

_CONTRACTS = {
    "ProviderContract": "cliproxy.testing.provider_contract",
    "TranslatorContract": "cliproxy.testing.translator_contract",
    "Sample": "cliproxy.testing.translator_contract",
}


def __getattr__(name: str) -> object:
    # The contracts need pytest, pytest-asyncio, hypothesis and httpx (the 'testing'
    # extra); the helpers above need none of them, so they load only when asked for.
    module = _CONTRACTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cliproxy.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
