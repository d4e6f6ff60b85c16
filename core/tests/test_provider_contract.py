"""The provider contract catches what it promises to catch.

A pytest run in a temporary directory (as a third-party plugin's repository would be:
asyncio in strict mode, the kit found through its ``pytest11`` entry point) runs the
contract against a correct provider and against providers broken one way each; every
broken provider must fail exactly the checks its defect breaks, and nothing else.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

PLUGINS = textwrap.dedent(
    '''
    import logging

    import pytest
    from cliproxy import (
        Credential, DirectResponse, GatewayError, ModelEntry, Provider, credential_id, hookimpl,
        ir, mask_secret, read_common_fields,
    )
    from cliproxy.testing import ProviderContract, wire_answer

    log = logging.getLogger("broken")


    class Good(Provider):
        name = "good"
        config_keys = ("good",)
        wire = "openai-chat"
        call_done = True

        def load_config(self, key, node, host):
            out = []
            for entry in node.nodes(key):
                fields = read_common_fields(entry, api_key=True, base_url="")
                if self.call_done:
                    entry.done()
                out.append(fields.credential(
                    id=credential_id(self.name, fields.api_key), provider=self.name,
                    label=mask_secret(fields.api_key), settings=fields, source=entry.location(),
                ))
            return out

        def default_models(self, credential):
            return (ModelEntry("good-1"),)

        async def send(self, call):
            fields = call.credential.settings
            return await call.post(
                fields.base_url + "/chat/completions", wire=self.wire, json=call.body_for(self.wire),
                headers={"authorization": "Bearer " + fields.api_key},
            )


    class NoDone(Good):
        call_done = False


    class FlattensErrors(Good):
        """Answers every upstream error as a 502, losing the status and Retry-After."""

        async def send(self, call):
            try:
                return await super().send(call)
            except GatewayError as error:
                raise GatewayError.from_status(502, "the upstream failed") from error


    class Leaky(Good):
        async def send(self, call):
            log.info("calling with key %s", call.credential.settings.api_key)
            return await super().send(call)


    class Local(Good):
        def text(self, call):
            return "Hello from the fake upstream."

        async def send(self, call):
            text = ir.TextPart(self.text(call))
            response = ir.Response(id="x", model=call.model, parts=[text], finish=ir.Finish(ir.FinishReason.STOP))
            if call.stream:
                async def events():
                    for event in ir.response_events(response):
                        yield event
                return DirectResponse(events=events())
            return DirectResponse(response=response)


    class Moody(Local):
        """Answers each client door with other words."""

        def text(self, call):
            return "Hello, " + call.client.wire


    class Plugin:
        def __init__(self, provider):
            self.provider = provider
            self.__name__ = type(provider).__name__

        @hookimpl
        def register_providers(self, register):
            register(self.provider)


    class Base(ProviderContract):
        model = "good-1"
        answer = "Hello from the fake upstream."

        @pytest.fixture
        def upstream(self, fake_upstream):
            fake_upstream.add("POST", "/v1/chat/completions", wire_answer("openai-chat", self.answer))
            return fake_upstream

        @pytest.fixture
        def config(self, upstream):
            return {"good": [{"api-key": "sk-contract-test-0123456789", "base-url": upstream.url + "/v1"}]}


    class TestGood(Base):
        plugins = [Plugin(Good())]


    class TestNoDone(Base):
        plugins = [Plugin(NoDone())]


    class TestFlattensErrors(Base):
        plugins = [Plugin(FlattensErrors())]


    class TestLeaky(Base):
        plugins = [Plugin(Leaky())]


    class TestLocal(Base):
        plugins = [Plugin(Local())]


    NO_UPSTREAM = "answers locally"


    class TestMoody(Base):
        plugins = [Plugin(Moody())]
        opt_out = {name: NO_UPSTREAM for name in ("upstream", "unauthorized", "rate_limit", "server_error", "bad_request")}


    class TestEmptyAnswer(Base):
        plugins = [Plugin(Good())]
        answer = ""


    class TestOptedOut(Base):
        plugins = [Plugin(FlattensErrors())]
        opt_out = {
            "unauthorized": "this test says so",
            "rate_limit": "this test says so",
            "bad_request": "this test says so",
        }


    class TestUnknownOptOut(Base):
        plugins = [Plugin(Good())]
        opt_out = {"rate-limit": "a typo of rate_limit"}


    class TestOptOutWithoutReason(Base):
        plugins = [Plugin(Good())]
        opt_out = {"secrets": " "}
    '''
)

STATUS_TESTS = {
    "unauthorized": "test_upstream_401_rests_the_credential",
    "rate_limit": "test_upstream_429_rests_the_model_as_long_as_retry_after_says",
    "server_error": "test_upstream_500_rests_the_model",
    "bad_request": "test_upstream_400_rests_nothing",
}


def both(*names: str) -> set[str]:
    """Each test, whole and streamed."""
    return {f"{name}[{mode}]" for name in names for mode in ("whole", "stream")}


DOORS = both("test_every_door_answers")
TESTS = {
    "test_credentials_load_from_the_config",
    "test_a_stray_key_is_a_located_config_error",
    "test_models_lists_the_model",
    "test_secrets_never_leak",
    *DOORS,
    *both(*STATUS_TESTS.values()),
}

EXPECTED_FAILURES = {
    "TestGood": set(),
    "TestNoDone": {"test_a_stray_key_is_a_located_config_error"},
    "TestFlattensErrors": both(STATUS_TESTS["unauthorized"], STATUS_TESTS["rate_limit"], STATUS_TESTS["bad_request"]),
    "TestLeaky": {"test_secrets_never_leak"},
    "TestLocal": DOORS | both(*STATUS_TESTS.values()),
    "TestEmptyAnswer": DOORS,
    "TestMoody": DOORS,
    "TestOptedOut": set(),
    "TestUnknownOptOut": TESTS,
    "TestOptOutWithoutReason": TESTS,
}

OPTED_OUT = {
    "TestOptedOut": both(STATUS_TESTS["unauthorized"], STATUS_TESTS["rate_limit"], STATUS_TESTS["bad_request"]),
    "TestMoody": both(*STATUS_TESTS.values()),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    """One pytest run over every class: ``({"Class::test": outcome}, output)``."""
    where = tmp_path_factory.mktemp("contract-run")
    (where / "test_plugins.py").write_text(PLUGINS)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "test_plugins.py"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=600,
        env=_clean_env(),
    )
    outcomes = {
        match.group(2): match.group(1)
        for match in re.finditer(r"^(PASSED|FAILED|ERROR|SKIPPED) test_plugins\.py::(\S+)", done.stdout, re.M)
    }
    return outcomes, done.stdout + done.stderr


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}


@pytest.mark.parametrize("cls", sorted(EXPECTED_FAILURES))
def test_each_provider_fails_exactly_the_checks_it_breaks(run: tuple[dict[str, str], str], cls: str) -> None:
    outcomes, output = run
    expected_run = TESTS - OPTED_OUT.get(cls, set())
    ran = {name.split("::", 1)[1]: outcome for name, outcome in outcomes.items() if name.startswith(cls + "::")}
    assert set(ran) == expected_run, output
    failed = {name for name, outcome in ran.items() if outcome != "PASSED"}
    assert failed == EXPECTED_FAILURES[cls], output
    assert "SKIPPED" not in ran.values(), output


def test_failures_say_what_is_wrong_and_how_to_fix_it(run: tuple[dict[str, str], str]) -> None:
    _, output = run
    assert "read the entry through ConfigNode and call entry.done()" in output
    assert "an upstream 401 should rest whole credentials" in output
    assert "map the header onto GatewayError.retry_after" in output or "should rest the model" in output
    assert "secrets leaked: the log shows 'sk-contract-test-0123456789'" in output
    assert "chat: the request never reached the fake upstream" in output
    assert "chat: the answer carries no text, reasoning or tool call" in output
    assert "the doors disagree on the answer: {'chat': ('Hello, openai-chat', ())" in output
    assert "TestUnknownOptOut.opt_out names 'rate-limit', which is no check" in output
    assert "TestOptOutWithoutReason.opt_out['secrets'] needs a reason" in output


def test_opt_outs_are_listed_with_their_reasons(run: tuple[dict[str, str], str]) -> None:
    _, output = run
    summary = output.split("cliproxy contract checks opted out", 1)[1]
    for name in ("unauthorized", "rate_limit", "bad_request"):
        assert f"test_plugins.py::TestOptedOut: {name} -- this test says so" in summary
    assert "test_plugins.py::TestMoody: upstream -- answers locally" in summary
    assert "14 deselected" in output
