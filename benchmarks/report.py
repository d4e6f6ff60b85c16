"""The markdown report of one run (results.json is the full record)."""

from __future__ import annotations

from typing import Any

from scenarios import SCENARIOS

TITLES = {s.name: s.title for s in SCENARIOS}
UPSTREAM = {s.name: f"{s.upstream}:{int(s.stream)}" for s in SCENARIOS}

TARGETS = {
    "vs_litellm_nonstream": 40.0,
    "vs_litellm_stream": 80.0,
    "vs_bare": 0.80,  # of the fastest bare pass-through
    "added_p50_ms": 0.5,
    "open_streams_rss_mb": 1024.0,
    "open_streams_added_p99_ms": 50.0,
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
        f"Hypercorn {v.get('hypercorn')}, uvicorn {v.get('uvicorn')} (httptools {v.get('httptools')}), "
        f"granian {v.get('granian')}, Starlette {v.get('starlette')}, aiohttp {v.get('aiohttp')}. "
        "One worker each (the -w2 gateway: two, on both cores); wrk, closed loop; each figure is the "
        "median of the run's rounds.",
        "",
    ]
    out += _mock(results)
    out += _servers(results)
    out += _throughput(results)
    out += _ratios(results)
    out += _memory(results)
    out += _open_streams(results)
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


def _servers(results: dict[str, Any]) -> list[str]:
    """req/s of every gateway side by side, one row per scenario and concurrency."""
    cells = results.get("cells")
    if not cells:
        return []
    names = list(dict.fromkeys(c["gateway"] for c in cells))
    lines = [
        "## req/s side by side",
        "",
        "| scenario | c | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    table = _cells(results)
    for scenario, c in dict.fromkeys((cell["scenario"], cell["concurrency"]) for cell in cells):
        row = []
        for name in names:
            cell = table.get((scenario, c, name))
            row.append("-" if cell is None or "skipped" in cell else f"{cell['rps']:,.0f}")
        lines.append(f"| {TITLES.get(scenario, scenario)} | {c} | " + " | ".join(row) + " |")
    return [*lines, ""]


def _fastest_bare(cells: dict[tuple[str, int, str], dict[str, Any]], scenario: str, c: int) -> dict[str, Any] | None:
    peers = [
        cell
        for (s, cc, name), cell in cells.items()
        if s == scenario and cc == c and name.startswith("bare") and "skipped" not in cell and cell["rps"]
    ]
    return max(peers, key=lambda cell: cell["rps"], default=None)


def ratios(results: dict[str, Any]) -> list[dict[str, Any]]:
    """cliproxy's throughput over LiteLLM's, over the fastest bare pass-through's (on any
    server), and cliproxy --workers 2 over one worker, per cell."""
    cells = _cells(results)
    rows = []
    for (scenario, c, gateway), cell in cells.items():
        if gateway != "cliproxy" or "skipped" in cell:
            continue
        row: dict[str, Any] = {"scenario": scenario, "concurrency": c}
        peers = {"litellm": cells.get((scenario, c, "litellm")), "bare": _fastest_bare(cells, scenario, c)}
        for other, peer in peers.items():
            if peer and "skipped" not in peer and peer["rps"]:
                row[other] = cell["rps"] / peer["rps"]
                if cell.get("cpu_us_per_request"):
                    row[f"{other}_cpu"] = peer["cpu_us_per_request"] / cell["cpu_us_per_request"]
        if peers["bare"]:
            row["bare_name"] = peers["bare"]["gateway"]
        two = cells.get((scenario, c, "cliproxy-w2"))
        if two and "skipped" not in two and cell["rps"]:
            row["w2"] = two["rps"] / cell["rps"]
        base = cells.get((scenario, c, "baseline"))  # --baseline: an earlier checkout, same run
        if base and "skipped" not in base and base["rps"]:
            row["baseline"] = cell["rps"] / base["rps"]
            if cell.get("cpu_us_per_request") and base.get("cpu_us_per_request"):
                row["baseline_cpu"] = base["cpu_us_per_request"] / cell["cpu_us_per_request"]
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
        "| scenario | c | cliproxy / LiteLLM | cliproxy / fastest bare | --workers 2 / 1 | cliproxy / baseline |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lite = f"{row['litellm']:.1f}x ({row['litellm_cpu']:.1f}x)" if "litellm" in row else "-"
        bare = f"{row['bare']:.0%} ({row['bare_cpu']:.0%}) of {row['bare_name']}" if "bare" in row else "-"
        two = f"{row['w2']:.2f}x" if "w2" in row else "-"
        base = f"{row['baseline']:.2f}x ({row.get('baseline_cpu', 0):.2f}x)" if "baseline" in row else "-"
        lines.append(
            f"| {TITLES.get(row['scenario'], row['scenario'])} | {row['concurrency']} | {lite} | {bare} | {two} "
            f"| {base} |"
        )
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


def _open_streams(results: dict[str, Any]) -> list[str]:
    runs = results.get("open_streams")
    if not runs:
        return []
    lines = [
        f"## Many open streams (a token every {1000 * next(iter(runs.values())).get('interval_s', 0.1):g} ms)",
        "",
        "Added delay: time between two reads of a stream beyond the interval the mock waits; "
        "`mock` is the client straight at the mock, the floor of the measurement.",
        "",
        "| through | streams | complete | short / failed / unfinished | seconds to open | added p50 ms | p99 ms | p99.9 ms | max ms "
        "| peak RSS MB | CPU s | open files (limit) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        a = r["added_ms"]
        files = f"{r['fds_peak']:,} ({r['fds_limit']:,})" if r.get("fds_peak") else "-"
        lines.append(
            f"| {name} | {r['streams']:,} | {r['complete'] / r['streams']:.1%} "
            f"| {r['short']} / {r['failed']} / {r.get('unfinished', '-')} "
            f"| {r['seconds_to_open']:.1f} | {a['p50']:.0f} | {a['p99']:.0f} | {a['p999']:.0f} | {a['max']:.0f} "
            f"| {_mb(r.get('rss_peak_kb')) if r.get('rss_peak_kb') else '-'} | {r.get('cpu_s') or '-'} "
            f"| {files} |"
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
                    f"{title}: >= 80% of the fastest bare",
                    f"{row['bare']:.0%} of {row['bare_name']}",
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
                    f"{TITLES.get(scenario, scenario)}, c=1: p50 <= mock + {TARGETS['added_p50_ms']:g} ms",
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
    streams = results.get("open_streams", {})
    one, floor = streams.get("cliproxy"), streams.get("mock")
    if one:
        added = one["added_ms"]["p99"] - (floor["added_ms"]["p99"] if floor else 0)
        checks += [
            (f"{one['streams']:,} open streams, one worker: 100% complete", f"{one['complete'] / one['streams']:.1%}",
             one["complete"] == one["streams"]),
            (f"{one['streams']:,} open streams: RSS < 1 GB", f"{one['rss_peak_kb'] / 1024:.0f} MB",
             one["rss_peak_kb"] / 1024 < TARGETS["open_streams_rss_mb"]),
            (f"{one['streams']:,} open streams: added p99 inter-chunk delay < 50 ms (over the mock-only floor)",
             f"{added:+.0f} ms ({one['added_ms']['p99']:.0f} - {floor['added_ms']['p99'] if floor else 0:.0f})",
             added < TARGETS["open_streams_added_p99_ms"]),
        ]  # fmt: skip
    two = streams.get("cliproxy-w2")
    if two:
        checks.append(
            (f"{two['streams']:,} open streams through --workers 2: 100% complete",
             f"{two['complete'] / two['streams']:.1%}", two["complete"] == two["streams"])
        )  # fmt: skip
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
