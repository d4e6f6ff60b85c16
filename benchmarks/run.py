"""Benchmark cliproxy side by side with LiteLLM's proxy and a bare pass-through.

    uv run benchmarks/run.py            # the full run (about half an hour)
    uv run benchmarks/run.py --quick    # a few seconds per cell, for development

One run: the mock upstream is measured alone, then cliproxy, LiteLLM (installed into
benchmarks/.venv-litellm on first use) and the bare Starlette + Hypercorn + aiohttp
pass-through, one worker each, all pointed at the same mock, are driven by wrk with the
same closed-loop load at each concurrency, interleaved round by round; then memory (1,000
slow streams open; growth across 50,000 requests) and start-up time. Prints a markdown
report and writes it with the raw JSON to benchmarks/results/. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gateways as gw  # noqa: E402
import load  # noqa: E402
import report  # noqa: E402
from procs import Cpus, Proc, RssSampler, Sampler, free_port, peak_kb, raise_fd_limit, rss_kb  # noqa: E402
from scenarios import SCENARIOS, Scenario, check_answer, client_body  # noqa: E402

GATEWAYS = (
    "cliproxy",  # on its default server: the fastest installed
    "cliproxy-granian",
    "cliproxy-hypercorn",
    "cliproxy-w2",  # --workers 2, on both cores
    "litellm",
    "bare",  # Hypercorn
    "bare-uvicorn",
    "bare-granian",
    "nginx",
)
MAIN = ("cliproxy", "litellm", "bare")
"""The gateways the memory and start-up phases measure."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="cliproxy vs LiteLLM vs a bare pass-through, in one run.")
    p.add_argument("--quick", action="store_true", help="short cells and small memory runs (development)")
    p.add_argument("--duration", type=float, help="seconds per cell (default 8; quick 3)")
    p.add_argument(
        "--rounds",
        type=int,
        help="interleaved rounds per cell; the median is reported (default 3; quick 1)",
    )
    p.add_argument(
        "--concurrency",
        default="1,32",
        help="comma-separated closed-loop concurrencies (default 1,32)",
    )
    p.add_argument("--gateways", default=",".join(GATEWAYS), help="which gateways to run (default all)")
    p.add_argument("--scenarios", default="", help="comma-separated scenario names (default all)")
    p.add_argument(
        "--growth-requests",
        type=int,
        help="requests in the memory-growth run (default 50000; quick 5000)",
    )
    p.add_argument(
        "--litellm-growth-requests",
        type=int,
        help="the same for LiteLLM, which is ~20x slower (default 2000; quick 500)",
    )
    p.add_argument("--streams", type=int, help="slow streams held open at once (default 1000; quick 200)")
    p.add_argument("--startup-runs", type=int, help="start-up measurements per gateway (default 5; quick 2)")
    p.add_argument(
        "--open-streams",
        type=int,
        help="concurrent slow streams through one worker in the open-streams phase (default 10000; quick 1000)",
    )
    p.add_argument(
        "--open-streams-workers",
        type=int,
        help="the same through cliproxy --workers 2 (default 1000; quick 200)",
    )
    p.add_argument(
        "--open-streams-seconds",
        type=float,
        help="how long each of those streams lasts, a token every 100 ms (default 60; quick 10)",
    )
    p.add_argument(
        "--open-streams-interval",
        type=float,
        default=0.1,
        help="seconds between the tokens of those streams (default 0.1)",
    )
    p.add_argument(
        "--baseline",
        type=Path,
        help="an earlier checkout of cliproxy (its .venv set up with 'uv sync') to run beside this one, "
        "as gateway 'baseline', on the server that checkout defaults to: the same-run regression check",
    )
    p.add_argument("--skip", default="", help="phases to skip: throughput, memory, streams, startup")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs with taskset")
    p.add_argument("--out", type=Path, default=HERE / "results", help="where to write the report and JSON")
    args = p.parse_args(argv)
    quick = args.quick
    args.duration = args.duration or (3.0 if quick else 8.0)
    args.rounds = args.rounds or (1 if quick else 3)
    args.growth_requests = args.growth_requests or (5000 if quick else 50000)
    args.litellm_growth_requests = args.litellm_growth_requests or (500 if quick else 2000)
    args.streams = args.streams or (200 if quick else 1000)
    args.startup_runs = args.startup_runs or (2 if quick else 5)
    args.open_streams = args.open_streams or (1000 if quick else 10_000)
    args.open_streams_workers = args.open_streams_workers or (200 if quick else 1000)
    args.open_streams_seconds = args.open_streams_seconds or (10.0 if quick else 60.0)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    args.gateways = [g for g in args.gateways.split(",") if g]
    unknown = set(args.gateways) - set(GATEWAYS)
    if unknown:
        p.error(f"unknown gateway(s): {', '.join(sorted(unknown))}; choose from {', '.join(GATEWAYS)}")
    names = [s.name for s in SCENARIOS]
    args.scenarios = [s for s in SCENARIOS if not args.scenarios or s.name in args.scenarios.split(",")]
    if not args.scenarios:
        p.error(f"no such scenario; choose from {', '.join(names)}")
    args.skip = {s for s in args.skip.split(",") if s}
    if args.baseline is not None:
        exe = args.baseline.resolve() / ".venv" / "bin" / "cliproxy"
        if not exe.exists():
            p.error(f"--baseline {args.baseline}: no {exe}; run 'uv sync' in that checkout first")
        args.baseline = exe
        args.gateways.append("baseline")
    return args


def machine(cpus: Cpus) -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in (
        "cliproxy",
        "hypercorn",
        "uvicorn",
        "granian",
        "httptools",
        "starlette",
        "aiohttp",
        "orjson",
        "uvloop",
    ):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:
            versions[dist] = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pinning": cpus.describe(),
        "versions": versions,
    }


def compile_bytecode(log: Path) -> None:
    """Compile the workspace's sources and its venv's packages to bytecode, as pip does at
    install time, so start-up is measured as users see it (``uv sync`` leaves compiling to
    the first import, which PYTHONDONTWRITEBYTECODE may forbid)."""
    import subprocess
    import sysconfig

    paths = [sysconfig.get_paths()["purelib"], str(gw.ROOT / "core" / "src")]
    paths += [str(p) for p in sorted(gw.ROOT.glob("plugins/*/src"))]
    paths += [str(p) for p in sorted(gw.ROOT.glob("examples/*/src"))]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "-j0", *paths],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )


class FdSampler(Sampler):
    """The most files a process tree held open at once (each open stream holds two in a
    gateway: the client's connection and the upstream's), sampled in a thread; ``limit``
    is the open-file limit of its first process."""

    def __init__(self, proc: Proc, interval: float = 0.5) -> None:
        super().__init__(proc, interval)
        self.peak = 0
        self.limit = 0

    def sample(self) -> None:
        count = 0
        for pid in self.proc.tree():
            with contextlib.suppress(OSError):
                count += len(os.listdir(f"/proc/{pid}/fd"))
        self.peak = max(self.peak, count)

    def start(self) -> None:
        with contextlib.suppress(OSError, StopIteration, ValueError):
            pid = next(iter(self.proc.tree()))
            line = next(x for x in Path(f"/proc/{pid}/limits").read_text().splitlines() if "open files" in x)
            self.limit = int(line.split()[3])
        super().start()


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.run_dir = args.out / stamp
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.cpus = Cpus(not args.no_pin)
        self.results: dict[str, object] = {"started": stamp, "args": _jsonable(vars(args))}
        self.mock: Proc | None = None
        self.mock_port = free_port()
        self.gateways: dict[str, gw.Gateway] = {}
        self.drip_interval = args.open_streams_interval
        self.drip_tokens = max(1, round(args.open_streams_seconds / self.drip_interval))

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    # -- set-up -------------------------------------------------------------------------

    def setup(self) -> None:
        raise_fd_limit()
        load.ensure_wrk()
        compile_bytecode(self.run_dir / "logs" / "compileall.log")
        self.results["machine"] = machine(self.cpus)
        self.results["load_before"] = loadavg()
        self.log(
            f"load average before: {self.results['load_before']} on {os.cpu_count()} cores; {self.cpus.describe()}"
        )
        if "litellm" in self.args.gateways:
            self.log(f"LiteLLM {gw.LITELLM_VERSION}: preparing {gw.LITELLM_VENV.relative_to(gw.ROOT)}")
            self.results["litellm_version"] = gw.ensure_litellm(self.run_dir / "logs" / "litellm-install.log")
        caps = gw.cliproxy_capabilities()
        self.results["cliproxy_capabilities"] = sorted(caps)
        slow = "0.5" if self.args.quick else "1.5"
        self.mock = Proc(
            "mock",
            [
                *self.cpus.prefix("mock"),
                sys.executable,
                str(HERE / "mock_upstream.py"),
                "--port",
                str(self.mock_port),
                "--slow-interval",
                slow,
                "--drip-interval",
                str(self.drip_interval),
                "--drip-chunks",
                str(self.drip_tokens),
            ],
            log=self.run_dir / "logs" / "mock.log",
        ).start()
        self.mock.wait_ready(self.mock_port, "/healthz", 10)
        if "nginx" in self.args.gateways and not gw.nginx_path():
            self.log("nginx is not installed and could not be (apt-get install nginx): skipped")
            self.args.gateways.remove("nginx")
        for name in self.args.gateways:
            port = free_port()
            where = (self.run_dir, self.cpus, port, self.mock_port)
            if name.startswith("cliproxy"):
                server = name.split("-")[1] if "-" in name and not name.endswith("-w2") else None
                workers = 2 if name.endswith("-w2") else 1
                self.gateways[name] = gw.Cliproxy(*where, capabilities=caps, server=server, workers=workers)
            elif name == "baseline":
                self.gateways[name] = gw.Cliproxy(*where, capabilities=caps, exe=self.args.baseline, name="baseline")
            elif name == "litellm":
                self.gateways[name] = gw.LiteLLM(*where)
            elif name == "nginx":
                self.gateways[name] = gw.Nginx(*where)
            else:
                self.gateways[name] = gw.Bare(*where, server=name.split("-")[1] if "-" in name else "hypercorn")

    def teardown(self) -> None:
        for gateway in self.gateways.values():
            gateway.stop()
        if self.mock is not None:
            self.mock.stop()

    # -- the mock alone -------------------------------------------------------------------

    def measure_mock(self) -> None:
        """The mock's own latency and capacity, per upstream endpoint the scenarios use."""
        out: dict[str, dict[str, object]] = {}
        seen: set[tuple[str, bool]] = set()
        for scenario in self.args.scenarios:
            key = (scenario.upstream, scenario.stream)
            if key in seen:
                continue
            seen.add(key)
            label = f"{scenario.upstream_path}{' stream' if scenario.stream else ''}"
            script = load.write_script(
                self.run_dir / "lua" / f"mock-{scenario.upstream}-{int(scenario.stream)}.lua",
                scenario.direct_body(),
                {"Content-Type": "application/json"},
            )
            cells = {}
            for c in self.args.concurrency:
                result = load.wrk(
                    f"http://127.0.0.1:{self.mock_port}{scenario.upstream_path}",
                    script,
                    connections=c,
                    seconds=min(self.args.duration, 5),
                    prefix=self.cpus.prefix("load"),
                )
                cells[str(c)] = result.to_json()
                self.log(f"mock alone {label} c={c}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.3f} ms")
            out[f"{scenario.upstream}:{int(scenario.stream)}"] = {"label": label, "cells": cells}
        self.results["mock"] = out

    # -- throughput -----------------------------------------------------------------------

    def start_gateways(self) -> None:
        for name, gateway in self.gateways.items():
            self.log(f"starting {name}")
            seconds = gateway.start()
            self.log(f"{name} ready in {seconds:.2f}s")

    def check(self, gateway: gw.Gateway, scenario: Scenario) -> str | None:
        unsupported = gateway.supports(scenario.needs)
        if unsupported:
            return unsupported
        status, body = load.fetch(gateway.port, scenario.client_path, scenario.body(), scenario.headers())
        wrong = check_answer(scenario.client, scenario.stream, status, body)
        return f"wrong answer: {wrong}" if wrong else None

    def throughput(self) -> None:
        cells: list[dict[str, object]] = []
        self.results["cells"] = cells
        for scenario in self.args.scenarios:
            ready: dict[str, gw.Gateway] = {}
            skipped: dict[str, str] = {}
            for name, gateway in self.gateways.items():
                problem = self.check(gateway, scenario)
                if problem:
                    skipped[name] = problem
                    self.log(f"{scenario.name}: {name} skipped: {problem}")
                else:
                    ready[name] = gateway
            scripts = {}
            for name in ready:
                scripts[name] = load.write_script(
                    self.run_dir / "lua" / f"{scenario.name}.lua",
                    scenario.body(),
                    scenario.headers(),
                )
            for name, gateway in ready.items():  # warm-up: connection pools, caches, lazy imports
                load.wrk(
                    gateway.url + scenario.client_path,
                    scripts[name],
                    connections=32,
                    seconds=2 if name == "litellm" else 1,
                    prefix=self.cpus.prefix("load"),
                )
            for c in self.args.concurrency:
                rounds: dict[str, list[dict[str, object]]] = {name: [] for name in ready}
                for r in range(self.args.rounds):
                    for name, gateway in ready.items():
                        assert gateway.proc is not None
                        with RssSampler(gateway.proc) as rss:
                            result = load.wrk(
                                gateway.url + scenario.client_path,
                                scripts[name],
                                connections=c,
                                seconds=self.args.duration,
                                prefix=self.cpus.prefix("load"),
                            )
                        cpu_us = 1e6 * rss.cpu_s / result.requests if result.requests else 0.0
                        rounds[name].append(
                            {
                                **result.to_json(),
                                "peak_rss_kb": rss.peak_kb,
                                "cpu_us_per_request": round(cpu_us, 1),
                            }
                        )
                        self.log(
                            f"{scenario.name} c={c} round {r + 1}: {name} {result.rps:,.0f} req/s, "
                            f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, CPU {cpu_us:,.0f} us/req, errors {result.errors}"
                        )
                for name, runs in rounds.items():
                    cells.append(
                        {
                            "scenario": scenario.name,
                            "concurrency": c,
                            "gateway": name,
                            **_median(runs),
                            "rounds": runs,
                        }
                    )
                for name, problem in skipped.items():
                    cells.append(
                        {
                            "scenario": scenario.name,
                            "concurrency": c,
                            "gateway": name,
                            "skipped": problem,
                        }
                    )
        for name, gateway in self.gateways.items():
            if gateway.proc is not None:
                self.results.setdefault("peak_rss_kb", {})[name] = peak_kb(gateway.proc)  # type: ignore[index]

    # -- memory ---------------------------------------------------------------------------

    def memory(self) -> None:
        out: dict[str, dict[str, object]] = {}
        self.results["memory"] = out
        a = next(s for s in SCENARIOS if s.name == "openai")
        b = next(s for s in SCENARIOS if s.name == "openai-stream")
        slow_body = json.dumps(client_body("openai", "mock-slow", True), separators=(",", ":")).encode()
        for name, gateway in self.gateways.items():
            if name not in MAIN or gateway.proc is None or not gateway.proc.alive():
                continue
            entry: dict[str, object] = {}
            out[name] = entry
            url = gateway.url + a.client_path
            alternate = (a.client_path, a.body(), b.client_path, b.body())
            count = self.args.litellm_growth_requests if name == "litellm" else self.args.growth_requests
            warm = load.write_script(
                self.run_dir / "lua" / f"warm-{name}.lua",
                a.body(),
                a.headers(),
                limit=max(1000, count // 10),
                alternate=alternate,
            )
            counted = load.write_script(
                self.run_dir / "lua" / f"growth-{name}.lua",
                a.body(),
                a.headers(),
                limit=count,
                alternate=alternate,
            )
            self.log(f"memory: {name}: warming up")
            load.count_requests(url, warm, connections=32, prefix=self.cpus.prefix("load"))
            time.sleep(1.0)
            before = rss_kb(gateway.proc)
            self.log(f"memory: {name}: {count:,} requests (OpenAI non-stream and stream, alternating)")
            result = load.count_requests(url, counted, connections=32, prefix=self.cpus.prefix("load"))
            time.sleep(1.0)
            after = rss_kb(gateway.proc)
            entry["growth"] = {
                "requests": result.requests,
                "errors": result.errors,
                "rss_before_kb": before,
                "rss_after_kb": after,
                "growth_kb": after - before,
            }
            self.log(
                f"memory: {name}: RSS {before / 1024:.1f} -> {after / 1024:.1f} MB over {result.requests:,} requests ({result.errors} errors)"
            )

            def sample(proc: Proc = gateway.proc) -> int:
                peak = 0
                for _ in range(10):
                    peak = max(peak, rss_kb(proc))
                    time.sleep(0.1)
                return peak

            self.log(f"memory: {name}: opening {self.args.streams} slow streams")
            streams, peak = load.open_streams(
                gateway.port,
                a.client_path,
                slow_body,
                a.headers(),
                count=self.args.streams,
                timeout=25.0,
                on_open=sample,
            )
            entry["streams"] = {
                "wanted": streams.wanted,
                "opened": streams.opened,
                "failed": streams.failed,
                "seconds_to_open": round(streams.seconds_to_open, 2),
                "rss_kb": peak,
            }
            self.log(
                f"memory: {name}: {streams.opened}/{streams.wanted} streams open in {streams.seconds_to_open:.1f}s, RSS {peak / 1024:.1f} MB"
            )
            time.sleep(2.0)  # let the closed streams unwind before the next gateway

    # -- many open streams ------------------------------------------------------------------

    def open_streams(self) -> None:
        """Thousands of slow streams (a token every 100 ms) held to the end: straight at the
        mock (the floor of the measurement), through one cliproxy worker, and a smaller
        number through --workers 2."""
        out: dict[str, object] = {}
        self.results["open_streams"] = out
        runs: list[tuple[str, gw.Gateway | None, int]] = [("mock", None, self.args.open_streams)]
        if "cliproxy" in self.gateways:
            runs.append(("cliproxy", self.gateways["cliproxy"], self.args.open_streams))
        if "cliproxy-w2" in self.gateways:
            runs.append(("cliproxy-w2", self.gateways["cliproxy-w2"], self.args.open_streams_workers))
        for name, gateway, count in runs:
            port = self.mock_port if gateway is None else gateway.port
            if gateway is not None and (gateway.proc is None or not gateway.proc.alive()):
                continue
            self.log(
                f"open streams: {count:,} through {name}, {self.drip_tokens} tokens each, every {self.drip_interval:g} s"
            )
            argv = [
                *self.cpus.prefix("load"), sys.executable, str(HERE / "streams.py"), "--port", str(port),
                "--count", str(count), "--tokens", str(self.drip_tokens), "--interval", str(self.drip_interval),
            ]  # fmt: skip
            sampler = RssSampler(gateway.proc, interval=0.5) if gateway is not None and gateway.proc else None
            fds = FdSampler(gateway.proc) if gateway is not None and gateway.proc else None
            before = rss_kb(gateway.proc) if gateway is not None and gateway.proc else 0
            if sampler and fds:
                sampler.__enter__()
                fds.start()
            try:
                done = subprocess.run(
                    argv, capture_output=True, text=True, timeout=self.args.open_streams_seconds + 300
                )
            finally:
                if sampler and fds:
                    sampler.__exit__(None, None, None)
                    fds.stop()
            line = next((x for x in done.stdout.splitlines() if x.startswith("STREAMS_JSON ")), None)
            if line is None:
                self.log(f"open streams: {name}: no result ({done.returncode}): {done.stderr[-500:]}")
                continue
            entry = json.loads(line.removeprefix("STREAMS_JSON "))
            entry["rss_before_kb"] = before
            entry["rss_peak_kb"] = sampler.peak_kb if sampler else 0
            entry["cpu_s"] = round(sampler.cpu_s, 1) if sampler else 0
            if fds:
                entry["fds_peak"], entry["fds_limit"] = fds.peak, fds.limit
            entry["interval_s"] = self.drip_interval
            out[name] = entry
            self.log(
                f"open streams: {name}: {entry['complete']}/{entry['streams']} complete "
                f"({entry['short']} short, {entry['failed']} failed {entry.get('errors', {})}, "
                f"{entry.get('unfinished', 0)} unfinished), added delay p50 {entry['added_ms']['p50']:.0f} "
                f"p99 {entry['added_ms']['p99']:.0f} max {entry['added_ms']['max']:.0f} ms, "
                f"RSS {entry['rss_peak_kb'] / 1024:.0f} MB, open files {entry.get('fds_peak', '-')} "
                f"of {entry.get('fds_limit', '-')}"
            )
            time.sleep(2.0)

    # -- start-up -------------------------------------------------------------------------

    def startup(self) -> None:
        out: dict[str, object] = {}
        self.results["startup"] = out
        for name, gateway in self.gateways.items():
            if name not in MAIN:
                continue
            runs = 2 if name == "litellm" else self.args.startup_runs
            times = []
            for i in range(runs):
                port = free_port()
                proc = gateway.process(port, log_name=f"{name}-startup").start()
                try:
                    times.append(proc.wait_ready(port, gateway.health_path, gateway.start_timeout, interval=0.005))
                finally:
                    proc.stop()
                self.log(f"start-up: {name} run {i + 1}: {times[-1]:.3f}s")
            out[name] = {
                "runs": [round(t, 3) for t in times],
                "median_s": round(statistics.median(times), 3),
            }

    # -- all ------------------------------------------------------------------------------

    def run(self) -> Path:
        try:
            self.setup()
            self.measure_mock()
            if not {"throughput", "memory", "streams"} <= self.args.skip:
                self.start_gateways()
            if "throughput" not in self.args.skip:
                self.throughput()
            if "memory" not in self.args.skip:
                self.memory()
            if "streams" not in self.args.skip:
                self.open_streams()
            for gateway in self.gateways.values():
                gateway.stop()
            if "startup" not in self.args.skip:
                self.startup()
        finally:
            self.teardown()
        self.results["load_after"] = loadavg()
        (self.run_dir / "results.json").write_text(json.dumps(self.results, indent=2))
        text = report.markdown(self.results)
        (self.run_dir / "report.md").write_text(text)
        latest = self.args.out / "latest.md"
        latest.write_text(text)
        print()
        print(text)
        self.log(f"wrote {self.run_dir / 'results.json'} and {self.run_dir / 'report.md'}")
        return self.run_dir


def _median(runs: list[dict[str, object]]) -> dict[str, object]:
    keys = ("rps", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "cpu_us_per_request")
    out: dict[str, object] = {k: round(statistics.median(float(r[k]) for r in runs), 3) for k in keys}  # type: ignore[arg-type]
    out["errors"] = sum(int(r["errors"]) for r in runs)  # type: ignore[call-overload]
    out["requests"] = sum(int(r["requests"]) for r in runs)  # type: ignore[call-overload]
    out["peak_rss_kb"] = max(int(r["peak_rss_kb"]) for r in runs)  # type: ignore[call-overload]
    return out


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, Scenario):
        return value.name
    if isinstance(value, Path):
        return str(value)
    return value


def main(argv: list[str] | None = None) -> int:
    Bench(parse_args(argv)).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
