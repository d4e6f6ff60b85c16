"""Client keys with policy: which models a key may use, at what rate, within what budget.

An ``api-keys`` entry is a plain key (no policy: everything, unlimited) or a mapping::

    api-keys:
      - old-plain-key
      - key: sk-team-a-...            # or sha256:<64 hex>, the key's SHA-256 (cliproxy hash-key --client)
        name: team-a                  # its name in usage, logs and metrics (default key-<position>)
        models: ["claude-*", "team-a/"]   # globs, or prefixes ending in '/'; absent: every model
        rpm: 60                       # requests per minute (sliding window)
        tpm: 200000                   # tokens per minute (input estimated on admission, settled after)
        max-parallel: 4               # requests in flight at once
        daily-tokens: 5000000         # tokens per UTC day
        monthly-budget-usd: 200       # cost per UTC month (pricing: catalogue, config, upstream-reported)
        expires: 2027-01-01           # a date, a date-time (UTC unless it says) or Unix seconds
        metadata: {team: a}           # free text, shown by the management API

:class:`ClientKey` is one entry, :class:`KeyPolicy` what it allows; enforcement lives in
:mod:`cliproxy.policy` (allowlist) and :mod:`cliproxy.limits` (rates and budgets).
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
from collections.abc import Iterable

import attrs

__all__ = ["HASH_PREFIX", "NO_POLICY", "ClientKey", "KeyPolicy", "client_key_hash", "is_client_key_hash"]

HASH_PREFIX = "sha256:"
"""How a client key written as its hash starts (then 64 hex digits of SHA-256 of the key).

A fast hash on purpose: it is checked on every request, and a client key is random
(``cliproxy keys add`` makes 256-bit ones), so it cannot be guessed from its hash."""


def client_key_hash(key: str) -> str:
    """The ``sha256:<hex>`` form of ``key``, to write in ``api-keys`` instead of the key."""
    return HASH_PREFIX + hashlib.sha256(key.encode()).hexdigest()


def is_client_key_hash(value: str) -> bool:
    """Whether a configured client key is written as its hash."""
    rest = value[len(HASH_PREFIX) :]
    return value.startswith(HASH_PREFIX) and len(rest) == 64 and all(c in "0123456789abcdef" for c in rest.lower())


def _matches(pattern: str, model: str) -> bool:
    if pattern.endswith("/"):
        return model.startswith(pattern)
    return fnmatch.fnmatchcase(model, pattern)


@attrs.frozen(cache_hash=True)
class KeyPolicy:
    """What one client key may do. None (or an empty ``models``) means no limit.

    Attributes:
        models: Model name globs (``claude-*``) or prefixes (``team-a/``) the key may use.
        rpm: Requests per minute.
        tpm: Tokens (input and output) per minute.
        max_parallel: Requests in flight at once.
        daily_tokens: Tokens per UTC day.
        monthly_budget_nanos: Cost per UTC month, in nano-dollars.
        expires: Unix time after which the key is refused.
        metadata: Free-form text pairs, for people.
    """

    models: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    daily_tokens: int | None = None
    monthly_budget_nanos: int | None = None
    expires: float | None = None
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def limits_rate(self) -> bool:
        """Whether admission needs the limiter (a rate, a parallel cap or a budget)."""
        return any(
            v is not None for v in (self.rpm, self.tpm, self.max_parallel, self.daily_tokens, self.monthly_budget_nanos)
        )

    @property
    def counts_tokens(self) -> bool:
        """Whether admission needs a token estimate of the request."""
        return self.tpm is not None or self.daily_tokens is not None or self.monthly_budget_nanos is not None

    def allows(self, model: str) -> bool:
        """Whether the key may use ``model`` (the name asked for, without a thinking suffix)."""
        return not self.models or any(_matches(p, model) for p in self.models)

    def allowed(self, models: Iterable[str]) -> list[str]:
        """The names among ``models`` the key may use, in their order."""
        if not self.models:
            return list(models)
        return [m for m in models if self.allows(m)]


NO_POLICY = KeyPolicy()


@attrs.frozen(cache_hash=True)
class ClientKey:
    """One ``api-keys`` entry: the key (or its ``sha256:`` hash), its name and policy."""

    key: str = attrs.field(repr=False)
    name: str
    policy: KeyPolicy = NO_POLICY

    @property
    def hashed(self) -> bool:
        return is_client_key_hash(self.key)

    @property
    def digest(self) -> bytes:
        """SHA-256 of the key (what a presented key is compared by)."""
        if self.hashed:
            return bytes.fromhex(self.key[len(HASH_PREFIX) :])
        return hashlib.sha256(self.key.encode()).digest()

    def same_digest(self, digest: bytes) -> bool:
        return hmac.compare_digest(self.digest, digest)
