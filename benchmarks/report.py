"""The markdown report of one run (results.json is the full record)."""

from __future__ import annotations

from typing import Any

from scenarios import SCENARIOS

TITLES = {s.name: s.title for s in SCENARIOS}
UPSTREAM = {s.name: f"{s.upstream}:{int(s.stream)}" for s in SCENARIOS}

TARGETS = {
    "vs_litellm_nonstream": 30.0,
    "vs_litellm_stream": 20.0,
    "vs_bare": 0.80,
    "added_p50_ms": 1.0,
    "streams_mb": 150.0,
    "growth_mb": 5.0,
    "startup_s": 1.5,
}


def _mb(kb: float | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.1f}"


def _cells(results: dict[str, Any]) -> dict[tuple[str, int, str], dict[str, Any]]:
    return {(c["scenario"], c["concurrency"], c["gateway"]): c for c in results.get("cells", [])}


def _mock_p50(results: dict[str, Any], scenario: str, c: int) -> float | None:
    mock = results.get("mock", {}).get(UPSTREAM[scenario])
    if not mock or str(c) not in mock["cells"]:
        return None
    return mock["cells"][str(c)]["p50_ms"]


def markdown(results: dict[str, Any]) -> str:
    m = results.get("machine", {})
    v = m.get("versions", {})
    out = [
        "# cliproxy benchmark",
        "",
        f"Run {results.get('started')}: {m.get('cores')} cores ({m.get('cpu')}), Python {m.get('python')}; "
        f"{m.get('pinning')}. Load average (1/5/15 min) before {results.get('load_before')}, after {results.get('load_after')}. "
        f"cliproxy {v.get('cliproxy')}, LiteLLM {results.get('litellm_version', '-')}, "
        f"Hypercorn {v.get('hypercorn')}, Starlette {v.get('starlette')}, aiohttp {v.get('aiohttp')}. "
        "One worker each; wrk, closed loop; each figure is the median of the run's rounds.",
        "",
    ]
    out += _mock(results)
    out += _throughput(results)
    out += _ratios(results)
    out += _memory(results)
    out += _startup(results)
    out += _targets(results)
    return "\n".join(out) + "\n"


def _mock(results: dict[str, Any]) -> list[str]:
    mock = results.get("mock")
    if not mock:
        return []
    concs = sorted({int(c) for entry in mock.values() for c in entry["cells"]})
    head = "| mock endpoint | " + " | ".join(f"c={c} req/s | c={c} p50 ms" for c in concs) + " |"
    lines = ["## The mock upstream alone", "", head, "|" + "---|" * (1 + 2 * len(concs))]
    for entry in mock.values():
        row = [entry["label"]]
        for c in concs:
            cell = entry["cells"].get(str(c))
            row += [f"{cell['rps']:,.0f}", f"{cell['p50_ms']:.3f}"] if cell else ["-", "-"]
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def _throughput(results: dict[str, Any]) -> list[str]:
    cells = results.get("cells")
    if not cells:
        return []
    lines = [
        "## Throughput and latency",
        "",
        "| scenario | c | gateway | req/s | p50 ms | p99 ms | p50 over mock ms | CPU us/req | peak RSS MB | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        title = TITLES.get(c["scenario"], c["scenario"])
        if "skipped" in c:
            lines.append(f"| {title} | {c['concurrency']} | {c['gateway']} | skipped: {c['skipped']} | | | | | | |")
            continue
        base = _mock_p50(results, c["scenario"], c["concurrency"])
        added = f"{c['p50_ms'] - base:+.2f}" if base is not None else "-"
        lines.append(
            f"| {title} | {c['concurrency']} | {c['gateway']} | {c['rps']:,.0f} | {c['p50_ms']:.2f} | {c['p99_ms']:.2f} "
            f"| {added} | {c['cpu_us_per_request']:,.0f} | {_mb(c['peak_rss_kb'])} | {c['errors']} |"
        )
    return [*lines, ""]


def ratios(results: dict[str, Any]) -> list[dict[str, Any]]:
    """cliproxy's throughput over LiteLLM's and over the bare pass-through's, per cell."""
    cells = _cells(results)
    rows = []
    for (scenario, c, gateway), cell in cells.items():
        if gateway != "cliproxy" or "skipped" in cell:
            continue
        row: dict[str, Any] = {"scenario": scenario, "concurrency": c}
        for other in ("litellm", "bare"):
            peer = cells.get((scenario, c, other))
            if peer and "skipped" not in peer and peer["rps"]:
                row[other] = cell["rps"] / peer["rps"]
                if cell.get("cpu_us_per_request"):
                    row[f"{other}_cpu"] = peer["cpu_us_per_request"] / cell["cpu_us_per_request"]
        rows.append(row)
    return rows


def _ratios(results: dict[str, Any]) -> list[str]:
    rows = ratios(results)
    if not rows:
        return []
    lines = [
        "## Ratios",
        "",
        "req/s of cliproxy over the other's; in brackets, the same from CPU time per request (the",
        "other's over cliproxy's), which a busy machine disturbs less.",
        "",
        "| scenario | c | cliproxy / LiteLLM | cliproxy / bare |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lite = f"{row['litellm']:.1f}x ({row['litellm_cpu']:.1f}x)" if "litellm" in row else "-"
        bare = f"{row['bare']:.0%} ({row['bare_cpu']:.0%})" if "bare" in row else "-"
        lines.append(f"| {TITLES.get(row['scenario'], row['scenario'])} | {row['concurrency']} | {lite} | {bare} |")
    return [*lines, ""]


def _memory(results: dict[str, Any]) -> list[str]:
    memory = results.get("memory")
    if not memory:
        return []
    lines = [
        "## Memory",
        "",
        "| gateway | RSS after warm-up MB | after N requests MB | growth MB | N (errors) | slow streams open | RSS with them open MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in memory.items():
        g = entry.get("growth", {})
        s = entry.get("streams", {})
        lines.append(
            f"| {name} | {_mb(g.get('rss_before_kb'))} | {_mb(g.get('rss_after_kb'))} | {_mb(g.get('growth_kb'))} "
            f"| {g.get('requests', 0):,} ({g.get('errors', 0)}) | {s.get('opened', 0)}/{s.get('wanted', 0)} | {_mb(s.get('rss_kb'))} |"
        )
    return [*lines, ""]


def _startup(results: dict[str, Any]) -> list[str]:
    startup = results.get("startup")
    if not startup:
        return []
    lines = [
        "## Start-up (process start to first good health check)",
        "",
        "| gateway | median s | runs s |",
        "|---|---|---|",
    ]
    for name, entry in startup.items():
        lines.append(f"| {name} | {entry['median_s']:.2f} | {', '.join(f'{t:.2f}' for t in entry['runs'])} |")
    return [*lines, ""]


def _targets(results: dict[str, Any]) -> list[str]:
    checks: list[tuple[str, str, bool | None]] = []
    stream_of = {s.name: s.stream for s in SCENARIOS}
    for row in ratios(results):
        title = f"{TITLES.get(row['scenario'], row['scenario'])}, c={row['concurrency']}"
        if "litellm" in row:
            want = TARGETS["vs_litellm_stream"] if stream_of.get(row["scenario"]) else TARGETS["vs_litellm_nonstream"]
            checks.append((f"{title}: >= {want:g}x LiteLLM", f"{row['litellm']:.1f}x", row["litellm"] >= want))
        if "bare" in row:
            checks.append(
                (
                    f"{title}: >= 80% of bare",
                    f"{row['bare']:.0%}",
                    row["bare"] >= TARGETS["vs_bare"],
                )
            )
    cells = _cells(results)
    for (scenario, c, gateway), cell in cells.items():
        if gateway != "cliproxy" or c != 1 or "skipped" in cell:
            continue
        base = _mock_p50(results, scenario, c)
        if base is not None:
            added = cell["p50_ms"] - base
            checks.append(
                (
                    f"{TITLES.get(scenario, scenario)}, c=1: p50 <= mock + 1 ms",
                    f"+{added:.2f} ms",
                    added <= TARGETS["added_p50_ms"],
                )
            )
    mem = results.get("memory", {}).get("cliproxy")
    if mem:
        s, g = mem.get("streams"), mem.get("growth")
        if s:
            full = s["opened"] == s["wanted"]
            checks.append(
                (
                    f"{s['wanted']} slow streams open: RSS < 150 MB",
                    f"{s['rss_kb'] / 1024:.1f} MB ({s['opened']} open)",
                    full and s["rss_kb"] / 1024 < TARGETS["streams_mb"],
                )
            )
        if g:
            checks.append(
                (
                    f"growth over {g['requests']:,} requests < 5 MB",
                    f"{g['growth_kb'] / 1024:+.1f} MB",
                    g["growth_kb"] / 1024 < TARGETS["growth_mb"],
                )
            )
    start = results.get("startup", {}).get("cliproxy")
    if start:
        checks.append(
            (
                "start-up to ready < 1.5 s",
                f"{start['median_s']:.2f} s",
                start["median_s"] < TARGETS["startup_s"],
            )
        )
    if not checks:
        return []
    lines = ["## cliproxy against the targets", "", "| target | measured | met |", "|---|---|---|"]
    for name, value, ok in checks:
        lines.append(f"| {name} | {value} | {'yes' if ok else 'NO'} |")
    return [*lines, ""]
