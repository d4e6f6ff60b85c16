"""Inbound client authentication against ``api-keys`` (the core's own hook implementation)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache

from cliproxy.client import ClientIdentity, InboundRequest
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.key_policy import NO_POLICY, ClientKey

__all__ = ["ANONYMOUS", "check_api_key", "key_owner", "presented_key"]

ANONYMOUS = ClientIdentity("anonymous", owner="anonymous")
"""The caller of a gateway without ``api-keys``: everyone, one owner."""

_OWNER_SALT = b"cliproxy client owner v1"


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key a client sent: ``Authorization: Bearer``, ``x-api-key``, ``x-goog-api-key``
    or the ``key`` query parameter (Gemini clients), first found wins."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        return (value if scheme.lower() == "bearer" else auth).strip() or None
    return headers.get("x-api-key") or headers.get("x-goog-api-key") or query.get("key") or None


@lru_cache(maxsize=16)
def _known(keys: tuple[str | ClientKey, ...]) -> tuple[dict[bytes, int], tuple[bytes, ...], tuple[ClientIdentity, ...]]:
    """Per set of configured keys, computed once: digest -> position, the digests, and
    the identity each key stands for: named as configured, else ``key-1``, ``key-2``... by
    position in ``api-keys`` (a label for logs and metrics that holds nothing of the key),
    owned by :func:`key_owner` of the key (which moving the key in the list does not
    change), carrying the key's policy."""
    entries = tuple(k if isinstance(k, ClientKey) else ClientKey(k, f"key-{i + 1}") for i, k in enumerate(keys))
    digests = tuple(entry.digest for entry in entries)
    return (
        {d: i for i, d in enumerate(digests)},
        digests,
        tuple(
            ClientIdentity(
                entry.name,
                owner=_digest_owner(entry.digest) if entry.hashed else key_owner(entry.key),
                policy=None if entry.policy == NO_POLICY else entry.policy,
            )
            for entry in entries
        ),
    )


class _LastTable:
    """The key table of the keys last checked, by the identity of their tuple: the
    config's tuple lives as long as the config, so a request finds its table without
    hashing every configured key again (``_known``'s cache would)."""

    __slots__ = ("keys", "table")

    def __init__(self) -> None:
        self.keys: object = None
        self.table = _known(())

    def of(
        self, keys: Sequence[str | ClientKey]
    ) -> tuple[dict[bytes, int], tuple[bytes, ...], tuple[ClientIdentity, ...]]:
        if self.keys is not keys:
            if type(keys) is not tuple:  # (a list could change in place: no identity to go by)
                return _known(tuple(keys))
            self.table = _known(keys)
            self.keys = keys
        return self.table


_last = _LastTable()


def key_owner(key: str) -> str:
    """The :attr:`~cliproxy.ClientIdentity.owner` of the caller presenting ``key``: a
    salted SHA-256 fingerprint, truncated to 128 bits -- the same on every instance and
    after a restart, and no help in guessing the key."""
    return "key:" + hmac.new(_OWNER_SALT, key.encode(), hashlib.sha256).hexdigest()[:32]


def _digest_owner(digest: bytes) -> str:
    """The owner of a key configured as its hash (the key itself is not known here)."""
    return "keyhash:" + hmac.new(_OWNER_SALT, digest, hashlib.sha256).hexdigest()[:32]


def check_api_key(
    request: InboundRequest, keys: Sequence[str | ClientKey], now: float | None = None
) -> ClientIdentity | None:
    """The identity for a valid key; None for a missing or unknown key. An expired key
    is refused with a 401 that says so.

    Keys are compared by SHA-256 digest, then with :func:`hmac.compare_digest`, so the time
    taken says nothing about how much of a key was right.
    """
    if not keys:
        return ANONYMOUS
    key = presented_key(request.headers, request.query)
    if key is None:
        return None
    digest = hashlib.sha256(key.encode()).digest()
    index_of, digests, identities = _last.of(keys)
    index = index_of.get(digest)
    if index is None or not hmac.compare_digest(digests[index], digest):
        return None
    identity = identities[index]
    policy = identity.policy
    expires = None if policy is None else policy.expires
    if expires is not None and (time.time() if now is None else now) >= expires:
        raise GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            code="expired_api_key",
            message=f"this API key ({identity.name}) expired at "
            f"{dt.datetime.fromtimestamp(expires, dt.UTC):%Y-%m-%d %H:%M} UTC; ask for a new one",
        )
    return identity
