"""Request logs through real servers and the openai SDK: a kept request holds what the
client sent, each upstream attempt and the answer, and no secret; failed requests are
kept with request-log off; the total stays under its cap under load; a full disk or a slow
writer never fails or holds up a request; `cliproxy logs` prints them."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cliproxy_claude
import cliproxy_gemini
import cliproxy_openai
import httpx
import openai
import pytest
from cliproxy import write_token_file
from cliproxy.app import gateway_of
from cliproxy.cli import main
from cliproxy.request_log_files import RequestLog
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, gateway_app, serve_app

CLIENT_KEY = "client-key-alpha-7f3e9b21"
OTHER_CLIENT_KEY = "client-key-bravo-0c44d1aa"
WRONG_CLIENT_KEY = "client-key-wrong-55aa66bb"
MANAGEMENT_SECRET = "mgmt-secret-5d2c8e7f11"
OPENAI_KEY = "sk-live/Abc+Def=0123456789zz"
OPENAI_KEY_2 = "sk-live-second-0123456789yy"
HEADER_SECRET = "hdr-secret-91b2c3d4e5f6"
GEMINI_KEY = "AIzaSyD-3x4mpl3K3y_9988776655"
ACCESS_TOKEN = "at-oauth-1b2c3d4e5f6a7b8c9d"
REFRESH_TOKEN = "rt-oauth-9f8e7d6c5b4a3f2e1d"
SECRETS = (
    CLIENT_KEY,
    OTHER_CLIENT_KEY,
    WRONG_CLIENT_KEY,
    MANAGEMENT_SECRET,
    OPENAI_KEY,
    OPENAI_KEY_2,
    HEADER_SECRET,
    GEMINI_KEY,
    ACCESS_TOKEN,
    REFRESH_TOKEN,
)
PLUGINS = [cliproxy_openai, cliproxy_claude, cliproxy_gemini]
CHAT = "/v1/chat/completions"
OPERATOR = {"authorization": f"Bearer {MANAGEMENT_SECRET}"}  # the management key, as every management route needs


def chat_answer(text: str = "hi") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1-nano",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


def base_config(
    upstream: FakeUpstream, logs: Path, keys: tuple[str, ...] = (OPENAI_KEY,), **extra: Any
) -> dict[str, Any]:
    return {
        "api-keys": [CLIENT_KEY, OTHER_CLIENT_KEY],
        "request-retry": 0,
        "logs-dir": str(logs),
        "remote-management": {"secret-key": MANAGEMENT_SECRET},
        "openai-compatibility": [
            {
                "name": "team",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": key} for key in keys],
                "headers": {"X-Upstream-Token": HEADER_SECRET},
                "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
            }
        ],
        **extra,
    }


def sdk(url: str, key: str = CLIENT_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def settle(url: str, expected: int, timeout: float = 30.0) -> dict[str, Any]:
    """The listing of kept requests once the writer has written ``expected`` records."""
    deadline = time.monotonic() + timeout
    while True:
        listing = httpx.get(url + "/v0/management/logs", params={"limit": 10_000}, headers=OPERATOR).json()
        writer = listing["writer"]
        if writer["written"] + writer["dropped"] + writer["write_errors"] >= expected and writer["queued"] == 0:
            return listing
        if time.monotonic() > deadline:
            raise AssertionError(f"the writer did not catch up: {listing['writer']}")
        time.sleep(0.05)


def leaks(text: str) -> list[str]:
    found = []
    for secret in SECRETS:
        forms = {secret, quote(secret, safe=""), secret.replace("/", "\\/"), secret[:16], secret[-16:]}
        found += [form for form in forms if form in text]
    return found


# -- what a kept request holds --------------------------------------------------------------


def test_a_kept_request_holds_the_client_request_each_attempt_and_the_answer(upstream, tmp_path):
    upstream.add(
        "POST",
        CHAT,
        [
            Reply.error(503, "try another"),
            Reply.sse_events(
                [
                    {
                        "id": "c",
                        "object": "chat.completion.chunk",
                        "created": 1,
                        "model": "m",
                        "choices": [{"index": 0, "delta": {"content": "Hel"}}],
                    },
                    {
                        "id": "c",
                        "object": "chat.completion.chunk",
                        "created": 1,
                        "model": "m",
                        "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}],
                    },
                ],
                done=True,
                chunk_delay=0.05,
            ),
        ],
    )
    config = base_config(
        upstream,
        tmp_path / "logs",
        (OPENAI_KEY, OPENAI_KEY_2),
        **{"request-log": True, "routing": {"strategy": "fill-first"}},
    )
    with serve_app(gateway_app(config, plugins=PLUGINS)) as url:
        raw = sdk(url).chat.completions.with_raw_response.create(
            model="nano", messages=[{"role": "user", "content": "say hello"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices) == "Hello"
        request_id = raw.headers["x-request-id"]
        settle(url, 1)
        record = httpx.get(url + f"/v0/management/logs/{request_id}", headers=OPERATOR).json()
    assert record["id"] == request_id and record["kind"] == "request" and record["status"] == 200
    assert record["client"] == "key-1" and record["model"] == "nano"
    request = record["request"]
    assert (request["method"], request["path"]) == ("POST", CHAT)
    assert json.loads(request["body"])["messages"][0]["content"] == "say hello"
    assert request["headers"]["authorization"] == "[redacted]"
    first, second = record["attempts"]
    assert first["url"] == upstream.url + "/v1/chat/completions"
    assert first["status"] == 503 and "try another" in first["response"]["body"] and first["error"]
    sent = {name.lower(): value for name, value in first["request"]["headers"].items()}
    assert sent["authorization"] == "[redacted]" and sent["x-upstream-token"] == "[redacted]"
    assert json.loads(first["request"]["body"])["model"] == "gpt-4.1-nano"
    assert second["status"] == 200 and second["response"]["headers"]["Content-Type"].startswith("text/event-stream")
    chunks = second["response"]["chunks"]
    assert chunks[0][1].startswith("data: ") and chunks[-1][1] == "data: [DONE]\n\n"
    assert chunks[-1][0] >= chunks[0][0] + 40  # the times the chunks came, 50 ms apart
    assert record["failed_attempts"][0]["status"] == 503
    response = record["response"]
    assert response["status"] == 200 and response["headers"]["x-request-id"] == request_id
    assert "Hel" in "".join(text for _, text in response["chunks"])


def claude_oauth_block(upstream: FakeUpstream) -> dict[str, Any]:
    return {
        "client-id": "test-client-id",
        "authorize-url": upstream.url + "/oauth/authorize",
        "token-url": upstream.url + "/v1/oauth/token",
        "base-url": upstream.url,
        "models": [{"name": "claude-sonnet-4-5", "alias": "sonnet"}],
    }


def echo_secrets(request: RecordedRequest) -> Reply:
    """An Anthropic stream that quotes the access token it was sent, split in two chunks."""
    token = request.headers["authorization"].removeprefix("Bearer ")
    half = len(token) // 2
    start = {
        "type": "message_start",
        "message": {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        },
    }
    events = [
        b"event: message_start\ndata: " + json.dumps(start).encode() + b"\n\n",
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"your token is '
        + token[:half].encode(),
        token[half:].encode() + b'"}}\n\n',
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}\n\n',
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
    return Reply.sse(events)


def test_logs_hold_no_secret(upstream, tmp_path):
    auth = tmp_path / "auth"
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 8 * 3600))
    write_token_file(
        auth / "claude-me@example.com.json",
        {
            "type": "claude",
            "access_token": ACCESS_TOKEN,
            "refresh_token": REFRESH_TOKEN,
            "expiry": expiry,
            "email": "me@x.com",
        },
    )
    upstream.add("POST", CHAT, Reply.json(chat_answer(f"you sent {OPENAI_KEY} and {HEADER_SECRET}")))
    upstream.add("POST", "/v1/messages", echo_secrets)
    upstream.add(
        "POST",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        Reply.json(
            {"error": {"code": 400, "message": f"API key {GEMINI_KEY} not valid", "status": "INVALID_ARGUMENT"}},
            status=400,
        ),
    )
    logs = tmp_path / "logs"
    config = base_config(
        upstream,
        logs,
        **{
            "request-log": True,
            "auth-dir": str(auth),
            "claude-oauth": claude_oauth_block(upstream),
            "gemini-api-key": [
                {
                    "api-key": GEMINI_KEY,
                    "base-url": upstream.url,
                    "models": [{"name": "gemini-2.5-flash", "alias": "flash"}],
                }
            ],
        },
    )
    app = gateway_app(config, plugins=PLUGINS)
    with serve_app(app) as url:
        client = sdk(url)
        client.chat.completions.create(model="nano", messages=[{"role": "user", "content": f"my key is {CLIENT_KEY}"}])
        streamed = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(
                model="sonnet", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            if c.choices
        )
        assert ACCESS_TOKEN in streamed  # (the answer itself is the upstream's business)
        with pytest.raises(openai.BadRequestError):
            sdk(url, OTHER_CLIENT_KEY).chat.completions.create(
                model="flash", messages=[{"role": "user", "content": "x"}]
            )
        with pytest.raises(openai.AuthenticationError):
            sdk(url, WRONG_CLIENT_KEY).chat.completions.create(
                model="nano", messages=[{"role": "user", "content": "x"}]
            )
        gemini = httpx.post(
            f"{url}/v1beta/models/flash:generateContent?key={OTHER_CLIENT_KEY}",
            json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        )
        assert gemini.status_code == 400
        assert (
            httpx.get(url + "/v0/status", headers={"authorization": f"Bearer {MANAGEMENT_SECRET}"}).status_code == 200
        )
        listing = settle(url, 5)
    assert listing["count"] == 5
    files = sorted(logs.iterdir())
    assert len(files) == 5
    text = "\n".join(path.read_text() for path in files)
    assert not leaks(text)
    assert "[redacted]" in text
    assert "your token is [redacted]" in text  # found even split between two chunks
    assert "my key is [redacted]" in text


# -- failed requests while request-log is off ----------------------------------------------


def test_failed_requests_are_kept_with_request_log_off_up_to_their_cap(upstream, tmp_path):
    upstream.add("POST", CHAT, [Reply.json(chat_answer()), *[Reply.error(400, f"broke {n}") for n in range(5)]])
    logs = tmp_path / "logs"
    config = base_config(upstream, logs, **{"error-logs-max-files": 3})
    with serve_app(gateway_app(config, plugins=PLUGINS)) as url:
        sdk(url).chat.completions.create(model="nano", messages=[{"role": "user", "content": "fine"}])
        ids = []
        for n in range(5):
            raw = httpx.post(
                url + CHAT,
                headers={"authorization": f"Bearer {CLIENT_KEY}"},
                json={"model": "nano", "messages": [{"role": "user", "content": f"failing {n}"}]},
            )
            assert raw.status_code == 400
            ids.append(raw.headers["x-request-id"])
        assert (
            httpx.post(url + CHAT, headers={"authorization": "Bearer nope"}, json={"model": "nano"}).status_code == 401
        )
        listing = settle(url, 5)
        record = httpx.get(url + f"/v0/management/logs/{ids[-1]}", headers=OPERATOR).json()
        gone = httpx.get(url + f"/v0/management/logs/{ids[0]}", headers=OPERATOR)
    assert [entry["kind"] for entry in listing["logs"]] == ["error"] * 3  # the newest three; no success, no 401
    assert [entry["id"] for entry in listing["logs"]] == ids[:1:-1]
    assert listing["request_log"] is False
    assert record["kind"] == "error" and record["status"] == 400
    assert json.loads(record["request"]["body"])["messages"][0]["content"] == "failing 4"
    assert record["failed_attempts"][0]["status"] == 400 and "broke 4" in record["failed_attempts"][0]["error"]
    assert record["response"] == {"status": 400, "error": record["error"]} and "broke 4" in record["error"]
    assert "attempts" not in record  # (upstream attempts are captured with request-log on)
    assert gone.status_code == 404 and "logs-max-total-size-mb" in gone.json()["error"]["message"]


# -- limits ---------------------------------------------------------------------------------


async def test_logs_stay_under_the_cap_under_load(upstream, tmp_path):
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    logs = tmp_path / "logs"
    config = base_config(upstream, logs, **{"request-log": True, "logs-max-total-size-mb": 1})
    filler = os.urandom(15_000).hex()  # 30 KB a request body, that does not compress
    total = 300
    with serve_app(gateway_app(config, plugins=PLUGINS)) as url:
        async with httpx.AsyncClient(
            base_url=url, headers={"authorization": f"Bearer {CLIENT_KEY}"}, timeout=60
        ) as client:
            gate = asyncio.Semaphore(32)

            async def one(n: int) -> httpx.Response:
                async with gate:
                    body = {"model": "nano", "messages": [{"role": "user", "content": f"{n} {filler}"}]}
                    return await client.post(CHAT, json=body)

            answers = await asyncio.gather(*(one(n) for n in range(total)))
        assert all(answer.status_code == 200 for answer in answers)
        listing = await asyncio.to_thread(settle, url, total)
    on_disk = sum(path.stat().st_size for path in logs.iterdir())
    assert on_disk <= 1024 * 1024
    assert listing["total_bytes"] == on_disk
    writer = listing["writer"]
    assert writer["written"] + writer["dropped"] == total and writer["write_errors"] == 0
    assert writer["written"] > 100  # (most were written: the oldest were deleted to make room)
    kept = [entry["id"] for entry in listing["logs"]]
    assert 0 < len(kept) < writer["written"]  # the oldest went to make room for the newest
    assert not any(path.name.endswith(".tmp") for path in logs.iterdir())


@pytest.mark.parametrize("broken", ["not-a-directory", "disk-full"])
def test_a_log_that_cannot_be_written_never_fails_a_request(upstream, tmp_path, monkeypatch, caplog, broken):
    upstream.add("POST", CHAT, [Reply.json(chat_answer()), Reply.error(400, "broke"), Reply.json(chat_answer())])
    logs = tmp_path / "logs"
    if broken == "not-a-directory":
        logs.write_text("a file where the directory should be")
    else:

        def full(*args: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr("cliproxy.request_log_files.os.replace", full)
    config = base_config(upstream, logs, **{"request-log": True})
    with caplog.at_level(logging.WARNING), serve_app(gateway_app(config, plugins=PLUGINS)) as url:
        client = sdk(url)
        assert client.chat.completions.create(model="nano", messages=[{"role": "user", "content": "a"}])
        with pytest.raises(openai.BadRequestError):  # a failed request: kept even with request-log off
            client.chat.completions.create(model="nano", messages=[{"role": "user", "content": "b"}])
        assert client.chat.completions.create(model="nano", messages=[{"role": "user", "content": "c"}])
        writer = settle(url, 3)["writer"]
    assert writer["write_errors"] == 3 and writer["written"] == 0
    assert sum("request log: could not write" in r.message for r in caplog.records) == 1  # warned once, not per request
    if broken == "disk-full":
        assert list(logs.iterdir()) == []  # no temporary file left behind


def test_a_slow_writer_drops_records_instead_of_holding_requests_up(upstream, tmp_path, monkeypatch):
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    monkeypatch.setattr("cliproxy.request_log_files.MAX_QUEUED", 3)
    release = threading.Event()
    real_write = RequestLog._write

    def stuck(self: RequestLog, *args: Any) -> None:
        release.wait(30)
        real_write(self, *args)

    monkeypatch.setattr(RequestLog, "_write", stuck)
    app = gateway_app(base_config(upstream, tmp_path / "logs", **{"request-log": True}), plugins=PLUGINS)
    with serve_app(app) as url:
        client = sdk(url)
        started = time.monotonic()
        for n in range(20):
            client.chat.completions.create(model="nano", messages=[{"role": "user", "content": str(n)}])
        took = time.monotonic() - started
        log = gateway_of(app).request_log
        deadline = time.monotonic() + 10
        while log.stats()["dropped"] + log.stats()["queued"] < 19 and time.monotonic() < deadline:
            time.sleep(0.01)  # (the last request is handed over just after its answer went out)
        stats = log.stats()
        release.set()
        settle(url, 20)
    assert took < 15  # nothing waited for the stuck writer
    assert (stats["queued"], stats["dropped"]) == (3, 16)  # one being written, three queued, the rest dropped
    assert log.stats()["written"] == 4


# -- listing, deleting, the CLI ------------------------------------------------------------


def test_cliproxy_logs_lists_prints_and_deletes_kept_requests(upstream, tmp_path, capsys):
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    config = base_config(upstream, tmp_path / "logs", **{"request-log": True})
    with serve_app(gateway_app(config, plugins=PLUGINS)) as url:
        raw = sdk(url).chat.completions.with_raw_response.create(
            model="nano", messages=[{"role": "user", "content": "print me"}]
        )
        request_id = raw.headers["x-request-id"]
        httpx.post(
            url + CHAT,
            headers={"authorization": f"Bearer {CLIENT_KEY}", "x-request-id": "my/own:id"},
            json={"model": "nano", "messages": []},
        )
        settle(url, 2)
        key = ["--url", url, "--management-key", MANAGEMENT_SECRET]
        assert main(["logs", *key, request_id]) == 0
        printed = capsys.readouterr().out
        assert main(["logs", *key, "--list"]) == 0
        listed = capsys.readouterr().out
        assert main(["logs", *key, "my/own:id", "--json"]) == 0
        own = json.loads(capsys.readouterr().out)
        assert main(["logs", *key, "--delete", request_id]) == 0
        assert "deleted 1 file(s)" in capsys.readouterr().out
        assert main(["logs", *key, request_id]) == 1
        assert "no kept request" in capsys.readouterr().err
        assert main(["logs", *key, "--delete", "all"]) == 0
        assert "deleted 1 file(s)" in capsys.readouterr().out
        assert httpx.get(url + "/v0/management/logs", headers=OPERATOR).json()["count"] == 0
        assert main(["logs", *key]) == 1  # no logging.file: it says how to get one
        assert "set 'logging: {file: cliproxy.log}'" in capsys.readouterr().err
    assert f"request {request_id}" in printed and "client key-1" in printed
    assert "== upstream attempt 1: POST " + upstream.url + "/v1/chat/completions" in printed
    assert "print me" in printed and "authorization: [redacted]" in printed
    assert "== response to the client: 200" in printed
    assert request_id in listed and "my_own_id" in listed  # (file names keep safe characters)
    assert own["id"] == "my/own:id" and own["status"] == 200


def test_the_app_log_is_read_through_the_api_and_cliproxy_logs(upstream, tmp_path, capsys):
    log_file = tmp_path / "cliproxy.log"
    log_file.write_text("".join(f"line {n}\n" for n in range(300)))
    config = base_config(upstream, tmp_path / "logs", logging={"file": str(log_file)})
    with serve_app(gateway_app(config, plugins=PLUGINS)) as url:
        assert main(["logs", "--url", url, "--management-key", MANAGEMENT_SECRET, "-n", "3"]) == 0
        assert capsys.readouterr().out.splitlines() == ["line 297", "line 298", "line 299"]
        tail = httpx.get(url + "/v0/management/app-log", params={"lines": 2}, headers=OPERATOR).json()
        with log_file.open("a") as out:
            out.write("line 300\nhalf a li")
        more = httpx.get(url + "/v0/management/app-log", params={"after": tail["offset"]}, headers=OPERATOR).json()
        log_file.write_text("rotated 1\n")
        after_rotation = httpx.get(
            url + "/v0/management/app-log", params={"after": more["offset"]}, headers=OPERATOR
        ).json()
    assert tail["lines"] == ["line 298", "line 299"]
    assert more["lines"] == ["line 300"]  # the half-written line comes when it is whole
    assert after_rotation["rotated"] is True and after_rotation["lines"] == ["rotated 1"]


def test_without_a_logs_dir_the_api_says_how_to_get_one(upstream):
    config = {
        "api-keys": [CLIENT_KEY],
        "remote-management": {"secret-key": MANAGEMENT_SECRET},
        "openai-compatibility": [{"name": "t", "base-url": upstream.url, "models": ["m"]}],
    }
    with serve_app(gateway_app(config, plugins=PLUGINS)) as url:
        listing = httpx.get(url + "/v0/management/logs", headers=OPERATOR).json()
        one = httpx.get(url + "/v0/management/logs/abc", headers=OPERATOR)
        remote = httpx.get(url + "/v0/management/logs", headers={**OPERATOR, "x-forwarded-for": "203.0.113.9"})
    assert listing["dir"] is None and listing["logs"] == []
    assert one.status_code == 404 and "set 'logs-dir'" in one.json()["error"]["message"]
    assert remote.status_code == 403  # guarded like the rest of /v0/management: this machine only
    assert remote.json()["error"]["code"] == "remote_management_disabled"
