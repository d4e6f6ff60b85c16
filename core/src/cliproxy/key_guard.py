"""Checking a presented management key: the configured key or its hash, and a lockout.

:meth:`KeyGuard.check` refuses an address that is locked out (429, see
:mod:`cliproxy.lockout`), then compares the key (:func:`cliproxy.keyhash.key_matches`):
a hashed key costs an scrypt run, done in a worker thread so the event loop goes on.
A key found right once is remembered (as a keyed digest, for the configured value it
matched), so an operator's later calls cost a digest, not an scrypt run.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
from collections.abc import Callable

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.keyhash import is_key_hash, key_matches
from cliproxy.lockout import Lockout

__all__ = ["KeyGuard"]


class KeyGuard:
    """One gateway's management-key checks and lockout table (per process)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.lockout = Lockout(clock)
        self._pepper = os.urandom(16)
        self._verified: tuple[str, bytes] | None = None  # (configured value, digest of the key that matched it)

    def _digest(self, key: str) -> bytes:
        return hmac.new(self._pepper, key.encode(), hashlib.sha256).digest()

    async def check(self, address: str, presented: str | None, configured: str) -> None:
        """Raise 429 when ``address`` is locked out, 401 for a missing or wrong key."""
        locked = self.lockout.locked_for(address)
        if locked > 0:
            raise _locked_out(locked)
        if presented is None:
            raise GatewayError(
                status=401,
                kind=ErrorKind.AUTHENTICATION,
                code="missing_management_key",
                message="missing management key: send remote-management.secret-key as 'Authorization: Bearer <key>' "
                "or 'X-Management-Key: <key>'",
            )
        if await self._matches(presented, configured):
            self.lockout.succeeded(address)
            return
        locked = self.lockout.failed(address)
        if locked > 0:
            raise _locked_out(locked)
        raise GatewayError(
            status=401, kind=ErrorKind.AUTHENTICATION, code="invalid_management_key", message="invalid management key"
        )

    async def _matches(self, presented: str, configured: str) -> bool:
        if not is_key_hash(configured):
            return key_matches(presented, configured)
        digest = self._digest(presented)
        verified = self._verified
        if verified is not None and verified[0] == configured and hmac.compare_digest(verified[1], digest):
            return True
        if not await asyncio.to_thread(key_matches, presented, configured):
            return False
        self._verified = (configured, digest)
        return True


def _locked_out(seconds: float) -> GatewayError:
    return GatewayError(
        status=429,
        kind=ErrorKind.RATE_LIMITED,
        code="management_locked_out",
        retry_after=seconds,
        message=f"too many wrong management keys from this address: refused for another {seconds:.0f} s "
        "(check the key you send: remote-management.secret-key, or $CLIPROXY_MANAGEMENT_KEY for the cliproxy CLI)",
    )
