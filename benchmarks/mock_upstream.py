"""A fast mock LLM upstream for the benchmarks: canned OpenAI and Anthropic answers.

It is a bare asyncio protocol (uvloop when installed) with every response pre-rendered,
so it costs a few microseconds per request and is never what a gateway run measures
(the runner measures it alone first and reports its capacity).

Endpoints (HTTP/1.1, keep-alive):

* ``POST /v1/chat/completions``: an OpenAI Chat Completions answer; a 20-chunk SSE stream
  (role, 17 content deltas, finish, usage, then ``[DONE]``) when the body asks for
  ``"stream": true``;
* ``POST /v1/messages``: an Anthropic Messages answer; a 20-event SSE stream
  (``message_start`` ... ``message_stop``) when streamed;
* ``GET /v1/models``, ``GET /healthz``.

A request whose body names the model ``mock-slow`` gets its stream spread out, one chunk
every ``--slow-interval`` seconds: the memory run holds a thousand of these open. The
model ``mock-drip`` gets ``--drip-chunks`` content tokens, one every ``--drip-interval``
seconds on a fixed schedule (token k at start + k * interval): the open-streams run holds
ten thousand of these.

Run: ``python benchmarks/mock_upstream.py --port 9100``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

TEXT_WORDS = [
    "The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog,",
    " and", " the", " gateway", " forwards", " every", " word", " it", " hears.",
]  # fmt: skip
TEXT = "".join(TEXT_WORDS)
CREATED = 1700000000
USAGE_IN, USAGE_OUT = 12, len(TEXT_WORDS)


def _sse(obj: object, event: str | None = None) -> bytes:
    data = json.dumps(obj, separators=(",", ":")).encode()
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + data + b"\n\n"


def openai_whole(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": TEXT, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": USAGE_IN,
                "completion_tokens": USAGE_OUT,
                "total_tokens": USAGE_IN + USAGE_OUT,
            },
            "system_fingerprint": "fp_bench",
        },
        separators=(",", ":"),
    ).encode()


def openai_events(model: str) -> list[bytes]:
    """20 chunks: role, 17 content deltas, finish, usage; then ``[DONE]``."""

    def chunk(delta: dict, finish: str | None = None, usage: dict | None = None, choices: bool = True) -> bytes:
        obj: dict = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else [],
        }
        if usage is not None:
            obj["usage"] = usage
        return _sse(obj)

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": word}) for word in TEXT_WORDS]
    events.append(chunk({}, "stop"))
    usage = {
        "prompt_tokens": USAGE_IN,
        "completion_tokens": USAGE_OUT,
        "total_tokens": USAGE_IN + USAGE_OUT,
    }
    events.append(chunk({}, usage=usage, choices=False))
    events.append(b"data: [DONE]\n\n")
    return events


def drip_events(count: int) -> list[bytes]:
    """``count`` one-token chunks between the role chunk and the finish, usage and [DONE]."""
    base = openai_events("mock-drip")
    token = base[1].replace(b'"content":"The"', b'"content":" tok"')
    return [base[0], *([token] * count), *base[-3:]]


def anthropic_whole(model: str) -> bytes:
    return json.dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": TEXT}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": USAGE_IN,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": USAGE_OUT,
            },
        },
        separators=(",", ":"),
    ).encode()


def anthropic_events(model: str) -> list[bytes]:
    """20 events: message_start, content_block_start, ping, 15 deltas, stop, delta, stop."""
    words = ["".join(TEXT_WORDS[:3]), *TEXT_WORDS[3:]]  # 15 deltas
    events = [
        _sse(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_bench",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": USAGE_IN,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "output_tokens": 1,
                    },
                },
            },
            "message_start",
        ),
        _sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        ),
        _sse({"type": "ping"}, "ping"),
    ]
    events += [
        _sse(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}},
            "content_block_delta",
        )
        for w in words
    ]
    events += [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": USAGE_OUT},
            },
            "message_delta",
        ),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return events


def _response(status: str, content_type: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\ncontent-type: " + content_type
        + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


STREAM_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
STREAM_END = b"0\r\n\r\n"
JSON = b"application/json"


class Canned:
    """Every answer, pre-rendered."""

    def __init__(self) -> None:
        self.openai = _response("200 OK", JSON, openai_whole("mock-gpt"))
        self.anthropic = _response("200 OK", JSON, anthropic_whole("claude-mock"))
        self.openai_events = openai_events("mock-gpt")
        self.anthropic_events = anthropic_events("claude-mock")
        self.openai_stream = STREAM_HEAD + b"".join(map(_chunk, self.openai_events)) + STREAM_END
        self.anthropic_stream = STREAM_HEAD + b"".join(map(_chunk, self.anthropic_events)) + STREAM_END
        models = {
            "object": "list",
            "data": [{"id": m, "object": "model", "created": 0, "owned_by": "mock"} for m in ("mock-gpt", "mock-slow")],
        }
        self.models = _response("200 OK", JSON, json.dumps(models).encode())
        self.health = _response("200 OK", JSON, b'{"status":"ok"}')
        self.not_found = _response(
            "404 Not Found",
            JSON,
            b'{"error":{"message":"no such endpoint","type":"not_found_error"}}',
        )
        self.bad = _response(
            "400 Bad Request",
            JSON,
            b'{"error":{"message":"malformed request","type":"invalid_request_error"}}',
        )


CANNED = Canned()


class MockProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and content-length or chunked request bodies."""

    slow_interval = 1.0
    drip_interval = 0.1
    drip_events: list[bytes] = []

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.slow: list[asyncio.TimerHandle] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        for handle in self.slow:
            handle.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end].lower()
            start = end + 4
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                line_end = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : line_end if line_end > 0 else len(head)])
                if len(buffer) < start + length:
                    break
                body, buffer = buffer[start : start + length], buffer[start + length :]
            elif b"\r\ntransfer-encoding: chunked" in head:
                parsed = _dechunk(buffer, start)
                if parsed is None:
                    break
                body, rest = parsed
                buffer = buffer[rest:]
            else:
                body, buffer = b"", buffer[start:]
            self.handle(head, body)
            if self.transport is None:
                return
        self.buffer = buffer

    def handle(self, head: bytes, body: bytes) -> None:
        transport = self.transport
        assert transport is not None
        line = head[: head.find(b"\r\n")] if b"\r\n" in head else head
        parts = line.split(b" ")
        if len(parts) < 2:
            transport.write(CANNED.bad)
            transport.close()
            return
        method, path = parts[0], parts[1].split(b"?", 1)[0]
        stream = b'"stream":true' in body or b'"stream": true' in body
        if method == b"post" and path.endswith(b"/chat/completions"):
            if b"mock-drip" in body:
                self.drip()
            elif b"mock-slow" in body:
                self.spread(CANNED.openai_events)
            else:
                transport.write(CANNED.openai_stream if stream else CANNED.openai)
        elif method == b"post" and path.endswith(b"/messages"):
            if b"mock-slow" in body:
                self.spread(CANNED.anthropic_events)
            else:
                transport.write(CANNED.anthropic_stream if stream else CANNED.anthropic)
        elif path.endswith(b"/models"):
            transport.write(CANNED.models)
        elif path == b"/healthz":
            transport.write(CANNED.health)
        else:
            transport.write(CANNED.not_found)
        if b"\r\nconnection: close" in head:
            transport.close()

    def spread(self, events: list[bytes]) -> None:
        """Send a stream one chunk per ``slow_interval`` seconds."""
        assert self.transport is not None
        self.transport.write(STREAM_HEAD)
        loop = asyncio.get_running_loop()
        pending = [*events]

        def step() -> None:
            if self.transport is None:
                return
            self.transport.write(_chunk(pending.pop(0)))
            if pending:
                self.slow.append(loop.call_later(self.slow_interval, step))
            else:
                self.transport.write(STREAM_END)
                self.slow.clear()

        step()

    def drip(self) -> None:
        """The role chunk now, then one token every ``drip_interval`` seconds, on a fixed
        schedule (a late tick does not push the later ones back), then the ending."""
        assert self.transport is not None
        events = self.drip_events
        self.transport.write(STREAM_HEAD + _chunk(events[0]))
        loop = asyncio.get_running_loop()
        start = loop.time()
        last = len(events) - 4  # the index of the last token

        def step(k: int) -> None:
            if self.transport is None:
                return
            if k < last:
                self.transport.write(_chunk(events[k]))
                self.slow[0] = loop.call_at(start + (k + 1) * self.drip_interval, step, k + 1)
            else:
                self.transport.write(b"".join(map(_chunk, events[k:])) + STREAM_END)

        self.slow[:] = [loop.call_at(start + self.drip_interval, step, 1)]


def _dechunk(buffer: bytes, start: int) -> tuple[bytes, int] | None:
    """A chunked body starting at ``start``: ``(body, end)``, or None if incomplete."""
    out: list[bytes] = []
    pos = start
    while True:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(buffer[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            trailer = buffer.find(b"\r\n", pos)
            return (b"".join(out), trailer + 2) if trailer >= 0 else None
        if len(buffer) < pos + size + 2:
            return None
        out.append(buffer[pos : pos + size])
        pos += size + 2


async def serve(host: str, port: int, slow_interval: float, drip: tuple[float, int] = (0.1, 600)) -> None:
    MockProtocol.slow_interval = slow_interval
    MockProtocol.drip_interval = drip[0]
    MockProtocol.drip_events = drip_events(drip[1])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(MockProtocol, host, port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument(
        "--slow-interval",
        type=float,
        default=1.0,
        help="seconds between chunks of a mock-slow stream",
    )
    parser.add_argument("--drip-interval", type=float, default=0.1, help="seconds between mock-drip tokens")
    parser.add_argument("--drip-chunks", type=int, default=600, help="tokens in a mock-drip stream")
    args = parser.parse_args()
    drip = (args.drip_interval, args.drip_chunks)
    try:
        import uvloop

        uvloop.run(serve(args.host, args.port, args.slow_interval, drip))
    except ImportError:
        asyncio.run(serve(args.host, args.port, args.slow_interval, drip))


if __name__ == "__main__":
    main()
