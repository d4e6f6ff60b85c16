"""Test helpers for cliproxy and its plugins.

* :class:`FakeUpstream` / :class:`Reply` -- a scriptable HTTP upstream on loopback;
* :func:`serve_app` / :class:`LiveServer` -- the gateway behind a real Hypercorn server;
* :func:`asgi_client` -- the gateway in-process through ``httpx``;
* :func:`gateway_app` -- an app from a config mapping with only the plugins you name;
* :class:`FakeClock` -- time that moves only when told (cooldowns expire without sleeping);
* :mod:`cliproxy.testing.state_contract` -- the tests every state store backend passes.

``httpx`` is needed for :func:`asgi_client` (``pip install cliproxy[testing]``).
"""

from cliproxy.testing.apps import gateway_app
from cliproxy.testing.clock import FakeClock
from cliproxy.testing.server import LiveServer, asgi_client, serve_app
from cliproxy.testing.upstream import FakeUpstream, RecordedRequest, Reply

__all__ = [
    "FakeClock",
    "FakeUpstream",
    "LiveServer",
    "RecordedRequest",
    "Reply",
    "asgi_client",
    "gateway_app",
    "serve_app",
]
