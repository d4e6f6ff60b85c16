"""The official openai SDK through a real gateway server to a fake Kiro speaking the
binary event stream."""

from __future__ import annotations

import json
import stat

import openai
import pytest
from cliproxy.testing import FakeUpstream, Reply, serve_app
from cliproxy_kiro import testing as kt

GENERATE = "/generateAssistantResponse"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        },
    }
]


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)


def ask(url: str, content: str = "hi", **kw):
    return client(url).chat.completions.create(
        model=kw.pop("model", "claude-sonnet-4-5"), messages=[{"role": "user", "content": content}], **kw
    )


def test_non_stream_folds_the_event_stream(upstream: FakeUpstream, kiro_app, recording):
    upstream.add("POST", GENERATE, kt.reply([recording("kiro/SYNTHETIC-text.eventstream.bin").read_bytes()]))
    with serve_app(kiro_app()) as url:
        answer = client(url).chat.completions.create(
            model="claude-sonnet-4-5",
            messages=[{"role": "system", "content": "Be nice."}, {"role": "user", "content": "hello"}],
        )
    assert answer.choices[0].message.content == "Hello! How can I help?"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "claude-sonnet-4-5"
    assert answer.usage is not None and answer.usage.completion_tokens > 0 and answer.usage.prompt_tokens > 0
    sent = upstream.requests_to(GENERATE)[0]
    assert sent.headers["authorization"] == "Bearer at-1"
    assert sent.headers["x-amzn-kiro-agent-mode"] == "vibe"
    assert sent.headers["x-amzn-codewhisperer-optout"] == "true"
    assert "KiroIDE-" in sent.headers["user-agent"]
    body = sent.json
    assert body["profileArn"] == "arn:aws:codewhisperer:us-east-1:123456789012:profile/TEST"
    current = body["conversationState"]["currentMessage"]["userInputMessage"]
    assert current["modelId"] == "claude-sonnet-4.5"
    assert current["content"] == "Be nice.\n\nhello"


def test_stream_relays_text_as_it_arrives_with_usage(upstream: FakeUpstream, kiro_app):
    frames = [*kt.text("The ", "answer ", "is 4."), kt.token_usage(30, 5, cache_read=10), kt.metering(0.01)]
    upstream.add("POST", GENERATE, kt.reply(frames, chunk_size=7))  # frames cut across network reads
    with serve_app(kiro_app()) as url:
        chunks = list(ask(url, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The answer is 4."
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (30, 5)
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 10


def test_tool_calls_stream_fragment_by_fragment(upstream: FakeUpstream, kiro_app, recording):
    upstream.add(
        "POST", GENERATE, kt.reply([recording("kiro/SYNTHETIC-tool-use.eventstream.bin").read_bytes()], chunk_size=50)
    )
    with serve_app(kiro_app()) as url:
        chunks = list(ask(url, "what is in foo.txt?", tools=TOOLS, stream=True))
    calls = [call for c in chunks if c.choices for call in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].id == "tooluse_Q2xhdWRlRXhhbXBsZQ" and calls[0].function.name == "read_file"
    assert "".join(call.function.arguments or "" for call in calls) == '{"path": "foo.txt"}'
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    tools = upstream.requests_to(GENERATE)[0].json["conversationState"]["currentMessage"]["userInputMessage"][
        "userInputMessageContext"
    ]["tools"]
    assert tools[0]["toolSpecification"]["name"] == "read_file"


def test_tool_round_trip_sends_results_back(upstream: FakeUpstream, kiro_app):
    upstream.add("POST", GENERATE, kt.reply(kt.text("It says hello.")))
    with serve_app(kiro_app()) as url:
        answer = client(url).chat.completions.create(
            model="claude-sonnet-4-5",
            tools=TOOLS,
            messages=[
                {"role": "user", "content": "read foo.txt"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "t1",
                            "type": "function",
                            "function": {"name": "read_file", "arguments": '{"path":"foo.txt"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "t1", "content": "hello"},
            ],
        )
    assert answer.choices[0].message.content == "It says hello."
    state = upstream.requests_to(GENERATE)[0].json["conversationState"]
    assert state["history"][1]["assistantResponseMessage"]["toolUses"] == [
        {"toolUseId": "t1", "name": "read_file", "input": {"path": "foo.txt"}}
    ]
    context = state["currentMessage"]["userInputMessage"]["userInputMessageContext"]
    assert context["toolResults"] == [{"toolUseId": "t1", "content": [{"text": "hello"}], "status": "success"}]


def test_thinking_is_requested_and_returned_as_reasoning(upstream: FakeUpstream, kiro_app):
    upstream.add("POST", GENERATE, kt.reply(kt.text("<thinking>2+2", " is 4</thi", "nking>\n\n4")))
    with serve_app(kiro_app()) as url:
        chunks = list(ask(url, "2+2?", reasoning_effort="low", stream=True))
        whole = ask(url, "2+2?", reasoning_effort="low")
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (reasoning, text) == ("2+2 is 4", "4")
    assert whole.choices[0].message.content == "4"
    assert whole.choices[0].message.model_extra["reasoning_content"] == "2+2 is 4"
    content = upstream.requests_to(GENERATE)[0].json["conversationState"]["currentMessage"]["userInputMessage"][
        "content"
    ]
    assert content.startswith("<thinking_mode>enabled</thinking_mode>\n<max_thinking_length>1024</max_thinking_length>")


def test_images_travel_inline(upstream: FakeUpstream, kiro_app):
    upstream.add("POST", GENERATE, kt.reply(kt.text("a cat")))
    with serve_app(kiro_app()) as url:
        client(url).chat.completions.create(
            model="claude-sonnet-4-5",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    ],
                }
            ],
        )
        with pytest.raises(openai.BadRequestError, match="inline"):
            client(url).chat.completions.create(
                model="claude-sonnet-4-5",
                messages=[
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}
                ],
            )
    current = upstream.requests_to(GENERATE)[0].json["conversationState"]["currentMessage"]["userInputMessage"]
    assert current["images"] == [{"format": "png", "source": {"bytes": "iVBORw0KGgo="}}]
    assert len(upstream.requests_to(GENERATE)) == 1  # the URL image never reached Kiro


def test_monthly_quota_becomes_a_429_with_retry_hint(upstream: FakeUpstream, kiro_app, recording):
    bodies = json.loads(recording("kiro/OBSERVED-error-bodies.json").read_text())
    upstream.add("POST", GENERATE, Reply.json(bodies["402_quota_exhausted"], status=402))
    with serve_app(kiro_app()) as url, pytest.raises(openai.RateLimitError) as caught:
        ask(url)
    assert "quota exhausted" in caught.value.message
    assert int(caught.value.response.headers["retry-after"]) >= 1


def test_throttling_fails_over_to_the_next_account(upstream: FakeUpstream, kiro_app, kiro_entry):
    def answer(request):
        if request.headers["authorization"] == "Bearer at-busy":
            return Reply.json(
                {"message": "Rate exceeded"}, status=429, headers={"x-amzn-ErrorType": "ThrottlingException"}
            )
        return kt.reply(kt.text("from the spare"))

    upstream.add("POST", GENERATE, answer)
    entries = [
        kiro_entry(**{"access-token": "at-busy", "priority": 1}),
        kiro_entry(**{"access-token": "at-spare", "refresh-token": "rt-9"}),
    ]
    with serve_app(kiro_app(entries)) as url:
        assert ask(url).choices[0].message.content == "from the spare"
        assert ask(url).choices[0].message.content == "from the spare"
    tokens = [r.headers["authorization"] for r in upstream.requests_to(GENERATE)]
    assert tokens == ["Bearer at-busy", "Bearer at-spare", "Bearer at-spare"]  # the busy one rests


def test_invalid_bearer_refreshes_once_and_retries(upstream: FakeUpstream, kiro_app, refresh_reply, recording):
    bodies = json.loads(recording("kiro/OBSERVED-error-bodies.json").read_text())

    def answer(request):
        if request.headers["authorization"] == "Bearer at-1":
            return Reply.json({"message": bodies["403_bad_token_substring"] + "."}, status=403)
        return kt.reply(kt.text("fresh"))

    upstream.add("POST", GENERATE, answer)
    upstream.add(
        "POST", "/refreshToken", refresh_reply(profileArn="arn:aws:codewhisperer:us-east-1:123456789012:profile/NEW")
    )
    with serve_app(kiro_app()) as url:
        assert ask(url).choices[0].message.content == "fresh"
        assert ask(url).choices[0].message.content == "fresh"
    assert [r.json for r in upstream.requests_to("/refreshToken")] == [{"refreshToken": "rt-1"}]
    sent = upstream.requests_to(GENERATE)
    assert [r.headers["authorization"] for r in sent] == ["Bearer at-1", "Bearer at-2", "Bearer at-2"]
    assert [r.json["profileArn"].rsplit("/", 1)[1] for r in sent] == ["TEST", "NEW", "NEW"]


def test_a_token_still_refused_after_refresh_is_a_401(upstream: FakeUpstream, kiro_app, refresh_reply):
    upstream.add(
        "POST", GENERATE, Reply.json({"message": "The bearer token included in the request is invalid."}, status=403)
    )
    upstream.add("POST", "/refreshToken", refresh_reply())
    with serve_app(kiro_app()) as url, pytest.raises(openai.AuthenticationError, match="freshly refreshed"):
        ask(url)
    assert len(upstream.requests_to("/refreshToken")) == 1


def test_token_file_is_refreshed_ahead_of_expiry_and_written_back(
    upstream: FakeUpstream, kiro_app, kiro_entry, refresh_reply, tmp_path
):
    token_file = tmp_path / "kiro-auth-token.json"
    token_file.write_text(
        json.dumps(
            {
                "accessToken": "at-old",
                "refreshToken": "rt-old",
                "expiresAt": "2020-01-01T00:00:00.000Z",
                "authMethod": "social",
                "provider": "Google",
                "profileArn": "arn:aws:codewhisperer:us-east-1:123456789012:profile/FILE",
                "ideOnlyField": "kept",
            }
        )
    )
    upstream.add("POST", "/refreshToken", refresh_reply(access="at-new", refresh="rt-new"))
    upstream.add("POST", GENERATE, kt.reply(kt.text("ok")))
    entry = kiro_entry(
        **{"access-token": None, "refresh-token": None, "profile-arn": None, "token-file": str(token_file)}
    )
    with serve_app(kiro_app([entry])) as url:
        assert ask(url).choices[0].message.content == "ok"
    assert len(upstream.requests_to("/refreshToken")) == 1
    sent = upstream.requests_to(GENERATE)[0]
    assert sent.headers["authorization"] == "Bearer at-new"
    assert sent.json["profileArn"] == "arn:aws:codewhisperer:us-east-1:123456789012:profile/FILE"
    saved = json.loads(token_file.read_text())
    assert (saved["accessToken"], saved["refreshToken"], saved["ideOnlyField"]) == ("at-new", "rt-new", "kept")
    assert saved["expiresAt"] > "2020"
    assert "access_token" not in saved  # the IDE's layout stays the IDE's layout
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_content_length_exceeded_mid_stream_ends_with_length(upstream: FakeUpstream, kiro_app, recording):
    upstream.add(
        "POST", GENERATE, kt.reply([recording("kiro/SYNTHETIC-exception.eventstream.bin").read_bytes()], chunk_size=64)
    )
    with serve_app(kiro_app()) as url:
        chunks = list(ask(url, stream=True))
        whole = ask(url)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Partial"
    assert chunks[-1].choices[0].finish_reason == "length"
    assert (whole.choices[0].message.content, whole.choices[0].finish_reason) == ("Partial", "length")


def test_context_exceeded_before_answering_is_a_400(upstream: FakeUpstream, kiro_app):
    upstream.add("POST", GENERATE, kt.reply([kt.exception("ContentLengthExceededException", "Input is too long.")]))
    with serve_app(kiro_app()) as url, pytest.raises(openai.BadRequestError, match="longer than the model accepts"):
        ask(url)


def test_corrupt_frame_mid_stream_reaches_the_client_as_an_error(upstream: FakeUpstream, kiro_app):
    good = kt.text("first ")
    bad = bytearray(kt.text("second")[0])
    bad[-1] ^= 0xFF  # break the message CRC
    upstream.add("POST", GENERATE, kt.reply([*good, bytes(bad)]))
    with serve_app(kiro_app()) as url, pytest.raises(openai.APIError, match="broken event stream"):
        list(ask(url, stream=True))
    with serve_app(kiro_app()) as url, pytest.raises(openai.APIStatusError) as caught:
        ask(url)  # a fresh gateway: the first one rests the account after the failure
    assert caught.value.status_code == 502 and "CRC" in caught.value.message


def test_oversized_conversations_are_refused_before_reaching_kiro(upstream: FakeUpstream, kiro_app, kiro_entry):
    upstream.add("POST", GENERATE, kt.reply(kt.text("never")))
    with (
        serve_app(kiro_app([kiro_entry(**{"max-payload-bytes": 2048})])) as url,
        pytest.raises(openai.APIStatusError) as caught,
    ):
        ask(url, "x" * 5000)
    assert caught.value.status_code == 413 and "shorten" in caught.value.message
    assert not upstream.requests_to(GENERATE)


def test_models_list_has_kiro_and_anthropic_names(upstream: FakeUpstream, kiro_app):
    with serve_app(kiro_app()) as url:
        ids = {m.id for m in client(url).models.list()}
    assert {"claude-sonnet-4.5", "claude-sonnet-4-5-20250929", "claude-haiku-4-5", "auto"} <= ids


def test_long_tool_names_are_shortened_for_kiro_and_restored_for_the_client(upstream: FakeUpstream, kiro_app):
    long_name = "mcp__github__create_or_update_file_in_a_repository_with_a_very_long_name"
    assert len(long_name) > 64

    def answer(request):
        spec = request.json["conversationState"]["currentMessage"]["userInputMessage"]["userInputMessageContext"][
            "tools"
        ][0]
        return kt.reply(kt.tool_use("t1", spec["toolSpecification"]["name"], ['{"path": "a"}']))

    upstream.add("POST", GENERATE, answer)
    tools = [{"type": "function", "function": {"name": long_name, "parameters": {"type": "object"}}}]
    with serve_app(kiro_app()) as url:
        whole = ask(url, tools=tools)
        streamed = list(ask(url, tools=tools, stream=True))
    sent = upstream.requests_to(GENERATE)[0].json
    kiro_name = sent["conversationState"]["currentMessage"]["userInputMessage"]["userInputMessageContext"]["tools"][0][
        "toolSpecification"
    ]["name"]
    assert len(kiro_name) <= 64 and kiro_name != long_name
    assert whole.choices[0].message.tool_calls[0].function.name == long_name
    names = [
        call.function.name
        for c in streamed
        if c.choices
        for call in (c.choices[0].delta.tool_calls or [])
        if call.function.name
    ]
    assert names == [long_name]


def test_responses_api_clients_reach_kiro_too(upstream: FakeUpstream, kiro_app):
    upstream.add(
        "POST", GENERATE, kt.reply([*kt.text("Hel", "lo"), *kt.tool_use("t1", "read_file", ['{"path": "a"}'])])
    )
    tool = {"type": "function", "name": "read_file", "parameters": TOOLS[0]["function"]["parameters"]}
    with serve_app(kiro_app()) as url:
        whole = client(url).responses.create(model="claude-sonnet-4-5", input="hi", tools=[tool])
        events = list(client(url).responses.create(model="claude-sonnet-4-5", input="hi", tools=[tool], stream=True))
    assert whole.output_text == "Hello"
    call = next(item for item in whole.output if item.type == "function_call")
    assert (call.name, call.arguments) == ("read_file", '{"path": "a"}')
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hello"
    assert events[-1].type == "response.completed"
