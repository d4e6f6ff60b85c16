"""What only the Redis store does: share state between instances, and survive Redis
being down (local state, one warning, recovery)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
from cliproxy.ir import Usage
from cliproxy.state import Cooldown, MemoryStore
from cliproxy.state.limiter import RateLimits
from cliproxy.state.redis import RedisStore, safe_url
from cliproxy.testing import FakeClock
from redis.asyncio.connection import Connection


class _Link:
    """One client connection through the :class:`Switch` and its connection to Redis."""

    def __init__(self, client: asyncio.StreamWriter, redis: asyncio.StreamWriter) -> None:
        self.client = client
        self.redis = redis
        self.severed = False


class Switch:
    """A TCP proxy in front of the real Redis that can be cut and restored -- or severed:
    Redis restarts behind it while the client's connections stay open, as a NAT or a
    load balancer that lost their state keeps them; each breaks (a reset) when next used."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self.refuse = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def up(self) -> None:
        self.refuse = False
        if self._server is None:
            self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        for link in list(self._links):
            link.client.close()
            link.redis.close()
        self._links.clear()

    def sever(self, *, refuse: bool = False) -> None:
        """Redis restarts behind the proxy: its side of every open connection is gone, the
        client's side stays open until the client sends on it. ``refuse``: and new
        connections are turned away until :meth:`up` (Redis is not back yet)."""
        for link in self._links:
            link.severed = True
            link.redis.close()
        self.refuse = refuse

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
        link = _Link(writer, up_writer)
        self._links.add(link)

        async def to_redis() -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await reader.read(65536):
                    if link.severed:  # the middlebox no longer knows this connection
                        writer.transport.abort()
                        return
                    up_writer.write(data)
                    await up_writer.drain()
            up_writer.close()

        async def to_client() -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await up_reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            if not link.severed:
                writer.close()

        try:
            await asyncio.gather(to_redis(), to_client())
        finally:
            self._links.discard(link)


@pytest.fixture
async def switch() -> AsyncIterator[Switch]:
    proxy = Switch()
    await proxy.up()
    yield proxy
    with contextlib.suppress(Exception):
        await proxy.down()


@pytest.fixture
async def twin(redis_url: str, redis_prefix: str, clock: FakeClock) -> AsyncIterator[RedisStore]:
    """A second instance on the same Redis and prefix (another gateway process)."""
    store = RedisStore(redis_url, key_prefix=redis_prefix, clock=clock)
    yield store
    await store.close()


async def test_instances_share_cooldowns_cursors_usage_and_values(redis_store, twin, clock):
    rest = Cooldown(until=clock() + 30, reason="rate limited (429)", status=429, level=1)
    await redis_store.set_cooldown("cred-a", "gpt", rest)
    assert await twin.get_cooldowns("cred-a", "gpt") == (None, rest)
    assert [await s.next_cursor("pool") for s in (redis_store, twin, redis_store, twin)] == [
        0,
        1,
        2,
        3,
    ]
    await redis_store.add_usage("cred-a", "gpt", Usage(input_tokens=3), failed=False)
    await twin.add_usage("cred-a", "gpt", None, failed=True, error="boom (500)")
    totals = (await redis_store.usage())["cred-a"]["gpt"]
    assert (totals.requests, totals.failures, totals.input_tokens, totals.last_error) == (
        2,
        1,
        3,
        "boom (500)",
    )
    await twin.set_value("tokens:x", b"fresh")
    assert await redis_store.get_value("tokens:x") == b"fresh"
    assert await twin.clear_cooldowns("cred-a") == 1
    assert await redis_store.get_cooldowns("cred-a", "gpt") == (None, None)


async def test_key_prefixes_keep_deployments_apart(redis_store, redis_url, redis_prefix, clock):
    other = RedisStore(redis_url, key_prefix=redis_prefix + "other:", clock=clock)
    try:
        await redis_store.set_cooldown("cred-a", None, Cooldown(until=clock() + 30, reason="x", status=401))
        assert await other.get_cooldowns("cred-a", "m") == (None, None)
        assert await other.cooldowns() == {}
        assert await other.next_cursor("pool") == 0
    finally:
        await other.close()


async def test_cooldown_keys_expire_in_redis_by_time(redis_store, redis_url, redis_prefix, clock):
    await redis_store.set_cooldown("cred-a", "gpt", Cooldown(until=clock() + 30, reason="x", status=503))
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=redis_prefix + "cd:*")]
        assert len(keys) == 1
        ttl = await client.pttl(keys[0])
        assert 0 < ttl <= (30 + 30 * 60) * 1000  # its end plus the linger time, never forever
    finally:
        await client.aclose()


async def test_instances_writing_one_space_keep_its_total(redis_store, twin, redis_url, redis_prefix):
    """Puts from two instances at once never take a space past its total, and its byte
    counter stays the sum of what is kept (each put is one atomic script)."""

    async def writer(store: RedisStore, name: str) -> None:
        for n in range(60):
            await store.put_linked("kept", f"{name}{n}", b"v" * (100 + n), parent=None, ttl=60, max_total=2_000)

    await asyncio.gather(writer(redis_store, "a"), writer(twin, "b"), writer(redis_store, "c"), writer(twin, "d"))
    count, total = await twin.linked_usage("kept")
    assert 0 < total <= 2_000
    client = aioredis.Redis.from_url(redis_url)
    try:
        kept = [k async for k in client.scan_iter(match=redis_prefix + "lv:kept:v:*")]
        assert len(kept) == count
        assert sum([await client.strlen(k) for k in kept]) == total
        for key in kept:  # every value, and the space itself, expires in Redis too
            assert 0 < await client.pttl(key) <= 120_000
        assert 0 < await client.pttl(redis_prefix + "lv:kept:i") <= 120_000
    finally:
        await client.aclose()


async def test_lock_excludes_other_instances(redis_store, twin):
    events: list[str] = []

    async def hold(store: RedisStore, name: str) -> None:
        async with store.lock("refresh:cred", ttl=10):
            events.append(f"{name} in")
            await asyncio.sleep(0.05)
            events.append(f"{name} out")

    await asyncio.gather(hold(redis_store, "a"), hold(twin, "b"))
    assert events in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


async def test_lock_of_a_vanished_holder_frees_after_its_ttl(redis_store, redis_url, redis_prefix):
    client = aioredis.Redis.from_url(redis_url)
    try:  # a holder that died without releasing: only the key's TTL is left
        await client.set(redis_prefix + "lock:refresh:cred", b"dead-holder", px=200)
    finally:
        await client.aclose()
    async with asyncio.timeout(10):
        async with redis_store.lock("refresh:cred", ttl=10):
            pass


async def test_selection_read_is_one_round_trip(redis_store, clock, monkeypatch):
    pairs = [(f"cred-{i}", "gpt") for i in range(6)]
    await redis_store.set_cooldown("cred-3", "gpt", Cooldown(until=clock() + 30, reason="x", status=429))
    await redis_store.routing_view(pairs, "warm-up")  # the connection is open
    sends = 0
    original = Connection.send_packed_command

    async def counting(self, command, check_health=True):  # type: ignore[no-untyped-def]
        nonlocal sends
        sends += 1
        return await original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    view, cursor = await redis_store.routing_view(pairs, "pool")
    assert sends == 1
    assert view[3][1] is not None and cursor == 0


async def test_redis_down_from_the_start_uses_local_state(caplog, clock):
    store = RedisStore("redis://127.0.0.1:1/0", key_prefix="unused:", clock=clock)
    try:
        with caplog.at_level(logging.WARNING, logger="cliproxy.state"):
            rest = Cooldown(until=clock() + 30, reason="r", status=429)
            await store.set_cooldown("c", "m", rest)
            assert await store.get_cooldowns("c", "m") == (None, rest)
            assert (await store.routing_view([("c", "m")], "pool"))[1] == 0
            assert await store.next_cursor("pool") == 1
            await store.add_usage("c", "m", None, failed=True, error="e")
            assert (await store.usage())["c"]["m"].failures == 1
            async with store.lock("k"):
                await store.set_value("v", b"1")
            assert await store.get_value("v") == b"1"
            assert await store.cooldowns() == {"c": {"m": rest}}
        warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert len(warnings) == 1  # one warning per outage, not one per call
        info = store.describe()
        assert info["healthy"] is False and info["shared"] is True
    finally:
        await store.close()


async def test_outage_degrades_to_local_state_and_recovers(switch, redis_prefix, redis_url, clock, caplog):
    store = RedisStore(switch.url, key_prefix=redis_prefix, clock=clock, retry_interval=0.0)
    twin = RedisStore(redis_url, key_prefix=redis_prefix, clock=clock)
    try:
        rest = Cooldown(until=clock() + 60, reason="shared", status=429)
        await twin.set_cooldown("c", "m", rest)
        assert await store.get_cooldowns("c", "m") == (None, rest)

        await switch.down()
        with caplog.at_level(logging.WARNING, logger="cliproxy.state"):
            assert await store.get_cooldowns("c", "m") == (
                None,
                None,
            )  # local state: empty, no error
            assert store.degraded
            await store.set_cooldown("c", "local-only", rest)
            assert await store.get_cooldowns("c", "local-only") == (None, rest)

            await switch.up()
            async with asyncio.timeout(10):
                while store.degraded:  # a background ping notices Redis is back
                    await store.get_cooldowns("c", "m")
                    await asyncio.sleep(0.01)
        assert await store.get_cooldowns("c", "m") == (None, rest)  # shared state again
        messages = [r.getMessage() for r in caplog.records]
        assert any("unavailable" in m for m in messages) and any("reachable again" in m for m in messages)
    finally:
        await store.close()
        await twin.close()


async def _probe_until(store: RedisStore, done: Callable[[], bool]) -> None:
    """Keep calling a degraded store (each call may start a background probe) until ``done``."""
    async with asyncio.timeout(10):
        while not done():
            await store.get_cooldowns("probe", "m")
            await asyncio.sleep(0.01)


@pytest.fixture
async def cut_store(switch, redis_prefix, clock) -> AsyncIterator[RedisStore]:
    """A store that reaches Redis through ``switch``, probing again on every call while down."""
    store = RedisStore(switch.url, key_prefix=redis_prefix, clock=clock, retry_interval=0.0)
    yield store
    await store.close()


async def test_recovery_writes_back_cooldowns_and_usage_recorded_during_the_outage(
    switch, cut_store, twin, clock, caplog
):
    store = cut_store
    await store.add_usage("c", "m", Usage(input_tokens=5), failed=False)  # before: in Redis
    await switch.down()
    await store.add_usage("c", "m", Usage(input_tokens=2, output_tokens=7), failed=False)
    await store.add_usage("c", "m", None, failed=True, error="invalid x-api-key (401)")
    await store.add_usage("d", "m", None, failed=False)
    assert store.degraded
    clock.advance(1)
    whole = Cooldown(until=clock() + 600, reason="invalid x-api-key (401)", status=401)
    rest = Cooldown(until=clock() + 60, reason="rate limited (429)", status=429, level=2)
    await store.set_cooldown("c", None, whole)
    await store.set_cooldown("c", "m", rest)
    assert await twin.get_cooldowns("c", "m") == (None, None)  # not shared while down

    await switch.up()
    with caplog.at_level(logging.WARNING, logger="cliproxy.state"):
        await _probe_until(store, lambda: not store.degraded)

    assert await twin.get_cooldowns("c", "m") == (whole, rest)
    totals = (await twin.usage())["c"]["m"]
    assert (totals.requests, totals.failures, totals.input_tokens, totals.output_tokens) == (
        3,
        1,
        7,
        7,
    )
    assert (totals.last_error, totals.last_error_at) == ("invalid x-api-key (401)", clock() - 1)
    assert (await twin.usage())["d"]["m"].requests == 1
    assert (await store.usage())["c"]["m"].requests == 3
    recoveries = [r.getMessage() for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(recoveries) == 1
    assert "wrote back 2 cooldowns and 2 usage entries" in recoveries[0]

    await switch.down()  # the local copy was cleared: another outage does not add it again
    await store.get_cooldowns("c", "m")
    assert store.degraded
    await switch.up()
    await _probe_until(store, lambda: not store.degraded)
    assert (await twin.usage())["c"]["m"].requests == 3


async def test_recovery_keeps_a_longer_cooldown_already_in_redis(switch, cut_store, twin, clock, caplog):
    store = cut_store
    await switch.down()
    await store.get_cooldowns("c", "m")  # finds Redis down
    longer = Cooldown(until=clock() + 600, reason="rate limited elsewhere (429)", status=429)
    shorter = Cooldown(until=clock() + 10, reason="rate limited elsewhere (429)", status=429)
    await twin.set_cooldown("c", "long", longer)  # other instances still reach Redis
    await twin.set_cooldown("c", "short", shorter)
    local = Cooldown(until=clock() + 60, reason="rate limited here (429)", status=429, level=1)
    for model in ("long", "short", "new"):
        await store.set_cooldown("c", model, local)

    await switch.up()
    with caplog.at_level(logging.WARNING, logger="cliproxy.state"):
        await _probe_until(store, lambda: not store.degraded)
    assert (await twin.cooldowns())["c"] == {"long": longer, "short": local, "new": local}
    assert "wrote back 2 cooldowns and 0 usage entries" in caplog.text


async def test_a_failed_write_back_keeps_the_store_degraded_until_it_succeeds(
    switch, cut_store, twin, redis_url, redis_prefix, clock, caplog
):
    store = cut_store
    await switch.down()
    rest = Cooldown(until=clock() + 60, reason="rate limited (429)", status=429)
    await store.set_cooldown("c", "m", rest)
    await store.add_usage("c", "m", Usage(input_tokens=4), failed=False)
    await store.add_usage("bad", "m", None, failed=False)
    client = aioredis.Redis.from_url(redis_url)
    try:  # Redis answers pings but refuses the usage write (a key of the wrong type)
        await client.set(redis_prefix + "usage:bad", b"not a hash")
        await switch.up()
        with caplog.at_level(logging.WARNING, logger="cliproxy.state"):
            await _probe_until(store, lambda: "writing back" in caplog.text)
            assert store.degraded and store.describe()["healthy"] is False
            assert await store.get_cooldowns("c", "m") == (None, rest)  # still local, still there
            assert await client.exists(redis_prefix + "usage:c") == 0  # all or nothing
            await client.delete(redis_prefix + "usage:bad")
            await _probe_until(store, lambda: not store.degraded)
    finally:
        await client.aclose()
    assert await twin.get_cooldowns("c", "m") == (None, rest)
    usage = await twin.usage()
    assert (usage["c"]["m"].requests, usage["c"]["m"].input_tokens, usage["bad"]["m"].requests) == (
        1,
        4,
        1,
    )
    assert len([r for r in caplog.records if "writing back" in r.getMessage()]) == 1


async def test_recovery_writes_back_client_usage_counted_during_the_outage(switch, cut_store, twin, caplog):
    store = cut_store
    await store.add_client_usage("key-1", Usage(input_tokens=5), failed=False)  # before: in Redis
    await switch.down()
    await store.add_client_usage("key-1", Usage(input_tokens=2, output_tokens=7), failed=False)
    await store.add_client_usage("key-1", None, failed=True)
    await store.add_client_usage("key-2", Usage(reasoning_tokens=4), failed=False)
    assert store.degraded
    assert "key-2" not in await twin.client_usage()  # not shared while down
    assert (await store.client_usage())["key-2"].reasoning_tokens == 4  # counted locally meanwhile

    await switch.up()
    with caplog.at_level(logging.WARNING, logger="cliproxy.state"):
        await _probe_until(store, lambda: not store.degraded)

    clients = await twin.client_usage()
    one = clients["key-1"]
    assert (one.requests, one.failures, one.input_tokens, one.output_tokens) == (3, 1, 7, 7)
    assert (clients["key-2"].requests, clients["key-2"].reasoning_tokens) == (1, 4)
    assert "wrote back 0 cooldowns and 2 usage entries" in caplog.text

    await switch.down()  # the local copy was cleared: another outage does not add it again
    await store.get_cooldowns("c", "m")
    assert store.degraded
    await switch.up()
    await _probe_until(store, lambda: not store.degraded)
    assert (await twin.client_usage())["key-1"].requests == 3


async def test_a_failed_write_back_adds_no_client_usage(switch, cut_store, twin, redis_url, redis_prefix, caplog):
    store = cut_store
    await switch.down()
    await store.add_client_usage("key-1", Usage(input_tokens=4), failed=False)
    await store.add_usage("bad", "m", None, failed=False)
    client = aioredis.Redis.from_url(redis_url)
    try:  # Redis answers but refuses the credential usage: the client counts wait with it
        await client.set(redis_prefix + "usage:bad", b"not a hash")
        await switch.up()
        with caplog.at_level(logging.WARNING, logger="cliproxy.state"):
            await _probe_until(store, lambda: "writing back" in caplog.text)
            assert await client.exists(redis_prefix + "clients") == 0  # all or nothing
            assert (await store.client_usage())["key-1"].input_tokens == 4  # still local
            await client.delete(redis_prefix + "usage:bad")
            await _probe_until(store, lambda: not store.degraded)
    finally:
        await client.aclose()
    assert (await twin.client_usage())["key-1"].input_tokens == 4


async def test_local_hand_over_forgets_only_the_client_usage_handed_over(clock):
    local = MemoryStore(clock)
    await local.add_client_usage("key-1", Usage(input_tokens=3), failed=True)
    counted = await local.client_usage()
    await local.add_client_usage("key-1", Usage(input_tokens=2), failed=False)  # during the copy
    local.subtract_client_usage(counted)
    left = (await local.client_usage())["key-1"]
    assert (left.requests, left.failures, left.input_tokens) == (1, 0, 2)
    local.subtract_client_usage(await local.client_usage())
    assert await local.client_usage() == {}


async def test_local_hand_over_forgets_only_what_was_handed_over(clock):
    local = MemoryStore(clock)
    old = Cooldown(until=clock() + 60, reason="r", status=429)
    await local.set_cooldown("c", "m", old)
    await local.set_cooldown("c", None, old)
    await local.add_usage("c", "m", Usage(input_tokens=3), failed=True, error="first")
    records, counted = local.records(), await local.usage()
    newer = Cooldown(until=clock() + 90, reason="r", status=429, level=1)
    await local.set_cooldown("c", "m", newer)  # recorded while the copy was under way
    clock.advance(1)
    await local.add_usage("c", "m", Usage(input_tokens=2), failed=False, error="second")
    local.forget_records(records)
    local.subtract_usage(counted)
    assert local.records() == {("c", "m"): newer}
    left = (await local.usage())["c"]["m"]
    assert (left.requests, left.failures, left.input_tokens, left.last_error) == (1, 0, 2, "second")
    local.subtract_usage(await local.usage())
    assert await local.usage() == {}


def test_safe_url_hides_the_password():
    assert safe_url("redis://:s3cret@cache:6380/1") == "redis://:***@cache:6380/1"
    assert safe_url("redis://user:s3cret@cache/0") == "redis://user:***@cache/0"
    assert safe_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


async def test_requests_never_fail_because_redis_is_down(upstream, recording, caplog):
    import json

    import cliproxy_openai
    from cliproxy.testing import Reply, asgi_client, gateway_app

    upstream.add(
        "POST",
        "/v1/chat/completions",
        [
            Reply.error(503, "busy"),
            Reply.json(json.loads(recording("openai-chat/aibridge-chat_simple.nonstream.json").read_text())),
        ],
    )
    config = {
        "api-keys": ["client-key"],
        "state": {"backend": "redis", "url": "redis://:hunter2@127.0.0.1:1/0"},
        "openai-compatibility": [
            {
                "name": "local",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [
                    {"api-key": "sk-aaaaaaaaaaaaaaaa"},
                    {"api-key": "sk-bbbbbbbbbbbbbbbb"},
                ],
                "models": ["gpt-4.1-nano"],
            }
        ],
    }
    app = gateway_app(config, plugins=[cliproxy_openai])
    with caplog.at_level(logging.WARNING, logger="cliproxy.state"):
        async with asgi_client(app) as client:
            body = {"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "hi"}]}
            answers = [
                await client.post(
                    "/v1/chat/completions",
                    json=body,
                    headers={"Authorization": "Bearer client-key"},
                )
                for _ in range(3)
            ]
            status = (await client.get("/v0/status")).json()
    assert [a.status_code for a in answers] == [200, 200, 200]  # the 503 failed over on local state
    store = status["state_store"]
    assert store["backend"] == "redis" and store["healthy"] is False and "local state" in store["note"]
    assert store["url"] == "redis://:***@127.0.0.1:1/0"
    assert sum(c["requests"] for c in status["credentials"]) == 4
    assert "hunter2" not in caplog.text and "hunter2" not in json.dumps(status)
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


async def _fill_pool(store: RedisStore, connections: int) -> None:
    """Open ``connections`` pooled connections (calls in flight at once each take one)."""
    await asyncio.gather(*(store.routing_view([("c", "m")], "pool") for _ in range(connections)))


async def _traffic(store: RedisStore, seconds: float) -> None:
    """Waves of 1 to 24 requests at once against ``store`` for ``seconds``: each wave takes
    as many connections from the pool (the last returned first), so a bigger wave reaches
    connections the smaller ones left idle."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        for wave in (1, 2, 4, 8, 16, 24):
            await asyncio.gather(*(store.routing_view([("c", "m")], "pool") for _ in range(wave)))
            await asyncio.sleep(0.02)


def _outages(caplog: pytest.LogCaptureFixture) -> int:
    return len([r for r in caplog.records if "unavailable" in r.getMessage()])


async def test_a_restart_behind_stale_pooled_connections_loses_no_sharing(switch, redis_prefix, clock, caplog):
    store = RedisStore(switch.url, key_prefix=redis_prefix, clock=clock, retry_interval=0.3)
    try:
        await _fill_pool(store, 24)
        switch.sever()  # Redis restarted; every pooled connection is dead and does not know it
        with caplog.at_level(logging.WARNING, logger="cliproxy.state"):
            await _traffic(store, 1.5)
        assert _outages(caplog) == 0  # Redis was there all along for a fresh connection
        assert not store.degraded
    finally:
        await store.close()


async def test_one_restart_is_one_outage_and_sharing_resumes_at_the_first_check(switch, redis_prefix, clock, caplog):
    interval = 1.0
    store = RedisStore(switch.url, key_prefix=redis_prefix, clock=clock, retry_interval=interval)
    try:
        await _fill_pool(store, 24)
        with caplog.at_level(logging.WARNING, logger="cliproxy.state"):
            switch.sever(refuse=True)  # Redis goes down behind the proxy, the connections stay open
            await _traffic(store, 0.3)
            assert store.degraded
            await switch.up()  # Redis is back
            back = asyncio.get_running_loop().time()
            async with asyncio.timeout(10):
                while store.degraded:
                    await store.routing_view([("c", "m")], "pool")
                    await asyncio.sleep(0.01)
            resumed = asyncio.get_running_loop().time() - back
            await _traffic(store, 4 * interval)
        assert _outages(caplog) == 1
        assert len([r for r in caplog.records if "reachable again" in r.getMessage()]) == 1
        assert resumed < 1.6 * interval  # the first check after Redis returned, not a later one
        assert not store.degraded
    finally:
        await store.close()


async def test_a_lock_taken_over_a_stale_connection_is_held_in_redis(switch, redis_prefix, redis_url, clock):
    store = RedisStore(switch.url, key_prefix=redis_prefix, clock=clock)
    client = aioredis.Redis.from_url(redis_url)
    try:
        await _fill_pool(store, 1)
        switch.sever()
        async with store.lock("refresh:cred", ttl=10):
            assert await client.exists(redis_prefix + "lock:refresh:cred") == 1  # other instances wait
        assert not store.degraded
        assert await client.exists(redis_prefix + "lock:refresh:cred") == 0
    finally:
        await client.aclose()
        await store.close()


async def test_recovery_writes_back_client_budgets_spent_during_the_outage(switch, cut_store, twin, clock):
    limits = RateLimits(rpm=2, daily_tokens=1000, monthly_nanos=10_000)
    store = cut_store
    await switch.down()
    first = await store.acquire("team", "t1", limits, tokens=100, cost=1_000, lease=60)
    await store.acquire("team", "t2", limits, tokens=100, cost=1_000, lease=60)
    assert store.degraded and first.admitted
    assert not (await store.acquire("team", "t3", limits, tokens=1, cost=0, lease=60)).admitted  # still limited
    await store.release("team", "t1", limits, first, charged=(100, 1_000), used=(600, 7_000))
    await switch.up()
    await _probe_until(store, lambda: not store.degraded)
    # 700 tokens and 8000 nano-dollars were spent meanwhile: the shared budgets know it
    assert (await twin.acquire("team", "t4", limits, tokens=300, cost=2_000, lease=60)).admitted
    assert (await twin.acquire("team", "t5", limits, tokens=1, cost=0, lease=60)).refused == "daily-tokens"


async def test_a_request_admitted_on_redis_and_settled_during_an_outage_still_counts(switch, cut_store, twin):
    limits = RateLimits(daily_tokens=1000)
    store = cut_store
    admitted = await store.acquire("team", "t1", limits, tokens=100, cost=0, lease=60)  # on Redis
    await switch.down()
    await store.get_cooldowns("c", "m")
    assert store.degraded
    await store.release("team", "t1", limits, admitted, charged=(100, 0), used=(900, 0))  # settled locally
    await switch.up()
    await _probe_until(store, lambda: not store.degraded)
    assert not (await twin.acquire("team", "t2", limits, tokens=101, cost=0, lease=60)).admitted  # 900 used
    assert (await twin.acquire("team", "t3", limits, tokens=100, cost=0, lease=60)).admitted
