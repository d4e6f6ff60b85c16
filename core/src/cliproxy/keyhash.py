"""The management key, kept in the config as itself or as a slow hash of itself.

``remote-management.secret-key`` may hold the key in plain text or as what ``cliproxy
hash-key`` prints: ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (salt and hash in unpadded
URL-safe base64). A config that leaks then does not leak the key, and guessing it from the
hash costs an scrypt run per guess.

:func:`key_matches` checks a presented key against either form in constant time (the
presented key is hashed first, so the time taken says nothing about how much of it was
right).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import attrs

__all__ = ["HASH_SCHEME", "KeyHash", "hash_key", "is_key_hash", "key_matches"]

HASH_SCHEME = "scrypt"
_N, _R, _P = 2**15, 8, 1  # about 0.1 s and 32 MB per check on a small server
_MAX_N = 2**20  # the most a config may ask for (1 GB would stall the gateway)
_SALT_BYTES = 16
_HASH_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@attrs.frozen
class KeyHash:
    """A parsed ``scrypt$n$r$p$salt$hash`` value."""

    n: int
    r: int
    p: int
    salt: bytes = attrs.field(repr=False)
    digest: bytes = attrs.field(repr=False)

    @classmethod
    def parse(cls, text: str) -> KeyHash:
        """Read a hash written by :func:`hash_key`; :class:`ValueError` says what is wrong."""
        parts = text.split("$")
        if len(parts) != 6 or parts[0] != HASH_SCHEME:
            raise ValueError(f"a key hash has six '$'-separated fields and starts with '{HASH_SCHEME}$'")
        try:
            n, r, p = (int(part) for part in parts[1:4])
            salt, digest = _unb64(parts[4]), _unb64(parts[5])
        except ValueError:
            raise ValueError("a key hash holds three numbers, then the salt and the hash in base64") from None
        if n < 2 or n & (n - 1) or n > _MAX_N or not 0 < r <= 32 or not 0 < p <= 16:
            raise ValueError(f"the scrypt parameters n={n}, r={r}, p={p} are out of range (n a power of 2 up to 2^20)")
        if len(salt) < 8 or len(digest) < 16:
            raise ValueError("the salt or the hash is too short")
        return cls(n, r, p, salt, digest)

    def matches(self, key: str) -> bool:
        """Whether ``key`` hashes to this (one scrypt run: call it off the event loop)."""
        found = _scrypt(key, self.salt, self.n, self.r, self.p, len(self.digest))
        return hmac.compare_digest(found, self.digest)


def _scrypt(key: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(key.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + 1024 * 1024, dklen=length)


def hash_key(key: str, *, salt: bytes | None = None) -> str:
    """The value to put in ``remote-management.secret-key`` instead of ``key``."""
    salt = salt if salt is not None else os.urandom(_SALT_BYTES)
    digest = _scrypt(key, salt, _N, _R, _P, _HASH_BYTES)
    return f"{HASH_SCHEME}${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def is_key_hash(value: str) -> bool:
    """Whether a configured secret is written as a hash (not as the key itself)."""
    return value.startswith(HASH_SCHEME + "$")


def key_matches(presented: str, configured: str) -> bool:
    """Whether ``presented`` is the key ``configured`` holds (plainly or hashed).

    A hashed key costs one scrypt run: call this in a worker thread.
    """
    if is_key_hash(configured):
        try:
            return KeyHash.parse(configured).matches(presented)
        except ValueError:
            return False  # the loader refuses such a config; never a match
    expected = hashlib.sha256(configured.encode()).digest()
    return hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), expected)
