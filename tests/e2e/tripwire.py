"""A proxy that lets nothing through: the clients' HTTP(S)_PROXY during the suite.

Every CLI under test honours ``HTTP(S)_PROXY`` and ``NO_PROXY``. With ``NO_PROXY`` naming
loopback, the gateway is reached directly and anything else -- telemetry, update checks,
plugin syncs -- comes here instead of the internet. The tripwire refuses each attempt
(``403``) and remembers where it wanted to go, so a test can show what leaked, not only
that something tried.
"""

from __future__ import annotations

import contextlib
import socketserver
import threading

__all__ = ["Tripwire"]

MAX_RECORDED = 100


class _Handler(socketserver.StreamRequestHandler):
    timeout = 5

    def handle(self) -> None:
        try:
            line = self.rfile.readline(2048).decode("latin-1").strip()
        except OSError:
            line = ""
        tripwire: Tripwire = self.server.tripwire  # type: ignore[attr-defined]
        tripwire.record(line or "<connection without a request line>")
        with contextlib.suppress(OSError):
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Tripwire:
    """Listens on a loopback port; ``attempts`` are the request lines it refused
    (``CONNECT host:443 HTTP/1.1`` for HTTPS)."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.tripwire = self  # type: ignore[attr-defined]
        self._lock = threading.Lock()
        self._attempts: list[str] = []
        self._thread = threading.Thread(target=self._server.serve_forever, name="tripwire", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def attempts(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._attempts)

    def record(self, line: str) -> None:
        with self._lock:
            if len(self._attempts) < MAX_RECORDED:
                self._attempts.append(line)

    def __enter__(self) -> Tripwire:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
