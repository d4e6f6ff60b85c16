"""The echo demo passes the provider contract (less what needs an upstream it lacks)."""

from __future__ import annotations

import cliproxy_echo
import pytest
from cliproxy.testing import ProviderContract

NO_UPSTREAM = "echo answers locally: there is no upstream to reach or to answer with an error status"


class TestEchoContract(ProviderContract):
    plugins = [cliproxy_echo]
    model = "echo-1"
    opt_out = {
        "upstream": NO_UPSTREAM,
        "unauthorized": NO_UPSTREAM,
        "rate_limit": NO_UPSTREAM,
        "server_error": NO_UPSTREAM,
        "bad_request": NO_UPSTREAM,
        "secrets": "echo's config holds no key, token or password",
    }

    @pytest.fixture
    def config(self):
        return {"echo": [{"models": ["echo-1"]}]}
