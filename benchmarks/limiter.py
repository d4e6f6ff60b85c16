"""What a client key's limits cost per request, in process.

    uv run benchmarks/limiter.py [--requests 3000] [--repeats 5] [--redis redis://127.0.0.1:6379/0]

Three numbers (reported, not asserted):

1. the state store's ``acquire`` + ``release`` of one request (rpm, tpm, max-parallel,
   daily-tokens and monthly-budget-usd all set): CPU microseconds on the memory store, and
   wall microseconds on Redis (two Lua calls: one round trip each, when a Redis answers);
2. the gateway's own CPU per request (benchmarks/inprocess.py's method: the ASGI app
   driven directly, the upstream answering at once) with a plain key, and with the same
   key carrying all those limits on the memory store (``--limits rpm``: rpm alone, no token
   estimate or price) -- the difference is the limiter's overhead on the hot path.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import inprocess  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

LIMITS_YAML = {
    "all": 'api-keys: [{key: "sk-bench", name: bench, rpm: 100000000, tpm: 1000000000000, max-parallel: 1000, '
    "daily-tokens: 1000000000000, monthly-budget-usd: 1000000}]",
    "rpm": 'api-keys: [{key: "sk-bench", name: bench, rpm: 100000000}]',
}


async def _store_cost(store: Any, requests: int, repeats: int, clock: Any) -> float:
    from cliproxy.state.limiter import RateLimits

    limits = RateLimits(rpm=10**8, tpm=10**12, parallel=1000, daily_tokens=10**12, monthly_nanos=10**15)
    best = float("inf")
    for repeat in range(repeats):
        start = clock()
        for i in range(requests):
            ticket = f"{repeat}-{i}"
            admission = await store.acquire("bench", ticket, limits, tokens=50, cost=1000, lease=900)
            await store.release("bench", ticket, limits, admission, charged=(50, 1000), used=(60, 1200))
        best = min(best, (clock() - start) / requests * 1e6)
    return best


async def stores(args: argparse.Namespace) -> None:
    from cliproxy.state import MemoryStore

    memory = await _store_cost(MemoryStore(), args.requests, args.repeats, time.process_time)
    print(f"memory store acquire+release: {memory:8.1f} us CPU per request")
    if not args.redis:
        return
    from cliproxy.state.redis import RedisStore

    store = RedisStore(args.redis, key_prefix="cliproxy-bench-limiter:")
    try:
        await store.acquire("probe", "p", _nothing(), tokens=0, cost=0, lease=1)
        if store.degraded:
            print(f"redis at {args.redis}: not reachable, skipped")
            return
        redis = await _store_cost(store, args.requests // 3, args.repeats, time.perf_counter)
        print(f"redis store acquire+release:  {redis:8.1f} us wall per request (two round trips)")
    finally:
        await store.close()


def _nothing() -> Any:
    from cliproxy.state.limiter import RateLimits

    return RateLimits()


async def gateway(args: argparse.Namespace) -> None:
    from cliproxy.app import create_app, gateway_of

    run_dir = HERE / "results" / "limiter"
    run_dir.mkdir(parents=True, exist_ok=True)
    plain_app = inprocess._cliproxy_app(run_dir)
    plain_config = Path(gateway_of(plain_app).config.file)
    limited_config = run_dir / "cliproxy-limited.yaml"
    text = plain_config.read_text()
    limits = LIMITS_YAML[args.limits]
    limited_config.write_text(text.replace('api-keys: ["sk-bench"]', limits))
    assert limits in limited_config.read_text(), "the benchmark config's api-keys line changed"
    limited_app = create_app(limited_config)
    apps = [plain_app, limited_app]
    lifespans = [app.router.lifespan_context(app) for app in apps]
    real = []
    for app, lifespan in zip(apps, lifespans, strict=True):
        await lifespan.__aenter__()
        real.append(gateway_of(app)._sessions)
        gateway_of(app)._sessions = inprocess._FakeSessions()
    try:
        await _compare(plain_app, limited_app, args)
    finally:
        for app, lifespan, sessions in zip(apps, lifespans, real, strict=True):
            gateway_of(app)._sessions = sessions
            await lifespan.__aexit__(None, None, None)


async def _compare(plain_app: Any, limited_app: Any, args: argparse.Namespace) -> None:
    print(f"{'scenario':<26} {'plain us/req':>13} {'limited us/req':>15} {'overhead us':>12}")
    for scenario in args.scenarios:
        plain = limited = float("inf")
        for _ in range(args.repeats):  # interleaved, best of each: the machine's noise hits both alike
            plain = min(plain, await inprocess._measure(plain_app, scenario, args.requests, 1))
            limited = min(limited, await inprocess._measure(limited_app, scenario, args.requests, 1))
        print(f"{scenario.name:<26} {plain:13.1f} {limited:15.1f} {limited - plain:12.1f}")


async def main_async(args: argparse.Namespace) -> None:
    await stores(args)
    await gateway(args)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenarios", default="openai,openai-stream", help="comma-separated scenario names")
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="'' to skip the Redis store")
    p.add_argument(
        "--limits", choices=sorted(LIMITS_YAML), default="all", help="the limited key's: every limit, or rpm only"
    )
    args = p.parse_args()
    args.scenarios = [s for s in SCENARIOS if s.name in args.scenarios.split(",")]
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
