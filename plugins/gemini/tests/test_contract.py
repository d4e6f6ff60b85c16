"""cliproxy-gemini passes the provider contract twice: with a ``gemini-api-key`` entry
against a fake Gemini API, and with a ``gemini-cli`` token file against a fake Code Assist
(``v1internal``) and Google token endpoint. The fakes answer with the recordings and fail
with ``google.rpc.Status`` bodies, as Google does."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path

import cliproxy_gemini
import pytest
from cliproxy.testing import FakeUpstream, ProviderContract, Reply, Sample, TranslatorContract
from cliproxy_gemini.code_assist.translator import CodeAssist

RECORDINGS = Path(__file__).parents[3] / "recordings"
FLASH = "/v1beta/models/gemini-2.5-flash"
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}


class GoogleErrors:
    def fail_upstream(self, upstream: FakeUpstream, status: int, *, message: str, headers: Mapping[str, str]) -> None:
        error = {"code": status, "message": message, "status": STATUS.get(status, "UNKNOWN")}
        upstream.answer_all(Reply.json({"error": error}, status=status, headers=headers))


class TestGeminiAPIKeyContract(GoogleErrors, ProviderContract):
    plugins = [cliproxy_gemini]
    model = "flash"

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream) -> FakeUpstream:
        whole = json.loads((RECORDINGS / "gemini/vercel-google-text.json").read_text())
        fake_upstream.add("POST", FLASH + ":generateContent", Reply.json(whole))
        fake_upstream.add(
            "POST", FLASH + ":streamGenerateContent", Reply.sse_file(RECORDINGS / "gemini/DERIVED-google-text.sse.txt")
        )
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream) -> dict:
        entry = {
            "api-key": "AIza-contract-key-0001",
            "base-url": upstream.url,
            "models": [{"name": "gemini-2.5-flash", "alias": "flash"}],
        }
        return {"gemini-api-key": [entry]}


class TestGeminiCLIContract(GoogleErrors, ProviderContract):
    plugins = [cliproxy_gemini]
    model = "gemini-2.5-pro"

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream) -> FakeUpstream:
        whole = json.loads(
            (RECORDINGS / "gemini-code-assist/CONSTRUCTED-response-v1internal-generateContent.json").read_text()
        )
        whole.pop("_comment", None)
        stream = RECORDINGS / "gemini-code-assist/DERIVED-v1internal-stream-tool-call.sse.txt"
        fake_upstream.add("POST", "/v1internal:generateContent", Reply.json(whole))
        fake_upstream.add("POST", "/v1internal:streamGenerateContent", Reply.sse_file(stream))
        fake_upstream.add("POST", "/token", Reply.json({"access_token": "ya29.contract-access-2", "expires_in": 3599}))
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream, tmp_path: Path) -> dict:
        token = {
            "type": "gemini-cli",
            "email": "me@example.com",
            "project_id": "proj-a",
            "access_token": "ya29.contract-access-1",
            "refresh_token": "1//contract-refresh-1",
            "expires_at": int(time.time() + 3600),
            "client_id": "client-123",
            "client_secret": "GOCSPX-contract-secret",
        }
        (tmp_path / "gemini-cli-me@example.com.json").write_text(json.dumps(token))
        return {
            "auth-dir": str(tmp_path),
            "gemini-cli": {"base-url": upstream.url, "token-url": upstream.url + "/token"},
        }


class TestCodeAssistWireContract(TranslatorContract):
    """The ``gemini-code-assist`` wire on the recorded Code Assist stream."""

    translator = CodeAssist()
    samples = [
        Sample(stream=(RECORDINGS / "gemini-code-assist/DERIVED-v1internal-stream-tool-call.sse.txt").read_bytes())
    ]
    opt_out = {
        "request_round_trip": "an upstream-only wire: the gateway never decodes a Code Assist request",
        "response_round_trip": "an upstream-only wire: the gateway never encodes a Code Assist answer",
        "stream_is_whole": "no recording holds one Code Assist answer both streamed and whole",
    }
