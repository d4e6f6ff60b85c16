"""The limiter on Redis: the same rules as :class:`~cliproxy.state.limiter.MemoryLimiter`,
each decision one Lua script (atomic: no read-modify-write races between instances).

Keys, under the store's prefix, per client (its name in a hash tag, so one client's keys
share a cluster slot): ``lim:{<client>}:r`` (sorted set of admitted requests by time),
``lim:{<client>}:t`` and ``:th`` (tokens charged in the window: sorted set by time, and a
hash of ticket -> tokens with their ``#total``), ``lim:{<client>}:p`` (tickets in flight
by lease end), ``lim:{<client>}:d:<YYYY-MM-DD>`` and ``:m:<YYYY-MM>`` (tokens of the day,
nano-dollars of the month). Every key expires by itself.
"""

from __future__ import annotations

from typing import Any

from cliproxy.state.limiter import WINDOW, Admission, LimitUsage, RateLimits, next_day, next_month

__all__ = [
    "ACQUIRE",
    "ADD_BUDGETS",
    "RELEASE",
    "USAGE",
    "acquire_call",
    "admission_of",
    "budget_keys",
    "release_call",
    "usage_call",
    "usage_of",
]

ACQUIRE = """
-- KEYS: requests, tokens (zset), tokens (hash), in flight, day, month.
-- ARGV: now, window, ticket, rpm, tpm, parallel, daily, monthly (-1: no limit), tokens,
-- cost, lease, day ttl, month ttl, seconds to the next day, to the next month.
local now, window, ticket = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local rpm, tpm, par = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local daily, monthly = tonumber(ARGV[7]), tonumber(ARGV[8])
local tokens, cost, lease = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local since = now - window
local requests = 0
if rpm >= 0 then
  redis.call('zremrangebyscore', KEYS[1], '-inf', since)
  requests = redis.call('zcard', KEYS[1])
  if requests >= rpm then
    local oldest = redis.call('zrange', KEYS[1], 0, 0, 'withscores')
    return {'rpm', tostring(math.max(0, tonumber(oldest[2]) + window - now))}
  end
end
if tpm >= 0 then
  local old = redis.call('zrangebyscore', KEYS[2], '-inf', since)
  for _, member in ipairs(old) do
    local held = tonumber(redis.call('hget', KEYS[3], member) or '0')
    redis.call('hdel', KEYS[3], member)
    redis.call('hincrby', KEYS[3], '#total', -held)
  end
  if #old > 0 then redis.call('zremrangebyscore', KEYS[2], '-inf', since) end
  local total = tonumber(redis.call('hget', KEYS[3], '#total') or '0')
  if total + tokens > tpm then
    if tokens > tpm then return {'tpm', '-1'} end
    local excess = total + tokens - tpm
    local entries = redis.call('zrange', KEYS[2], 0, -1, 'withscores')
    for i = 1, #entries, 2 do
      excess = excess - tonumber(redis.call('hget', KEYS[3], entries[i]) or '0')
      if excess <= 0 then return {'tpm', tostring(math.max(0, tonumber(entries[i + 1]) + window - now))} end
    end
    return {'tpm', tostring(window)}
  end
end
if par >= 0 then
  redis.call('zremrangebyscore', KEYS[4], '-inf', now)
  if redis.call('zcard', KEYS[4]) >= par then return {'max-parallel', '1'} end
end
if daily >= 0 and tonumber(redis.call('get', KEYS[5]) or '0') + tokens > daily then
  return {'daily-tokens', ARGV[14]}
end
if monthly >= 0 and tonumber(redis.call('get', KEYS[6]) or '0') + cost > monthly then
  return {'monthly-budget-usd', ARGV[15]}
end
local px = math.ceil(window * 1000) + 1000
-- What the windows have left after this request, and when their oldest entry leaves.
local headroom = {'', '', '', ''}
if rpm >= 0 then
  redis.call('zadd', KEYS[1], now, ticket)
  redis.call('pexpire', KEYS[1], px)
  headroom[1] = tostring(rpm - requests - 1)
  local oldest = requests > 0 and tonumber(redis.call('zrange', KEYS[1], 0, 0, 'withscores')[2]) or now
  headroom[2] = tostring(oldest + window)
end
if tpm >= 0 then
  redis.call('zadd', KEYS[2], now, ticket)
  redis.call('hset', KEYS[3], ticket, tokens)
  local total = redis.call('hincrby', KEYS[3], '#total', tokens)
  redis.call('pexpire', KEYS[2], px)
  redis.call('pexpire', KEYS[3], px)
  local oldest = redis.call('zrange', KEYS[2], 0, 0, 'withscores')
  headroom[3] = tostring(math.max(0, tpm - total))
  headroom[4] = tostring(tonumber(oldest[2]) + window)
end
if par >= 0 then
  redis.call('zadd', KEYS[4], now + lease, ticket)
  redis.call('pexpire', KEYS[4], math.ceil(lease * 1000) + 1000)
end
if daily >= 0 then
  redis.call('incrby', KEYS[5], ARGV[9])
  redis.call('expire', KEYS[5], ARGV[12])
end
if monthly >= 0 then
  redis.call('incrby', KEYS[6], ARGV[10])
  redis.call('expire', KEYS[6], ARGV[13])
end
return {'', '', headroom[1], headroom[2], headroom[3], headroom[4]}
"""

RELEASE = """
-- KEYS as ACQUIRE's. ARGV: now, window, ticket, tpm, parallel, daily, monthly (1: kept),
-- tokens used minus tokens charged, tokens used, cost used minus cost charged.
local now, window, ticket = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local used = tonumber(ARGV[9])
if ARGV[5] == '1' then redis.call('zrem', KEYS[4], ticket) end
if ARGV[4] == '1' then
  local held = redis.call('hget', KEYS[3], ticket)
  if held then
    redis.call('zrem', KEYS[2], ticket)
    redis.call('hdel', KEYS[3], ticket)
    redis.call('hincrby', KEYS[3], '#total', -tonumber(held))
  end
  if used > 0 then
    redis.call('zadd', KEYS[2], now, ticket)
    redis.call('hset', KEYS[3], ticket, used)
    redis.call('hincrby', KEYS[3], '#total', used)
    local px = math.ceil(window * 1000) + 1000
    redis.call('pexpire', KEYS[2], px)
    redis.call('pexpire', KEYS[3], px)
  end
end
if ARGV[6] == '1' and ARGV[8] ~= '0' and redis.call('exists', KEYS[5]) == 1 then
  redis.call('incrby', KEYS[5], ARGV[8])
end
if ARGV[7] == '1' and ARGV[10] ~= '0' and redis.call('exists', KEYS[6]) == 1 then
  redis.call('incrby', KEYS[6], ARGV[10])
end
return 1
"""

USAGE = """
-- KEYS as ACQUIRE's. ARGV: now, window. Reads only: what is live in each window, in
-- flight, and the day's and month's counts (the entries ACQUIRE would drop do not count).
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local since = '(' .. tostring(now - window)
local requests = redis.call('zcount', KEYS[1], since, '+inf')
local tokens = 0
for _, member in ipairs(redis.call('zrangebyscore', KEYS[2], since, '+inf')) do
  tokens = tokens + tonumber(redis.call('hget', KEYS[3], member) or '0')
end
local in_flight = redis.call('zcount', KEYS[4], '(' .. ARGV[1], '+inf')
local day = redis.call('get', KEYS[5]) or '0'
local month = redis.call('get', KEYS[6]) or '0'
return {requests, tokens, in_flight, day, month}
"""

ADD_BUDGETS = """
-- KEYS[i]: budget counters; ARGV[2i-1]: the count to add, ARGV[2i]: the key's ttl.
for i, key in ipairs(KEYS) do
  redis.call('incrby', key, ARGV[2 * i - 1])
  redis.call('expire', key, ARGV[2 * i])
end
return #KEYS
"""

_DAY_TTL = 2 * 86400
_MONTH_TTL = 32 * 86400


def _limit(value: int | None) -> int:
    return -1 if value is None else value


def budget_keys(prefix: str, client: str, day: str, month: str) -> tuple[str, str]:
    base = f"{prefix}lim:{{{client}}}"
    return f"{base}:d:{day}", f"{base}:m:{month}"


def _keys(prefix: str, client: str, day: str, month: str) -> list[str]:
    base = f"{prefix}lim:{{{client}}}"
    return [f"{base}:r", f"{base}:t", f"{base}:th", f"{base}:p", *budget_keys(prefix, client, day, month)]


def acquire_call(
    prefix: str,
    client: str,
    ticket: str,
    limits: RateLimits,
    tokens: int,
    cost: int,
    lease: float,
    now: float,
    day: str,
    month: str,
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of :data:`ACQUIRE`."""
    args: list[Any] = [
        repr(now),
        repr(WINDOW),
        ticket,
        _limit(limits.rpm),
        _limit(limits.tpm),
        _limit(limits.parallel),
        _limit(limits.daily_tokens),
        _limit(limits.monthly_nanos),
        tokens,
        cost,
        repr(lease),
        _DAY_TTL,
        _MONTH_TTL,
        repr(next_day(now) - now),
        repr(next_month(now) - now),
    ]
    return _keys(prefix, client, day, month), args


def admission_of(answer: Any, day: str, month: str) -> Admission:
    """The :class:`Admission` an :data:`ACQUIRE` answer says."""
    refused, retry, *headroom = (part.decode() if isinstance(part, bytes) else str(part) for part in answer)
    if not refused:
        requests_left, requests_reset, tokens_left, tokens_reset = headroom
        return Admission(
            None,
            None,
            day,
            month,
            int(requests_left) if requests_left else None,
            float(requests_reset) if requests_reset else None,
            int(tokens_left) if tokens_left else None,
            float(tokens_reset) if tokens_reset else None,
        )
    seconds = float(retry)
    return Admission(refused, None if seconds < 0 else seconds, day, month)


def release_call(
    prefix: str,
    client: str,
    ticket: str,
    limits: RateLimits,
    admission: Admission,
    charged: tuple[int, int],
    used: tuple[int, int],
    now: float,
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of :data:`RELEASE`."""
    flags = [int(v is not None) for v in (limits.tpm, limits.parallel, limits.daily_tokens, limits.monthly_nanos)]
    delta_tokens, delta_cost = used[0] - charged[0], used[1] - charged[1]
    args: list[Any] = [repr(now), repr(WINDOW), ticket, *flags, str(delta_tokens), used[0], str(delta_cost)]
    return _keys(prefix, client, admission.day, admission.month), args


def usage_call(prefix: str, client: str, now: float, day: str, month: str) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of :data:`USAGE`."""
    return _keys(prefix, client, day, month), [repr(now), repr(WINDOW)]


def usage_of(answer: Any, day: str, month: str) -> LimitUsage:
    """The :class:`LimitUsage` a :data:`USAGE` answer says."""
    requests, tokens, in_flight, day_tokens, month_nanos = (int(part) for part in answer)
    return LimitUsage(requests, tokens, in_flight, day_tokens, month_nanos, day, month)


def budget_ttls() -> tuple[int, int]:
    return _DAY_TTL, _MONTH_TTL
