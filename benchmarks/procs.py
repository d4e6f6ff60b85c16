"""Processes the runner starts: ports, CPU pinning, readiness, RSS, clean shutdown."""

from __future__ import annotations

import abc
import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "Cpus",
    "Proc",
    "RssSampler",
    "cpu_seconds",
    "free_port",
    "http_get",
    "raise_fd_limit",
    "rss_kb",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit(wanted: int = 1 << 18) -> int:
    """Raise this process's open-file limit (children inherit it): to ``wanted`` where
    allowed (root), else to the hard limit. Ten thousand open streams need 20,000 and more."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    except (ValueError, OSError):
        pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Cpus:
    """Where things run: the gateway on one core, the mock and the load generator on the
    other, so the three do not steal each other's time slices (with ``taskset``)."""

    def __init__(self, pin: bool) -> None:
        count = os.cpu_count() or 1
        self.enabled = pin and count >= 2 and shutil.which("taskset") is not None
        self.gateway = "0"
        self.load = "1" if count >= 2 else "0"
        self.mock = self.load
        self.all = "0,1" if count >= 2 else "0"

    def prefix(self, role: str) -> list[str]:
        if not self.enabled:
            return []
        return ["taskset", "-c", getattr(self, role)]

    def describe(self) -> str:
        if not self.enabled:
            return "not pinned"
        return f"gateway on CPU {self.gateway}; mock and load generator on CPU {self.load}"


def http_get(port: int, path: str, timeout: float = 1.0) -> int | None:
    """Status of ``GET path`` on loopback, or None if nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            head = sock.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    return int(parts[1])


class Proc:
    """A child process in its own session (so stopping it stops its children too)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.popen: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            self.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_ready(self, port: int, path: str, timeout: float, interval: float = 0.005) -> float:
        """Seconds from start until ``GET path`` answers 200; raises if it never does."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited with {self.popen.returncode if self.popen else '?'}; see {self.log}"
                )
            if http_get(port, path, timeout=max(interval, 0.5)) == 200:
                return time.perf_counter() - self.started
            time.sleep(interval)
        raise RuntimeError(f"{self.name} did not answer {path} within {timeout:.0f}s; see {self.log}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def tree(self) -> list[int]:
        """This process and its descendants."""
        if not self.alive():
            return []
        pids = [self.pid]
        i = 0
        while i < len(pids):
            pids.extend(_children(pids[i]))
            i += 1
        return pids


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            out.extend(int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split())
        except OSError:
            continue
    return out


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(proc: Proc) -> float:
    """User + system CPU time the process tree has used so far."""
    total = 0
    for pid in proc.tree():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def rss_kb(proc: Proc) -> int:
    """Resident memory of the process tree, in KiB."""
    return sum(_status_kb(pid, "VmRSS:") for pid in proc.tree())


def peak_kb(proc: Proc) -> int:
    """The kernel's high-water mark of resident memory (VmHWM), summed over the tree."""
    return sum(_status_kb(pid, "VmHWM:") for pid in proc.tree())


class Sampler(abc.ABC):
    """Calls :meth:`sample` every ``interval`` seconds in a thread, from :meth:`start`
    until :meth:`stop`."""

    def __init__(self, proc: Proc, interval: float) -> None:
        self.proc = proc
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @abc.abstractmethod
    def sample(self) -> None:
        """Take one sample (in the sampling thread)."""

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class RssSampler(Sampler):
    """Samples a process tree's RSS in a thread; ``peak_kb`` is the largest seen, and
    ``cpu_s`` the CPU time the tree used meanwhile."""

    def __init__(self, proc: Proc, interval: float = 0.05) -> None:
        super().__init__(proc, interval)
        self.peak_kb = 0
        self.cpu_s = 0.0
        self._cpu_start = 0.0

    def sample(self) -> None:
        self.peak_kb = max(self.peak_kb, rss_kb(self.proc))

    def __enter__(self) -> RssSampler:
        self._cpu_start = cpu_seconds(self.proc)
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.cpu_s = cpu_seconds(self.proc) - self._cpu_start
        self.peak_kb = max(self.peak_kb, rss_kb(self.proc))
