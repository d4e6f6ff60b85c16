"""Many open streams: N concurrent slow streams held to the end, each timed chunk by chunk.

Each client opens one connection, asks for the mock's ``mock-drip`` stream (a token every
``--interval`` seconds) and reads it to ``[DONE]``. Per stream it notes when each read
arrives; the time between two reads beyond the interval is that chunk's added delay
(chunks that arrive together behind a late one add nothing more). Prints one JSON line:
streams complete, failed, the added delay's percentiles (a histogram in 1 ms buckets, so
ten thousand streams of hundreds of chunks cost no memory), and the time to open them.

    python benchmarks/streams.py --port 8317 --count 10000 --tokens 600 --interval 0.1

The runner (``run.py``) runs it pinned beside the mock, once straight at the mock (the
floor: client and mock noise) and once per gateway, and samples the gateway's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

BUCKETS = 60_000  # 1 ms buckets, up to a minute
OPEN_WITHIN = 60.0  # seconds to open them all in


class Stats:
    def __init__(self) -> None:
        self.hist = [0] * BUCKETS
        self.chunks = 0
        self.complete = 0
        self.failed = 0
        self.short = 0  # ended without every token or without [DONE]
        self.opened = 0
        self.errors: dict[str, int] = {}  # why streams failed

    def error(self, why: str) -> None:
        self.failed += 1
        self.errors[why] = self.errors.get(why, 0) + 1

    def percentile(self, q: float) -> float:
        total = sum(self.hist)
        if not total:
            return 0.0
        want = q * total
        seen = 0
        for ms, count in enumerate(self.hist):
            seen += count
            if seen >= want:
                return float(ms)
        return float(BUCKETS)


class DripClient(asyncio.Protocol):
    def __init__(self, request: bytes, interval: float, tokens: int, stats: Stats, done: asyncio.Future[None]) -> None:
        self.request = request
        self.interval = interval
        self.tokens = tokens
        self.stats = stats
        self.done = done
        self.loop = asyncio.get_running_loop()
        self.head = b""
        self.in_body = False
        self.last = 0.0
        self.seen = 0
        self.finished = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = self.loop.time()
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.head.startswith(b"HTTP/1.1 200"):
                self._end(failed=True, why=self.head[:12].decode("latin-1"))
                return
            data = self.head[end + 4 :]
            self.in_body = True
            self.stats.opened += 1
            self.last = now
        tokens = data.count(b' tok"')
        if tokens:
            excess = (now - self.last - self.interval) * 1000.0
            self.stats.hist[min(BUCKETS - 1, max(0, int(excess)))] += 1
            self.stats.hist[0] += tokens - 1
            self.stats.chunks += tokens
            self.seen += tokens
            self.last = now
        if b"[DONE]" in data:
            self._end(failed=False)

    def _end(self, failed: bool, why: str = "") -> None:
        if self.finished:
            return
        self.finished = True
        if failed:
            self.stats.error(why or "closed before the answer")
        elif self.seen == self.tokens:
            self.stats.complete += 1
        else:
            self.stats.short += 1
        if self.transport is not None:
            self.transport.close()
        if not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished:
            why = "reset before the answer" if isinstance(exc, ConnectionResetError) else ""
            self._end(failed=not self.in_body, why=why)


async def run(args: argparse.Namespace) -> dict[str, object]:
    body = json.dumps(
        {"model": "mock-drip", "stream": True, "messages": [{"role": "user", "content": "drip"}]},
        separators=(",", ":"),
    ).encode()
    head = [f"POST {args.path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    head += [f"Content-Length: {len(body)}", f"Authorization: Bearer {args.key}"]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    loop = asyncio.get_running_loop()
    stats = Stats()
    futures: list[asyncio.Future[None]] = []
    started = time.perf_counter()

    async def one() -> None:
        done: asyncio.Future[None] = loop.create_future()
        futures.append(done)
        try:
            await loop.create_connection(
                lambda: DripClient(request, args.interval, args.tokens, stats, done), "127.0.0.1", args.port
            )
        except OSError as error:
            stats.error(f"connect: {error.strerror or type(error).__name__}")
            done.set_result(None)

    # Open in waves, holding at most --pending streams between connecting and their first
    # byte: a burst past what the server starts per second would only overflow its listen
    # queue, and the kernel's SYN retries (1 s, 3 s, 7 s...) would then time the opening.
    launched = 0
    tasks = []
    while launched < args.count and time.perf_counter() - started < OPEN_WITHIN:
        room = min(args.wave, args.count - launched, args.pending - (launched - stats.opened - stats.failed))
        if room > 0:
            tasks += [loop.create_task(one()) for _ in range(room)]
            launched += room
        await asyncio.sleep(0.05)
    if launched < args.count:
        stats.errors[f"not started within {OPEN_WITHIN:g} s"] = args.count - launched
    while stats.opened + stats.failed < launched and time.perf_counter() - started < OPEN_WITHIN:
        await asyncio.sleep(0.05)
    to_open = time.perf_counter() - started
    budget = args.tokens * args.interval + 60.0
    if futures:
        await asyncio.wait(futures, timeout=budget)
    return {
        "streams": args.count,
        "launched": launched,
        "opened": stats.opened,
        "complete": stats.complete,
        "short": stats.short,
        "failed": stats.failed,
        "unfinished": sum(1 for f in futures if not f.done()),  # still streaming at the deadline
        "not_started": args.count - launched,
        "errors": stats.errors,
        "chunks": stats.chunks,
        "seconds_to_open": round(to_open, 2),
        "seconds": round(time.perf_counter() - started, 1),
        "added_ms": {
            "p50": stats.percentile(0.50),
            "p90": stats.percentile(0.90),
            "p99": stats.percentile(0.99),
            "p999": stats.percentile(0.999),
            "max": max((ms for ms, n in enumerate(stats.hist) if n), default=0),
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/v1/chat/completions")
    p.add_argument("--key", default="sk-bench")
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--tokens", type=int, default=600, help="tokens per stream (as the mock's --drip-chunks)")
    p.add_argument("--interval", type=float, default=0.1, help="seconds between tokens (the mock's --drip-interval)")
    p.add_argument("--wave", type=int, default=500, help="connections opened at once, every 50 ms")
    p.add_argument(
        "--pending",
        type=int,
        default=4000,
        help="at most this many streams waiting for their first byte at once (within the servers' listen queue, 4,096)",
    )
    args = p.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the runner raised it (procs.raise_fd_limit)
    try:
        import uvloop

        result = uvloop.run(run(args))
    except ImportError:
        result = asyncio.run(run(args))
    print("STREAMS_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
