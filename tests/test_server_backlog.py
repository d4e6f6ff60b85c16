"""A burst of connections while the worker is busy waits in the kernel's listen queue;
a low open-file limit is raised, or said.

Each server is handed cliproxy's listening socket (``servers.bind``, with
``servers.BACKLOG``) and listens on it again with a backlog of its own: uvicorn's default
is 2,048 and Hypercorn's 100, which under a burst of clients dropped their handshakes and
left them to the kernel's SYN retries (1 s, 3 s, 7 s... then reset: the benchmark's
"closed unanswered" streams). Here the app blocks the worker's event loop while a burst
connects; every connection of the burst must be queued by the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cliproxy import servers
from cliproxy.servers import BACKLOG, SERVERS, ServeOptions, bind, launcher

BURST = 2_200
"""Over uvicorn's default backlog (2,048), within the kernel's usual cap (4,096)."""


def burst_size() -> int:
    """:data:`BURST`, or what this machine's listen-queue cap and open-file limit allow."""
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # both ends of the burst live here
    room = (resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 200) // 2
    return min(BURST, somaxconn - 8, BACKLOG - 8, room)


class BlockingApp:
    """Answers ``ok``; ``/block`` holds the event loop (a blocking wait) until released."""

    def __init__(self) -> None:
        self.blocking = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/block":
            self.blocking.set()
            self.release.wait(30)  # on purpose: nothing else runs on this loop meanwhile
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


@contextlib.contextmanager
def serving(server: str, app: BlockingApp) -> Iterator[str]:
    """``app`` served by ``server`` on a socket from :func:`cliproxy.servers.bind`."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failed: list[BaseException] = []

    def run() -> None:
        async def main() -> None:
            await launcher(server)(app, ServeOptions(graceful_timeout=2.0), sock, stop.wait)

        try:
            loop.run_until_complete(main())
        except BaseException as exc:
            failed.append(exc)
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/", timeout=1).status_code == 200:
                break
        if failed:
            raise failed[0]
        time.sleep(0.05)
    try:
        yield url
    finally:
        app.release.set()
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        loop.close()


def connected_of(port: int, count: int, wait: float) -> int:
    """Open ``count`` connections at once; how many the kernel completed within ``wait``
    seconds (a dropped handshake stays pending until the SYN retry, a second later)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            socks.append(sock)
        pending = {sock.fileno(): sock for sock in socks}
        poller = select.poll()
        for fd in pending:
            poller.register(fd, select.POLLOUT)
        done = 0
        deadline = time.monotonic() + wait
        while pending and time.monotonic() < deadline:
            for fd, _ in poller.poll(50):
                if pending.pop(fd).getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    done += 1
                poller.unregister(fd)
        return done
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize("server", SERVERS)
def test_a_burst_of_connections_waits_in_the_listen_queue_while_the_worker_is_busy(server: str) -> None:
    count = burst_size()
    app = BlockingApp()
    with serving(server, app) as url:
        port = int(url.rsplit(":", 1)[1])
        holder = threading.Thread(target=lambda: httpx.get(url + "/block", timeout=40), daemon=True)
        holder.start()
        assert app.blocking.wait(10), "the blocking request did not arrive"
        connected = connected_of(port, count, wait=3.0)  # a dropped one stays dropped: the queue stays full
        app.release.set()
        holder.join(40)
        assert connected == count, f"{count - connected} of {count} connections were dropped by the listen queue"
        assert httpx.get(url + "/", timeout=10).status_code == 200


# -- open files ------------------------------------------------------------------------------


def test_a_low_open_file_limit_is_raised_to_the_hard_limit_or_warned_about(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Each open stream holds two files; past the limit new clients are closed unanswered,
    so ``serve`` raises the soft limit and says when what it got is small."""
    limits = {"soft": 1024, "hard": 2048}

    def getrlimit(_: int) -> tuple[int, int]:
        return limits["soft"], limits["hard"]

    def setrlimit(_: int, value: tuple[int, int]) -> None:
        if value[1] > limits["hard"]:
            raise ValueError("not allowed to raise maximum limit")
        limits["soft"], limits["hard"] = value

    monkeypatch.setattr(servers.resource, "getrlimit", getrlimit)
    monkeypatch.setattr(servers.resource, "setrlimit", setrlimit)
    with caplog.at_level(logging.WARNING, logger="cliproxy.serve"):
        assert servers.raise_fd_limit() == (1024, 2048)
    assert "limited to 2048" in caplog.text and "about 992 requests or streams" in caplog.text
    caplog.clear()
    limits.update(soft=1024, hard=65536)
    with caplog.at_level(logging.WARNING, logger="cliproxy.serve"):
        assert servers.raise_fd_limit() == (1024, 65536)
    assert caplog.text == ""
