"""Load: closed-loop runs with wrk, a fixed-count run for memory growth, many slow streams,
and a single checked request before any load."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import attrs

__all__ = ["LoadResult", "ensure_wrk", "fetch", "open_streams", "wrk"]

_MARK = "BENCH_JSON "

_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    "BENCH_JSON ", summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""

# Stops each thread after its share of a fixed number of responses (memory growth runs).
_COUNTED = r"""
local seen = 0
response = function(status, headers, body)
  seen = seen + 1
  if seen == LIMIT then
    io.write("BENCH_LIMIT\n")
    io.stdout:flush()
    wrk.thread:stop()
  end
end
"""

_ALTERNATE = r"""
local n = 0
request = function()
  n = n + 1
  if n % 2 == 0 then return wrk.format("POST", PATH_A, nil, BODY_A) end
  return wrk.format("POST", PATH_B, nil, BODY_B)
end
"""


def _lua_string(value: str) -> str:
    level = 1 if "]" in value else 0
    while f"]{'=' * level}]" in value:
        level += 1
    eq = "=" * level
    return f"[{eq}[{value}]{eq}]"


def write_script(
    path: Path,
    body: bytes,
    headers: Mapping[str, str],
    *,
    limit: int | None = None,
    alternate: tuple[str, bytes, str, bytes] | None = None,
) -> Path:
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_string(body.decode())}"]
    lines += [f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()]
    if alternate is not None:
        path_a, body_a, path_b, body_b = alternate
        lines += [
            f"PATH_A = {_lua_string(path_a)}",
            f"BODY_A = {_lua_string(body_a.decode())}",
            f"PATH_B = {_lua_string(path_b)}",
            f"BODY_B = {_lua_string(body_b.decode())}",
            _ALTERNATE,
        ]
    if limit is not None:
        lines += [f"LIMIT = {limit}", _COUNTED]
    lines.append(_DONE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path


@attrs.frozen
class LoadResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    error_detail: Mapping[str, int] = attrs.field(factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, object]:
        return {**attrs.asdict(self), "rps": round(self.rps, 1)}


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    import os

    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing Debian's wrk package", flush=True)
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(install, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(
        "wrk is needed as the load generator and could not be installed here: install it "
        "(Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk) and run again"
    )


def wrk(
    url: str,
    script: Path,
    *,
    connections: int,
    seconds: float,
    prefix: list[str],
    timeout: float = 30.0,
) -> LoadResult:
    argv = [
        *prefix, "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"--timeout={timeout:g}s",
        "-s", str(script), url,
    ]  # fmt: skip
    return _result(_run_wrk(argv, seconds + timeout + 120))


def _result(data: dict[str, int]) -> LoadResult:
    detail = {k: data[k] for k in ("connect", "read", "write", "status", "timeout") if data[k]}
    ms = 1000.0
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=sum(detail.values()),
        p50_ms=data["p50_us"] / ms,
        p90_ms=data["p90_us"] / ms,
        p99_ms=data["p99_us"] / ms,
        max_ms=data["max_us"] / ms,
        mean_ms=data["mean_us"] / ms,
        error_detail=detail,
    )


def _run_wrk(argv: list[str], timeout: float) -> dict[str, int]:
    """Run wrk; interrupt it (so it reports at once) when a counted script says it is done."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    out: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            if line.startswith("BENCH_LIMIT"):
                proc.send_signal(signal.SIGINT)
        proc.wait()
    finally:
        timer.cancel()
    for line in out:
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK) :])
    error = proc.stderr.read() if proc.stderr else ""
    raise RuntimeError(f"wrk printed no result (exit {proc.returncode}): {''.join(out)[-500:]} {error[-500:]}")


def count_requests(
    url: str, script: Path, *, connections: int, prefix: list[str], max_seconds: float = 3600.0
) -> LoadResult:
    """Run a counted script (``write_script(limit=...)``) until it has its responses."""
    argv = [
        *prefix,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{int(max_seconds)}s",
        "--timeout=30s",
        "-s",
        str(script),
        url,
    ]
    return _result(_run_wrk(argv, max_seconds + 60))


def fetch(port: int, path: str, body: bytes, headers: Mapping[str, str], timeout: float = 30.0) -> tuple[int, bytes]:
    """One request, read to the end: ``(status, body)``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers=dict(headers))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- many slow streams ----------------------------------------------------------------------


@attrs.define
class StreamsResult:
    wanted: int
    opened: int = 0  # got the first bytes of the answer
    failed: int = 0
    seconds_to_open: float = 0.0


async def _one_stream(
    port: int, request: bytes, opened: asyncio.Event, result: StreamsResult, release: asyncio.Event
) -> None:
    writer = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            result.failed += 1
            return
        await reader.read(1)  # the first byte of the stream itself
        result.opened += 1
        if result.opened + result.failed >= result.wanted:
            opened.set()
        await release.wait()
    except (OSError, asyncio.IncompleteReadError):
        result.failed += 1
        if result.opened + result.failed >= result.wanted:
            opened.set()
    finally:
        if writer is not None:
            writer.close()


async def _streams(
    port: int,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    count: int,
    wave: int,
    timeout: float,
    on_open,
):  # type: ignore[no-untyped-def]
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    result = StreamsResult(wanted=count)
    opened, release = asyncio.Event(), asyncio.Event()
    start = time.perf_counter()
    tasks = []
    for i in range(0, count, wave):
        tasks += [
            asyncio.create_task(_one_stream(port, request, opened, result, release))
            for _ in range(min(wave, count - i))
        ]
        await asyncio.sleep(0.05)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(opened.wait(), timeout)
    result.seconds_to_open = time.perf_counter() - start
    measured = await asyncio.to_thread(on_open)
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return result, measured


def open_streams(
    port: int,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    count: int,
    timeout: float,
    on_open,
):  # type: ignore[no-untyped-def]
    """Open ``count`` streams (in waves of 100), call ``on_open()`` once they are all open
    (or ``timeout`` passed), then close them. Returns ``(StreamsResult, on_open())``."""
    return asyncio.run(_streams(port, path, body, headers, count, 100, timeout, on_open))
