"""cliproxy-kiro passes the provider contract, against a fake Kiro answering with the
recorded event stream, failing with Kiro's ``{"message"}`` bodies, and refreshing tokens at
a fake auth service; and the ``kiro`` wire passes the translator contract on the recorded
event streams (Kiro always streams, so a whole answer is the same bytes)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cliproxy_kiro
import pytest
from cliproxy.testing import FakeUpstream, ProviderContract, Reply, Sample, TranslatorContract
from cliproxy_kiro import testing as kt
from cliproxy_kiro.translator import KiroTranslator

RECORDINGS = Path(__file__).parents[3] / "recordings" / "kiro"
GENERATE = "/generateAssistantResponse"


class TestKiroContract(ProviderContract):
    plugins = [cliproxy_kiro]
    model = "claude-sonnet-4-5"

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream) -> FakeUpstream:
        frames = (RECORDINGS / "SYNTHETIC-text.eventstream.bin").read_bytes()
        fake_upstream.add("POST", GENERATE, kt.reply([frames], chunk_size=64))
        refreshed = {
            "accessToken": "aoa-contract-access-2",
            "refreshToken": "aor-contract-refresh-2",
            "expiresIn": 3600,
        }
        fake_upstream.add("POST", "/refreshToken", Reply.json(refreshed))
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream) -> dict:
        entry = {
            "access-token": "aoa-contract-access-1",
            "refresh-token": "aor-contract-refresh-1",
            "profile-arn": "arn:aws:codewhisperer:us-east-1:123456789012:profile/TEST",
            "base-url": upstream.url,
            "auth-url": upstream.url,
            "oidc-url": upstream.url,
        }
        return {"kiro": [entry]}

    def fail_upstream(self, upstream: FakeUpstream, status: int, *, message: str, headers: Mapping[str, str]) -> None:
        upstream.answer_all(Reply.json({"message": message}, status=status, headers=headers))


def _sample(name: str) -> Sample:
    data = (RECORDINGS / f"SYNTHETIC-{name}.eventstream.bin").read_bytes()
    return Sample(stream=data, whole=data, name=name)


class TestKiroWireContract(TranslatorContract):
    translator = KiroTranslator()
    samples = [_sample("text"), _sample("tool-use"), _sample("exception")]
    opt_out = {
        "request_round_trip": "an upstream-only wire: the gateway never decodes a Kiro request",
        "response_round_trip": "an upstream-only wire: the gateway never encodes a Kiro answer",
    }
