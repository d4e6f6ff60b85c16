"""Claude Code, Codex and Gemini CLI, the real ones, through `cliproxy serve`.

Each CLI, at the version pinned in package.json and configured exactly as docs/clients.md
says, runs headless against the gateway in front of fake Anthropic, OpenAI Chat and Gemini
upstreams and a fake Codex backend (a ChatGPT account of cliproxy-codex): a plain prompt, a streamed answer, and a tool loop in which the fake model asks
the CLI to run its own shell tool and answers once the output came back. Every run has a
home of its own and a proxy that refuses anything but loopback; nothing may try to leave.
"""

from __future__ import annotations

from typing import Any

import pytest

from .runner import CLIENTS, PIECE_DELAY, PREFIXES, UPSTREAM_MODELS, Case, Gateway, Run

UPSTREAMS = tuple(PREFIXES)
# What Claude Code 2.1.197 sends as a mid-conversation system message with a non-Claude
# model name, and as a <system-reminder> in a user turn with a Claude one.
SYSTEM_MESSAGE = "Available agent types for the Agent tool"


def cases(scenario: str, clients=CLIENTS, upstreams=UPSTREAMS, variant: str = "") -> list[Any]:
    return [
        pytest.param(Case(client, upstream, scenario, variant), id=f"{client}-{upstream}")
        for client in clients
        for upstream in upstreams
    ]


def served(run: Run, gateway: Gateway) -> None:
    """The run ended well, its requests reached the right upstream as the right model, and
    it tried to reach nothing else."""
    why = run.describe() + "gateway log (tail):\n" + gateway.log_tail()
    assert run.returncode == 0, f"the CLI failed{why}"
    assert run.asks, f"no request of this case reached an upstream{why}"
    assert {ask.wire for ask in run.asks} == {run.case.upstream}, why
    model = UPSTREAM_MODELS[(run.case.upstream, run.case.alias)]
    small = UPSTREAM_MODELS[(run.case.upstream, "claude-haiku-4-5")]  # Claude Code's small model
    asked = {ask.model for ask in run.asks}
    assert model in asked and asked <= {model, small}, why
    assert not run.escapes, f"the CLI tried to leave loopback{why}"


# -- what each CLI shows -------------------------------------------------------------------


def streamed_text(run: Run) -> list[tuple[float, str]]:
    """The answer's text deltas as the CLI printed them, with arrival times."""
    deltas = []
    for at, event in run.events():
        if run.case.client == "claude-code" and event.get("type") == "stream_event":
            inner = event["event"]
            if inner.get("type") == "content_block_delta" and inner["delta"].get("type") == "text_delta":
                deltas.append((at, inner["delta"]["text"]))
        if run.case.client == "gemini-cli" and event.get("type") == "message" and event.get("role") == "assistant":
            deltas.append((at, event["content"]))
    return deltas


def final_answer(run: Run) -> str:
    """The last answer of the model, from the CLI's JSON events."""
    events = [event for _, event in run.events()]
    if run.case.client == "claude-code":
        results = [event for event in events if event.get("type") == "result"]
        assert results and not results[-1].get("is_error"), run.describe()
        return results[-1]["result"]
    if run.case.client == "codex":
        messages = [
            event["item"]["text"]
            for event in events
            if event.get("type") == "item.completed" and event["item"].get("type") == "agent_message"
        ]
        assert messages, run.describe()
        return messages[-1]
    texts: list[str] = []
    for event in events:
        if event.get("type") == "tool_result":
            texts = []  # the answer after the tool ran
        if event.get("type") == "message" and event.get("role") == "assistant":
            texts.append(event["content"])
    return "".join(texts)


def tool_runs(run: Run) -> list[tuple[str, str]]:
    """``(command, output)`` of each shell command the CLI reports it ran."""
    events = [event for _, event in run.events()]
    found = []
    if run.case.client == "claude-code":
        commands = {}
        for event in events:
            content = (event.get("message") or {}).get("content")
            for block in content if isinstance(content, list) else ():
                if block.get("type") == "tool_use" and block.get("name") == "Bash":
                    commands[block["id"]] = block["input"].get("command", "")
                if block.get("type") == "tool_result" and block.get("tool_use_id") in commands:
                    output = block.get("content")
                    if isinstance(output, list):
                        output = "".join(part.get("text", "") for part in output)
                    found.append((commands[block["tool_use_id"]], str(output)))
    elif run.case.client == "codex":
        for event in events:
            item = event.get("item") or {}
            if event.get("type") == "item.completed" and item.get("type") == "command_execution":
                assert item.get("exit_code") == 0, run.describe()
                found.append((item["command"], item.get("aggregated_output", "")))
    else:
        commands = {}
        for event in events:
            if event.get("type") == "tool_use" and event.get("tool_name") == "run_shell_command":
                commands[event["tool_id"]] = event["parameters"].get("command", "")
            if event.get("type") == "tool_result" and event.get("tool_id") in commands:
                assert event.get("status") == "success", run.describe()
                found.append((commands[event["tool_id"]], event.get("output", "")))
    return found


# -- the matrix ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("plain"))
def test_plain_prompt(case: Case, runs: dict[Case, Run], gateway: Gateway):
    run = runs[case]
    served(run, gateway)
    assert run.stdout.strip() == case.plain_text, run.describe()


@pytest.mark.parametrize("case", cases("stream"))
def test_streamed_answer(case: Case, runs: dict[Case, Run], gateway: Gateway):
    run = runs[case]
    served(run, gateway)
    full = "".join(case.stream_pieces)
    assert all(ask.stream for ask in run.asks), f"the gateway did not stream from the upstream{run.describe()}"
    if case.client == "codex":  # `codex exec --json` shows whole items only, no deltas
        assert final_answer(run) == full, run.describe()
        return
    deltas = streamed_text(run)
    assert "".join(text for _, text in deltas) == full, run.describe()
    # The fake sends 8 pieces PIECE_DELAY apart; had anything on the way buffered the
    # answer, the CLI would have printed it at once.
    assert len(deltas) >= 4, f"the answer came in {len(deltas)} pieces{run.describe()}"
    spread = deltas[-1][0] - deltas[0][0]
    minimum = 0.5 * (len(case.stream_pieces) - 1) * PIECE_DELAY
    assert spread >= minimum, f"the pieces arrived within {spread:.2f}s, not streamed{run.describe()}"


@pytest.mark.parametrize("case", cases("tool"))
def test_tool_loop(case: Case, runs: dict[Case, Run], gateway: Gateway):
    run = runs[case]
    served(run, gateway)
    first = run.asks[0]
    assert case.tool in first.tools, f"{case.tool} was not offered upstream: {sorted(first.tools)}{run.describe()}"
    ran = tool_runs(run)
    assert any(case.marker in output for _, output in ran), f"the CLI did not run the tool: {ran}{run.describe()}"
    returned = [ask for ask in run.asks if ask.last_is_tool_result]
    assert returned, f"no tool result reached the upstream{run.describe()}"
    assert case.marker in returned[-1].tool_results[-1], run.describe()
    assert final_answer(run) == case.final_text, run.describe()
    if case.upstream == "gemini":  # its signature on the call came back with the call
        history = returned[-1].record.json["contents"]
        calls = [part for content in history for part in content.get("parts", []) if "functionCall" in part]
        assert [part.get("thoughtSignature") for part in calls] == [case.signature], calls


# -- documented settings -------------------------------------------------------------------


@pytest.mark.parametrize("case", [Case("claude-code", "openai-chat", "plain", "api-key")], ids=["openai-chat"])
def test_claude_code_with_anthropic_api_key(case: Case, runs: dict[Case, Run], gateway: Gateway):
    """ANTHROPIC_API_KEY (x-api-key) works like ANTHROPIC_AUTH_TOKEN (Bearer)."""
    run = runs[case]
    served(run, gateway)
    assert run.stdout.strip() == case.plain_text, run.describe()


@pytest.mark.parametrize("case", cases("plain", upstreams=("openai-chat",), variant="docs-only"))
def test_documented_settings_alone_keep_the_clients_on_loopback(case: Case, runs: dict[Case, Run], gateway: Gateway):
    """The quiet settings of docs/clients.md suffice: nothing else the suite adds is needed."""
    run = runs[case]
    served(run, gateway)
    assert run.stdout.strip() == case.plain_text, run.describe()


CALLS_HOME = {"claude-code": "api.anthropic.com", "codex": "chatgpt.com", "gemini-cli": "play.googleapis.com"}


@pytest.mark.parametrize("case", cases("plain", upstreams=("openai-chat",), variant="no-quiet-settings"))
def test_without_the_quiet_settings_the_tripwire_catches_the_clients(case: Case, runs: dict[Case, Run]):
    """The guard works, and the page's quiet settings matter: without them each CLI tries
    to reach its vendor, and the tripwire proxy refuses it."""
    run = runs[case]
    assert run.returncode == 0, run.describe()
    assert run.stdout.strip() == case.plain_text, run.describe()
    assert any(CALLS_HOME[case.client] in attempt for attempt in run.escapes), run.describe()


@pytest.mark.parametrize("case", [Case("gemini-cli", "openai-chat", "plain", "no-auth-type")], ids=["openai-chat"])
def test_gemini_cli_refuses_to_start_without_the_auth_type(case: Case, runs: dict[Case, Run]):
    run = runs[case]
    assert run.returncode == 41, run.describe()
    assert "Invalid auth method selected" in run.stdout + run.stderr, run.describe()
    assert not run.asks


@pytest.mark.parametrize("case", [Case("gemini-cli", "openai-chat", "plain", "untrusted")], ids=["openai-chat"])
def test_gemini_cli_headless_stops_in_an_untrusted_folder(case: Case, runs: dict[Case, Run]):
    run = runs[case]
    assert run.returncode == 55, run.describe()
    assert "GEMINI_CLI_TRUST_WORKSPACE" in run.stdout + run.stderr, run.describe()
    assert not run.asks


@pytest.mark.parametrize("case", [Case("gemini-cli", "openai-chat", "plain", "skip-trust")], ids=["openai-chat"])
def test_gemini_cli_skip_trust_flag_replaces_the_variable(case: Case, runs: dict[Case, Run], gateway: Gateway):
    run = runs[case]
    served(run, gateway)
    assert run.stdout.strip() == case.plain_text, run.describe()


@pytest.mark.parametrize("case", [Case("codex", "openai-chat", "plain", "chat-wire")], ids=["openai-chat"])
def test_codex_refuses_the_chat_wire_itself(case: Case, runs: dict[Case, Run]):
    run = runs[case]
    assert run.returncode not in (0, None), run.describe()
    assert "wire_api" in run.stderr, run.describe()
    assert not run.asks


@pytest.mark.parametrize("case", [Case("codex", "openai-chat", "plain", "no-git-check")], ids=["openai-chat"])
def test_codex_exec_outside_a_git_repository_needs_the_skip_flag(case: Case, runs: dict[Case, Run]):
    run = runs[case]
    assert run.returncode not in (0, None), run.describe()
    assert "--skip-git-repo-check" in run.stderr, run.describe()
    assert not run.asks


@pytest.mark.parametrize(
    ("case", "system_role"),
    [
        pytest.param(Case("claude-code", "anthropic", "plain"), False, id="claude-sonnet-4-5"),
        pytest.param(Case("claude-code", "anthropic", "plain", "any-alias"), True, id="core-sonnet"),
    ],
)
def test_claude_code_model_name_decides_its_request_format(case: Case, system_role: bool, runs: dict[Case, Run]):
    """What docs/clients.md says: a classic Claude name gets the classic format, any other
    name `role: "system"` messages (seen as sent, through the Anthropic pass-through)."""
    run = runs[case]
    assert run.asks, run.describe()
    for ask in run.asks:
        roles = [message["role"] for message in ask.record.json["messages"]]
        assert ("system" in roles) is system_role, f"{case.model}: roles {roles}"


# -- what the gateway must carry (known defects of issue 14 make some of these fail) --------


@pytest.mark.parametrize("case", cases("plain", clients=("claude-code",), variant="any-alias"))
def test_claude_code_works_with_any_model_alias(case: Case, runs: dict[Case, Run], gateway: Gateway):
    """With a name like `core-sonnet`, Claude Code sends `role: "system"` messages inside
    `messages` (beta mid-conversation-system-2026-04-07): every upstream must get them, in
    its own form."""
    run = runs[case]
    served(run, gateway)
    assert run.stdout.strip() == case.plain_text, run.describe()
    for ask in run.asks:
        assert SYSTEM_MESSAGE in ask.conversation, f"the system message was lost{run.describe()}"


@pytest.mark.parametrize("case", cases("tool", clients=("codex",)))
def test_codex_namespace_tools_reach_the_upstream(case: Case, runs: dict[Case, Run], codex_own_request: dict[str, Any]):
    """Codex groups some tools in `type: "namespace"` entries; each member must reach every
    upstream as a function tool (under a name that contains its own)."""
    functions, members = [], []
    for tool in codex_own_request["tools"]:
        if tool.get("type") == "function":
            functions.append(tool["name"])
        if tool.get("type") == "namespace":
            members += [member["name"] for member in tool.get("tools", []) if member.get("type") == "function"]
    assert members, f"Codex sent no namespace tools: {codex_own_request['tools']}"
    run = runs[case]
    offered = set(run.asks[0].tools) if run.asks else set()
    assert set(functions) <= offered, run.describe()
    missing = [name for name in members if not any(name in tool for tool in offered)]
    assert not missing, f"namespace tools {missing} did not reach the upstream; it got {sorted(offered)}"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(Case(client, upstream, "plain"), id=f"{client}-{upstream}")
        for client in ("codex", "gemini-cli")
        for upstream in ("openai-chat", "gemini")
    ],
)
def test_no_reasoning_effort_the_client_did_not_ask_for(case: Case, runs: dict[Case, Run]):
    """Codex asks only for reasoning summaries, Gemini CLI only for thoughts: no effort level
    may appear upstream that neither the client nor the config chose."""
    run = runs[case]
    assert run.asks, run.describe()
    for ask in run.asks:
        body = ask.record.json
        if case.upstream == "openai-chat":
            assert "reasoning_effort" not in body, f"invented reasoning_effort {body['reasoning_effort']!r}"
        else:
            thinking = body.get("generationConfig", {}).get("thinkingConfig", {})
            assert not {"thinkingBudget", "thinkingLevel"} & set(thinking), f"invented {thinking}"
