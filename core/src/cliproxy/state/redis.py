"""The Redis state store: state shared by every gateway process pointed at one Redis.

Selection reads all of a model's cooldowns and bumps its round-robin cursor in one round
trip (a pipelined ``MGET`` + ``INCR``). Cooldown keys carry a TTL (their end plus
:data:`~cliproxy.state.base.LINGER`), so a rest always ends by time, even if no instance
is left to clear it.

When Redis cannot be reached, the store logs one warning and serves from a local
:class:`~cliproxy.state.memory.MemoryStore` -- requests never fail because Redis is down.
While it is down, a background ping checks every ``retry_interval`` seconds whether it is
back (so only the request that found it down waited for it). Before sharing state again it
writes back what it recorded locally meanwhile: cooldown records (a longer one already in
Redis wins) and usage counts, per credential and per client (added to Redis's); values
and cursors stay local. If that fails, it stays on local state and tries again at the next
probe.

Pooled connections do not survive a Redis restart, and a dead one is found out only when
used. So a command whose connection breaks is sent once more on a fresh one, after the
pool's idle connections are dropped (they are as dead): a restart that is over costs no
outage, and one that is not is a single outage, over at the first probe that reaches Redis.

Keys, under ``key_prefix``: ``cd:<credential>\\t<model or *>`` (cooldown),
``rr:<pool>`` (cursor), ``usage:<credential>`` (hash of ``<model>\\t<counter>``),
``clients`` (hash of ``<client>\\t<counter>``), ``ud:<YYYY-MM-DD>`` (daily usage: a hash of
``<client>\\t<credential>\\t<model>\\t<counter>`` and ``#rows``, the day's distinct rows,
expiring ``keep_days`` after the day; one script adds a request's row),
``v:<key>`` (values), ``lock:<key>`` (locks), and per space of linked values
``lv:<space>:i`` (sorted set of keys by expiry), ``lv:<space>:s`` and ``lv:<space>:p``
(hashes of their sizes and parents), ``lv:<space>:t`` (their total bytes) and
``lv:<space>:v:<key>`` (each value). Scripts change a space in one atomic step, so its
limit holds however many instances write to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import os
import re
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import orjson

from cliproxy.ir import Usage
from cliproxy.state.base import LINGER, MAX_LINKS, USAGE_COUNTERS, WHOLE, Cooldown, CooldownPair, UsageTotals
from cliproxy.state.daily import COUNTERS, OVERFLOW, DailyCounts, DailyKey
from cliproxy.state.limiter import Admission, LimitUsage, RateLimits
from cliproxy.state.memory import MemoryStore
from cliproxy.state.redis_limiter import (
    ACQUIRE,
    ADD_BUDGETS,
    RELEASE,
    USAGE,
    acquire_call,
    admission_of,
    budget_keys,
    budget_ttls,
    release_call,
    usage_call,
    usage_of,
)

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the redis state backend needs redis-py: pip install 'cliproxy[redis]'") from exc

__all__ = ["RedisStore", "safe_url"]

log = logging.getLogger("cliproxy.state")

T = TypeVar("T")

_ERRORS = (RedisError, OSError, TimeoutError)
# A connection that broke (not one that timed out: a slow or paused Redis is not helped by a
# second wait). After a Redis restart every pooled connection is dead, and one is not found
# out until used.
_BROKEN = (RedisConnectionError, ConnectionError)
_VALUE_HEAD = struct.Struct("!d")  # expiry (0: none), then the value's bytes
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_GLOB = re.compile(r"([*?\[\]\\])")
_HAND_OVER_ROUNDS = 3  # copies per probe while requests keep adding local state
_KEEP_LATER = """
-- KEYS[i]: cooldown keys; ARGV[3i-2], ARGV[3i-1], ARGV[3i]: its until, record, TTL in ms.
-- Writes each record unless the key holds one that ends at least as late.
local written = 0
for i, key in ipairs(KEYS) do
  local later = false
  if redis.call('type', key).ok == 'string' then
    local ok, current = pcall(cjson.decode, redis.call('get', key))
    later = ok and type(current) == 'table' and tonumber(current[1]) ~= nil
      and tonumber(current[1]) >= tonumber(ARGV[3 * i - 2])
  end
  if not later then
    redis.call('set', key, ARGV[3 * i - 1], 'px', ARGV[3 * i])
    written = written + 1
  end
end
return written
"""
_ADD_USAGE = """
-- KEYS[i]: usage hashes; ARGV[i]: {"add": [[field, n], ...], "errors": [[field, when, record], ...]}.
-- Checks every key before writing, so a failure adds nothing; a newer last error stays.
for _, key in ipairs(KEYS) do
  local kind = redis.call('type', key).ok
  if kind ~= 'none' and kind ~= 'hash' then
    return redis.error_reply('WRONGTYPE usage key ' .. key .. ' holds a ' .. kind .. ', not a hash')
  end
end
for i, key in ipairs(KEYS) do
  local entry = cjson.decode(ARGV[i])
  for _, add in ipairs(entry.add) do
    redis.call('hincrby', key, add[1], add[2])
  end
  for _, err in ipairs(entry.errors) do
    local ok, current = pcall(cjson.decode, redis.call('hget', key, err[1]) or 'null')
    if not (ok and type(current) == 'table' and tonumber(current[1]) ~= nil
        and tonumber(current[1]) >= tonumber(err[2])) then
      redis.call('hset', key, err[1], err[3])
    end
  end
end
return #KEYS
"""
_ADD_DAILY = (
    """
-- KEYS[1]: a day's usage hash. ARGV[1]: its most distinct rows, ARGV[2]: seconds until it
-- expires, ARGV[3]: the overflow row; then per row its name and its counts (as
-- COUNTERS orders them). A new row past the most goes to the overflow row.
local day, most = KEYS[1], tonumber(ARGV[1])
local kind = redis.call('type', day).ok
if kind ~= 'none' and kind ~= 'hash' then
  return redis.error_reply('WRONGTYPE usage key ' .. day .. ' holds a ' .. kind .. ', not a hash')
end
local names = {"""
    + ", ".join(f"'{name}'" for name in COUNTERS)
    + """}
local width = #names + 1
for i = 4, #ARGV, width do
  local row = ARGV[i]
  if redis.call('hexists', day, row .. '\\trequests') == 0 then
    if row ~= ARGV[3] and tonumber(redis.call('hget', day, '#rows') or '0') >= most then
      row = ARGV[3]
    end
    if redis.call('hexists', day, row .. '\\trequests') == 0 then
      redis.call('hincrby', day, '#rows', 1)
    end
  end
  for j = 1, #names do
    local count = ARGV[i + j]
    if j == 1 or count ~= '0' then
      redis.call('hincrby', day, row .. '\\t' .. names[j], count)
    end
  end
end
redis.call('expire', day, ARGV[2])
return 1
"""
)
_DAILY_BATCH = 500  # rows per script call when many are written at once
_MAX_DAYS = 400  # days one read of daily usage covers at most

# Scripts on a space of linked values. KEYS: its index (sorted set of keys by expiry),
# sizes and parents (hashes), total (counter); ARGV[1]: the prefix of its value keys,
# ARGV[2]: now (the store's clock). Values also carry a Redis TTL, a minute past their
# expiry, which only cleans up: the index decides.
_SPACE = """
local index, sizes, parents, total = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local values, now = ARGV[1], tonumber(ARGV[2])
local function drop(key)
  local size = tonumber(redis.call('hget', sizes, key) or '0')
  redis.call('zrem', index, key)
  redis.call('hdel', sizes, key)
  redis.call('hdel', parents, key)
  redis.call('del', values .. key)
  redis.call('decrby', total, size)
end
local function live(key)
  local expires = redis.call('zscore', index, key)
  return expires and tonumber(expires) > now
end
for _, key in ipairs(redis.call('zrangebyscore', index, '-inf', now, 'limit', 0, 256)) do
  drop(key)
end
"""
_PUT_LINKED = (
    _SPACE
    + """
-- ARGV[3..]: key, value, parent ('' for none), expiry, value TTL in ms, max total, max links
local key, value, parent = ARGV[3], ARGV[4], ARGV[5]
local expires, px, max_total, max_links = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
if redis.call('zscore', index, key) then drop(key) end
local link, hops = parent, 0
while link ~= '' and hops < max_links and live(link) do
  if tonumber(redis.call('zscore', index, link)) < expires then
    redis.call('zadd', index, expires, link)
    if redis.call('pttl', values .. link) < px then redis.call('pexpire', values .. link, px) end
  end
  link, hops = redis.call('hget', parents, link) or '', hops + 1
end
local size, dropped = #value, 0
while tonumber(redis.call('get', total) or '0') + size > max_total do
  local oldest = redis.call('zrange', index, 0, 0)[1]
  if not oldest then redis.call('set', total, 0) break end
  drop(oldest)
  dropped = dropped + 1
end
redis.call('set', values .. key, value, 'px', px)
redis.call('zadd', index, expires, key)
redis.call('hset', sizes, key, size)
if parent ~= '' then redis.call('hset', parents, key, parent) end
redis.call('incrby', total, size)
for _, name in ipairs(KEYS) do
  if redis.call('pttl', name) < px then redis.call('pexpire', name, px) end
end
return dropped
"""
)
_GET_CHAIN = (
    _SPACE
    + """
-- ARGV[3]: the key, ARGV[4]: max links. Returns its value, its parent's...
local chain, link = {}, ARGV[3]
while link and #chain < tonumber(ARGV[4]) and live(link) do
  local value = redis.call('get', values .. link)
  if not value then break end
  chain[#chain + 1] = value
  link = redis.call('hget', parents, link)
end
return chain
"""
)
_DELETE_LINKED = (
    _SPACE
    + """
if not live(ARGV[3]) then return 0 end
drop(ARGV[3])
return 1
"""
)
_LINKED_USAGE = (
    _SPACE
    + """
for _, key in ipairs(redis.call('zrangebyscore', index, '-inf', now)) do
  drop(key)
end
return {redis.call('zcard', index), tonumber(redis.call('get', total) or '0')}
"""
)


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for logs and status pages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "redis://(unparseable url)"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def _day(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d")


def _month(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m")


def _glob_escape(text: str) -> str:
    return _GLOB.sub(r"\\\1", text)


class RedisStore:
    """State in Redis, falling back to local state while Redis is unreachable.

    Args:
        url: ``redis://[:password@]host:port/db`` (or ``rediss://`` for TLS).
        key_prefix: Prepended to every key; instances sharing state use the same prefix.
        clock: Unix time source (cooldown ends are absolute times from it).
        timeout: Seconds to wait for Redis on each call before treating it as down.
        retry_interval: Seconds to stay on local state after a failure before trying again.
    """

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "cliproxy:",
        clock: Callable[[], float] = time.time,
        timeout: float = 0.5,
        retry_interval: float = 5.0,
    ) -> None:
        self.url = url
        self.prefix = key_prefix
        self.timeout = timeout
        self.retry_interval = retry_interval
        self._local = MemoryStore(clock)
        # redis-py types every answer ``bytes | str`` (it cannot know ``decode_responses``);
        # this client never decodes, so its answers are bytes: typed Any, read as bytes.
        self._redis: Any = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._release = self._redis.register_script(_RELEASE)
        self._keep_later = self._redis.register_script(_KEEP_LATER)
        self._add_usage = self._redis.register_script(_ADD_USAGE)
        self._add_daily = self._redis.register_script(_ADD_DAILY)
        self._daily_limits = (90, 10_000)  # keep_days, max_rows as last asked (the write-back uses them)
        self._put_linked = self._redis.register_script(_PUT_LINKED)
        self._get_chain = self._redis.register_script(_GET_CHAIN)
        self._delete_linked = self._redis.register_script(_DELETE_LINKED)
        self._linked_usage = self._redis.register_script(_LINKED_USAGE)
        self._limit_acquire = self._redis.register_script(ACQUIRE)
        self._limit_release = self._redis.register_script(RELEASE)
        self._limit_usage = self._redis.register_script(USAGE)
        self._add_budgets = self._redis.register_script(ADD_BUDGETS)
        self._limits_warned = False  # warned that client limits hold per instance, this outage
        self._down_until = 0.0  # monotonic time before which Redis is not tried again
        self._down_since: float | None = None  # Unix time of the outage's first failure
        self._probing: asyncio.Future[None] | None = None
        self._hand_over_failed = False  # warned already that writing back failed, this outage

    @property
    def clock(self) -> Callable[[], float]:
        return self._local.clock

    @clock.setter
    def clock(self, value: Callable[[], float]) -> None:
        self._local.clock = value

    @property
    def degraded(self) -> bool:
        """True while serving from local state because Redis failed."""
        return self._down_since is not None

    # -- the circuit -----------------------------------------------------------------------

    async def _run(self, remote: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]) -> T:
        """``remote()`` while Redis is up; ``local()`` while it is down or when it fails now."""
        if self._down_since is not None:
            self._probe()
            return await local()
        try:
            return await self._remote(remote)
        except _ERRORS as exc:
            self._trip(exc)
            return await local()

    async def _remote(self, command: Callable[[], Awaitable[T]], again: Callable[[], Awaitable[T]] | None = None) -> T:
        """``command()``; if its connection broke, ``again()`` (default: the same) on a
        fresh one. (A command whose answer was lost with the connection may run twice: a
        cursor step or a usage count, never a cooldown's end.)"""
        try:
            return await command()
        except _BROKEN:
            await self._drop_idle_connections()
            return await (command if again is None else again)()

    async def _drop_idle_connections(self) -> None:
        """Close the pool's idle connections (the next command opens a new one): when one
        broke, the others were opened to the same Redis and are likely dead too."""
        with contextlib.suppress(*_ERRORS):
            await self._redis.connection_pool.disconnect(inuse_connections=False)

    def _trip(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + self.retry_interval
        if self._down_since is None:
            self._down_since = time.time()
            log.warning(
                "state store: redis at %s is unavailable (%s: %s); this instance uses local state "
                "(cooldowns and cursors are not shared) and checks redis again every %gs",
                safe_url(self.url),
                type(exc).__name__,
                exc,
                self.retry_interval,
            )

    def _probe(self) -> None:
        """Check in the background whether Redis is back, at most once per interval, so no
        request waits on a dead Redis after the first failure."""
        if self._probing is not None or time.monotonic() < self._down_until:
            return
        self._probing = asyncio.ensure_future(self._ping())

    async def _ping(self) -> None:
        """Go back to Redis if it answers and takes what was recorded locally meanwhile;
        else stay on local state until the next probe. Never raises."""
        try:
            await self._remote(self._redis.ping)
        except _ERRORS:
            self._probing = None
            self._down_until = time.monotonic() + self.retry_interval
            return
        try:
            handed = await self._hand_over()
        except Exception as exc:  # a background task: nothing may escape, nothing is lost
            self._hand_over_failed_now(exc)
            handed = None
        finally:
            self._probing = None
        if handed is None:
            self._down_until = time.monotonic() + self.retry_interval
            return
        down_for = time.time() - (self._down_since or time.time())
        self._down_since = None
        self._down_until = 0.0
        self._hand_over_failed = False
        self._limits_warned = False
        log.warning(
            "state store: redis at %s is reachable again after %.0fs; wrote back %d cooldowns "
            "and %d usage entries recorded locally during the outage; sharing state again",
            safe_url(self.url),
            down_for,
            *handed,
        )

    def _hand_over_failed_now(self, exc: BaseException) -> None:
        """Log (once per outage) that Redis answers but would not take the local state."""
        message = (
            "state store: redis at %s answers again, but writing back the state recorded "
            "locally during the outage failed (%s: %s); this instance stays on local state "
            "and tries again in %gs"
        )
        args = (safe_url(self.url), type(exc).__name__, exc, self.retry_interval)
        if self._hand_over_failed:
            log.debug(message, *args)
        else:
            log.warning(message, *args)
        self._hand_over_failed = True

    async def _hand_over(self) -> tuple[int, int] | None:
        """Copy the cooldown records and usage kept locally into Redis and forget them here.

        Returns how many cooldowns were written (not counting those Redis had a longer one
        for) and how many usage entries (credential + model, and client) were added, once nothing is
        left (so switching back loses nothing); None when requests kept adding local state
        through every round (the next probe goes on). Raises on Redis errors, with the
        local state intact.
        """
        cooldowns = usage = 0
        for _ in range(_HAND_OVER_ROUNDS):
            records = self._local.records()
            counted = await self._local.usage()
            clients = await self._local.client_usage()
            daily = self._local.daily_rows()
            budgets = self._local.limiter.budget_counts()
            if (
                not records
                and not counted
                and not clients
                and not daily
                and not any(tokens or cost for _, tokens, _, cost in budgets.values())
            ):
                return cooldowns, usage
            await self._write_budgets(budgets)
            self._local.limiter.forget_budgets(budgets)
            cooldowns += await self._write_cooldowns(records)
            await self._write_usage(counted, clients)
            self._local.forget_records(records)
            self._local.subtract_usage(counted)
            self._local.subtract_client_usage(clients)
            usage += sum(len(models) for models in counted.values()) + len(clients)
            keep_days, max_rows = self._daily_limits
            for day, rows in daily.items():  # day by day, so a failure leaves only the days not written
                expires = _day_expiry(day, keep_days)
                if expires > self.clock():
                    await self._write_daily(day, rows, expires, max_rows)
                self._local.subtract_daily_usage({day: rows})
                usage += len(rows)
        return None

    async def _write_budgets(self, budgets: Mapping[str, tuple[str, int, str, int]]) -> None:
        """Add the client budgets spent locally (tokens of a day, cost of a month) to Redis's."""
        keys: list[str] = []
        args: list[Any] = []
        day_ttl, month_ttl = budget_ttls()
        for client, (day, tokens, month, cost) in budgets.items():
            day_key, month_key = budget_keys(self.prefix, client, day, month)
            keys += [day_key, month_key]
            args += [tokens, day_ttl, cost, month_ttl]
        if keys:
            await self._add_budgets(keys=keys, args=args)

    async def _write_cooldowns(self, records: Mapping[tuple[str, str], Cooldown]) -> int:
        """Save ``records`` in Redis, keeping any that already ends later there; returns
        how many were written."""
        if not records:
            return 0
        now = self.clock()
        keys: list[str] = []
        args: list[Any] = []
        for (cred, model), cooldown in records.items():
            keys.append(self._cd_key(cred, model))
            ttl = max(1, int((cooldown.until - now + LINGER) * 1000))
            args += [cooldown.until, orjson.dumps(cooldown.to_list()), ttl]
        return int(await self._keep_later(keys=keys, args=args))

    async def _write_usage(
        self, counted: Mapping[str, Mapping[str, UsageTotals]], clients: Mapping[str, UsageTotals]
    ) -> None:
        """Add ``counted`` (per credential) and ``clients`` to Redis's counters, in one
        all-or-nothing script."""
        keys = [self._usage_key(cred) for cred in counted]
        args = [orjson.dumps(_usage_changes(models)) for models in counted.values()]
        if clients:
            keys.append(self._clients_key)
            args.append(orjson.dumps(_usage_changes(clients)))
        if keys:
            await self._add_usage(keys=keys, args=args)

    # -- keys ------------------------------------------------------------------------------

    def _cd_key(self, credential_id: str, model: str | None) -> str:
        return f"{self.prefix}cd:{credential_id}\t{model or WHOLE}"

    def _usage_key(self, credential_id: str) -> str:
        return f"{self.prefix}usage:{credential_id}"

    @property
    def _clients_key(self) -> str:
        return f"{self.prefix}clients"

    def _daily_key(self, day: str) -> str:
        return f"{self.prefix}ud:{day}"

    async def _scan(self, pattern: str) -> list[bytes]:
        return [key async for key in self._redis.scan_iter(match=pattern, count=500)]

    # -- cooldowns -------------------------------------------------------------------------

    @staticmethod
    def _decode(raw: bytes | None) -> Cooldown | None:
        if raw is None:
            return None
        try:
            return Cooldown.from_list(orjson.loads(raw))
        except (ValueError, TypeError):
            return None  # written by something else; ignore rather than fail requests

    def _live(self, cooldown: Cooldown | None, now: float) -> Cooldown | None:
        if cooldown is None or cooldown.until + LINGER <= now:
            return None
        return cooldown

    async def routing_view(
        self, pairs: Sequence[tuple[str, str]], cursor: str | None
    ) -> tuple[list[CooldownPair], int]:
        async def remote() -> tuple[list[CooldownPair], int]:
            keys: list[str] = []
            for cred, model in pairs:
                keys.append(self._cd_key(cred, None))
                keys.append(self._cd_key(cred, model))
            pipe = self._redis.pipeline(transaction=False)
            pipe.mget(keys)
            if cursor is not None:
                pipe.incr(self.prefix + "rr:" + cursor)
            results = await pipe.execute()
            raw = results[0]
            now = self.clock()
            view = [
                (self._live(self._decode(raw[i]), now), self._live(self._decode(raw[i + 1]), now))
                for i in range(0, len(raw), 2)
            ]
            return view, (int(results[1]) - 1 if cursor is not None else 0)

        return await self._run(remote, lambda: self._local.routing_view(pairs, cursor))

    async def get_cooldowns(self, credential_id: str, model: str) -> CooldownPair:
        view, _ = await self.routing_view([(credential_id, model)], None)
        return view[0]

    async def set_cooldown(self, credential_id: str, model: str | None, cooldown: Cooldown) -> None:
        async def remote() -> None:
            ttl = cooldown.until - self.clock() + LINGER
            await self._redis.set(
                self._cd_key(credential_id, model), orjson.dumps(cooldown.to_list()), px=max(1, int(ttl * 1000))
            )

        await self._run(remote, lambda: self._local.set_cooldown(credential_id, model, cooldown))

    async def clear_cooldown(self, credential_id: str, model: str | None) -> None:
        async def remote() -> None:
            await self._redis.delete(self._cd_key(credential_id, model))

        await self._local.clear_cooldown(credential_id, model)
        await self._run(remote, lambda: self._local.clear_cooldown(credential_id, model))

    async def clear_cooldowns(self, credential_id: str | None = None) -> int:
        async def remote() -> int:
            who = "*" if credential_id is None else _glob_escape(credential_id) + "\t*"
            keys = await self._scan(_glob_escape(self.prefix) + "cd:" + who)
            if not keys:
                return 0
            return int(await self._redis.delete(*keys))

        local = await self._local.clear_cooldowns(credential_id)
        return local + await self._run(remote, lambda: _zero())

    async def cooldowns(self) -> Mapping[str, Mapping[str, Cooldown]]:
        async def remote() -> Mapping[str, Mapping[str, Cooldown]]:
            keys = await self._scan(_glob_escape(self.prefix) + "cd:*")
            if not keys:
                return {}
            values = await self._redis.mget(keys)
            now = self.clock()
            start = len(self.prefix) + 3
            running: dict[str, dict[str, Cooldown]] = {}
            for key, raw in zip(keys, values, strict=True):
                cooldown = self._decode(raw)
                if cooldown is None or cooldown.until <= now:
                    continue
                cred, _, model = key.decode()[start:].rpartition("\t")
                running.setdefault(cred, {})[model] = cooldown
            return running

        return await self._run(remote, self._local.cooldowns)

    # -- cursors, usage --------------------------------------------------------------------

    async def next_cursor(self, key: str) -> int:
        async def remote() -> int:
            return int(await self._redis.incr(self.prefix + "rr:" + key)) - 1

        return await self._run(remote, lambda: self._local.next_cursor(key))

    async def add_usage(
        self, credential_id: str, model: str, usage: Usage | None, *, failed: bool, error: str | None = None
    ) -> None:
        async def remote() -> None:
            key = self._usage_key(credential_id)
            pipe = self._redis.pipeline(transaction=False)
            pipe.hincrby(key, f"{model}\trequests", 1)
            if failed:
                pipe.hincrby(key, f"{model}\tfailures", 1)
            if usage is not None:
                for name, value in (
                    ("input_tokens", usage.input_tokens),
                    ("output_tokens", usage.output_tokens),
                    ("cache_read_tokens", usage.cache_read_tokens),
                    ("reasoning_tokens", usage.reasoning_tokens),
                ):
                    if value:
                        pipe.hincrby(key, f"{model}\t{name}", value)
            if error is not None:
                pipe.hset(key, f"{model}\tlast_error", orjson.dumps([self.clock(), error]))
            await pipe.execute()

        await self._run(remote, lambda: self._local.add_usage(credential_id, model, usage, failed=failed, error=error))

    async def usage(self) -> Mapping[str, Mapping[str, UsageTotals]]:
        async def remote() -> Mapping[str, Mapping[str, UsageTotals]]:
            keys = await self._scan(_glob_escape(self.prefix) + "usage:*")
            if not keys:
                return {}
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            hashes = await pipe.execute()
            start = len(self.prefix) + 6
            return {key.decode()[start:]: _totals(fields) for key, fields in zip(keys, hashes, strict=True)}

        return await self._run(remote, self._local.usage)

    async def add_client_usage(self, client: str, usage: Usage | None, *, failed: bool) -> None:
        name = self._local.client_name(client)

        async def remote() -> None:
            key = self._clients_key
            pipe = self._redis.pipeline(transaction=False)
            pipe.hincrby(key, f"{name}\trequests", 1)
            if failed:
                pipe.hincrby(key, f"{name}\tfailures", 1)
            if usage is not None:
                for field, value in (
                    ("input_tokens", usage.input_tokens),
                    ("output_tokens", usage.output_tokens),
                    ("cache_read_tokens", usage.cache_read_tokens),
                    ("reasoning_tokens", usage.reasoning_tokens),
                ):
                    if value:
                        pipe.hincrby(key, f"{name}\t{field}", value)
            await pipe.execute()

        await self._run(remote, lambda: self._local.add_client_usage(name, usage, failed=failed))

    async def client_usage(self) -> Mapping[str, UsageTotals]:
        async def remote() -> Mapping[str, UsageTotals]:
            return _totals(await self._redis.hgetall(self._clients_key))

        return await self._run(remote, self._local.client_usage)

    async def add_daily_usage(
        self, day: str, rows: Mapping[DailyKey, DailyCounts], *, keep_days: int, max_rows: int
    ) -> None:
        self._daily_limits = (keep_days, max_rows)
        expires = _day_expiry(day, keep_days)
        if expires <= self.clock():
            return

        async def remote() -> None:
            await self._write_daily(day, rows, expires, max_rows)

        await self._run(remote, lambda: self._local.add_daily_usage(day, rows, keep_days=keep_days, max_rows=max_rows))

    async def _write_daily(self, day: str, rows: Mapping[DailyKey, DailyCounts], expires: float, max_rows: int) -> None:
        """Add ``rows`` to ``day``'s hash, which expires at ``expires`` (by the store's
        clock): one script call per :data:`_DAILY_BATCH` rows."""
        items = list(rows.items())
        ttl = max(1, math.ceil(expires - self.clock()))
        for start in range(0, len(items), _DAILY_BATCH):
            args: list[Any] = [max_rows, ttl, _row_name(OVERFLOW)]
            for key, counts in items[start : start + _DAILY_BATCH]:
                args.append(_row_name(key))
                args.extend(str(n) for n in counts)
            await self._add_daily(keys=[self._daily_key(day)], args=args)

    async def daily_usage(self, first: str, last: str) -> Mapping[str, Mapping[DailyKey, DailyCounts]]:
        days = _days_between(first, last)

        async def remote() -> Mapping[str, Mapping[DailyKey, DailyCounts]]:
            if not days:
                return {}
            pipe = self._redis.pipeline(transaction=False)
            for day in days:
                pipe.hgetall(self._daily_key(day))
            hashes = await pipe.execute()
            return {day: rows for day, fields in zip(days, hashes, strict=True) if (rows := _daily_rows(fields))}

        return await self._run(remote, lambda: self._local.daily_usage(first, last))

    # -- values, locks ---------------------------------------------------------------------

    async def get_value(self, key: str) -> bytes | None:
        async def remote() -> bytes | None:
            raw = await self._redis.get(self.prefix + "v:" + key)
            if raw is None or len(raw) < _VALUE_HEAD.size:
                return None
            (expires,) = _VALUE_HEAD.unpack_from(raw)
            if expires and expires <= self.clock():
                return None
            return bytes(raw[_VALUE_HEAD.size :])

        return await self._run(remote, lambda: self._local.get_value(key))

    async def set_value(self, key: str, value: bytes, ttl: float | None = None) -> None:
        async def remote() -> None:
            expires = 0.0 if ttl is None else self.clock() + ttl
            px = None if ttl is None else max(1, int(ttl * 1000)) + 60_000  # the stored expiry decides; this cleans up
            await self._redis.set(self.prefix + "v:" + key, _VALUE_HEAD.pack(expires) + value, px=px)

        await self._run(remote, lambda: self._local.set_value(key, value, ttl))

    async def delete_value(self, key: str) -> None:
        async def remote() -> None:
            await self._redis.delete(self.prefix + "v:" + key)

        await self._local.delete_value(key)
        await self._run(remote, lambda: self._local.delete_value(key))

    # -- linked values ---------------------------------------------------------------------

    def _space(self, space: str) -> tuple[list[str], list[Any]]:
        """The keys and leading arguments of every script on ``space``."""
        base = f"{self.prefix}lv:{space}:"
        return [base + "i", base + "s", base + "p", base + "t"], [base + "v:", self.clock()]

    async def put_linked(
        self, space: str, key: str, value: bytes, *, parent: str | None, ttl: float, max_total: int
    ) -> int:
        size = len(value)
        if size > max_total:
            raise ValueError(f"a value of {size} bytes cannot be kept in a space of {max_total}")

        async def remote() -> int:
            keys, args = self._space(space)
            expires = args[1] + ttl
            px = max(1, int(ttl * 1000)) + 60_000
            args += [key, value, parent or "", expires, px, max_total, MAX_LINKS]
            return int(await self._put_linked(keys=keys, args=args))

        return await self._run(
            remote, lambda: self._local.put_linked(space, key, value, parent=parent, ttl=ttl, max_total=max_total)
        )

    async def get_chain(self, space: str, key: str, limit: int = MAX_LINKS) -> list[bytes]:
        limit = min(limit, MAX_LINKS)

        async def remote() -> list[bytes]:
            keys, args = self._space(space)
            return [bytes(value) for value in await self._get_chain(keys=keys, args=[*args, key, limit])]

        return await self._run(remote, lambda: self._local.get_chain(space, key, limit))

    async def delete_linked(self, space: str, key: str) -> bool:
        async def remote() -> bool:
            keys, args = self._space(space)
            return bool(await self._delete_linked(keys=keys, args=[*args, key]))

        local = await self._local.delete_linked(space, key)
        return await self._run(remote, lambda: _false()) or local

    async def linked_usage(self, space: str) -> tuple[int, int]:
        async def remote() -> tuple[int, int]:
            keys, args = self._space(space)
            count, size = await self._linked_usage(keys=keys, args=args)
            return int(count), int(size)

        return await self._run(remote, lambda: self._local.linked_usage(space))

    # -- client limits -----------------------------------------------------------------------

    async def acquire(
        self, client: str, ticket: str, limits: RateLimits, *, tokens: int, cost: int, lease: float
    ) -> Admission:
        async def remote() -> Admission:
            now = self.clock()
            day, month = _day(now), _month(now)
            keys, args = acquire_call(self.prefix, client, ticket, limits, tokens, cost, lease, now, day, month)
            return admission_of(await self._limit_acquire(keys=keys, args=args), day, month)

        async def local() -> Admission:
            if not self._limits_warned:
                self._limits_warned = True
                log.warning(
                    "state store: redis is unavailable, so client key limits (rpm, tpm, max-parallel, budgets) "
                    "hold per instance until it is back: each instance admits up to the whole limit"
                )
            return await self._local.acquire(client, ticket, limits, tokens=tokens, cost=cost, lease=lease)

        return await self._run(remote, local)

    async def release(
        self,
        client: str,
        ticket: str,
        limits: RateLimits,
        admission: Admission,
        *,
        charged: tuple[int, int],
        used: tuple[int, int],
    ) -> None:
        async def remote() -> None:
            keys, args = release_call(self.prefix, client, ticket, limits, admission, charged, used, self.clock())
            await self._limit_release(keys=keys, args=args)

        await self._run(
            remote, lambda: self._local.release(client, ticket, limits, admission, charged=charged, used=used)
        )

    async def limit_usage(self, client: str) -> LimitUsage:
        async def remote() -> LimitUsage:
            now = self.clock()
            day, month = _day(now), _month(now)
            keys, args = usage_call(self.prefix, client, now, day, month)
            return usage_of(await self._limit_usage(keys=keys, args=args), day, month)

        return await self._run(remote, lambda: self._local.limit_usage(client))

    @contextlib.asynccontextmanager
    async def lock(self, key: str, ttl: float = 30.0) -> AsyncIterator[None]:
        # The local lock queues this process's contenders, so only one of them polls Redis.
        async with self._local.lock(key, ttl):
            name = self.prefix + "lock:" + key
            token = os.urandom(16).hex()
            held = await self._acquire(name, token, ttl)
            try:
                yield
            finally:
                if held:
                    with contextlib.suppress(*_ERRORS):
                        await self._release(keys=[name], args=[token])

    async def _acquire(self, name: str, token: str, ttl: float) -> bool:
        """Wait for the Redis lock; False when Redis is down (the local lock alone holds)."""
        delay = 0.01
        while True:
            if self._down_since is not None:
                self._probe()
                return False
            try:
                if await self._remote(
                    lambda: self._redis.set(name, token, nx=True, px=max(1, int(ttl * 1000))),
                    lambda: self._take_lock(name, token, ttl),
                ):
                    return True
            except _ERRORS as exc:
                self._trip(exc)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def _take_lock(self, name: str, token: str, ttl: float) -> bool:
        """Set the lock key if free; also True when it holds ``token`` already (taken by a
        try whose answer was lost with its connection)."""
        if await self._redis.set(name, token, nx=True, px=max(1, int(ttl * 1000))):
            return True
        return await self._redis.get(name) == token.encode()

    def describe(self) -> Mapping[str, Any]:
        info: dict[str, Any] = {
            "backend": self.name,
            "shared": True,
            "url": safe_url(self.url),
            "key_prefix": self.prefix,
            "timeout": self.timeout,
            "retry_interval": self.retry_interval,
            "healthy": not self.degraded,
        }
        if self._down_since is not None:
            info["unavailable_since"] = self._down_since
            info["note"] = "redis is unreachable: this instance uses local state until it returns"
        return info

    async def close(self) -> None:
        if self._probing is not None:
            self._probing.cancel()
            with contextlib.suppress(asyncio.CancelledError, *_ERRORS):
                await self._probing
        with contextlib.suppress(*_ERRORS):
            await self._redis.aclose()


async def _zero() -> int:
    return 0


async def _false() -> bool:
    return False


def _totals(fields: Mapping[bytes, bytes]) -> dict[str, UsageTotals]:
    """A usage hash's ``<name>\\t<counter>`` fields as ``{name: totals}``."""
    per_name: dict[str, dict[str, Any]] = {}
    for raw_field, raw_value in fields.items():
        name, _, counter = raw_field.decode().rpartition("\t")
        counters = per_name.setdefault(name, {})
        if counter in USAGE_COUNTERS:
            counters[counter] = int(raw_value)
        elif counter == "last_error":
            with contextlib.suppress(ValueError, TypeError):
                when, message = orjson.loads(raw_value)
                counters["last_error"] = str(message)
                counters["last_error_at"] = float(when)
    return {name: UsageTotals(**c) for name, c in per_name.items()}


def _row_name(key: DailyKey) -> str:
    return f"{key.client}\t{key.credential}\t{key.model}"


def _daily_rows(fields: Mapping[bytes, bytes]) -> dict[DailyKey, DailyCounts]:
    """A day's hash as rows (fields that are not ``<row>\\t<counter>`` are skipped)."""
    values: dict[str, dict[str, int]] = {}
    for raw_field, raw_value in fields.items():
        row, _, counter = raw_field.decode().rpartition("\t")
        if row and counter in COUNTERS:
            with contextlib.suppress(ValueError):
                values.setdefault(row, {})[counter] = int(raw_value)
    rows: dict[DailyKey, DailyCounts] = {}
    for row, counts in values.items():
        parts = row.split("\t")
        if len(parts) == 3:
            rows[DailyKey(*parts)] = DailyCounts(**counts)
    return rows


def _day_expiry(day: str, keep_days: int) -> float:
    """Unix time a day's usage is forgotten: ``keep_days`` days after the day began."""
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    return start.timestamp() + max(1, keep_days) * 86400


def _days_between(first: str, last: str) -> list[str]:
    """The days from ``first`` to ``last``, inclusive, at most :data:`_MAX_DAYS` (the latest)."""
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    if end < start:
        return []
    start = max(start, end - dt.timedelta(days=_MAX_DAYS - 1))
    return [(start + dt.timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def _usage_changes(models: Mapping[str, UsageTotals]) -> dict[str, list[list[Any]]]:
    """What :data:`_ADD_USAGE` adds to one credential's hash for ``models``' totals."""
    add: list[list[Any]] = []
    errors: list[list[Any]] = []
    for model, totals in models.items():
        add += [[f"{model}\t{name}", getattr(totals, name)] for name in USAGE_COUNTERS if getattr(totals, name)]
        if totals.last_error is not None and totals.last_error_at is not None:
            record = orjson.dumps([totals.last_error_at, totals.last_error]).decode()
            errors.append([f"{model}\tlast_error", totals.last_error_at, record])
    return {"add": add, "errors": errors}
