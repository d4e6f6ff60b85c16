"""PKCE (RFC 7636) and the ``state`` parameter of an authorization request."""

from __future__ import annotations

import base64
import hashlib
import secrets

import attrs

__all__ = ["Pkce", "new_state"]


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@attrs.frozen
class Pkce:
    """A code verifier and its S256 challenge.

    Send ``challenge`` (with ``code_challenge_method=S256``) in the authorization URL and
    ``verifier`` with the code exchange.
    """

    verifier: str = attrs.field(repr=False)
    challenge: str
    method: str = "S256"

    @classmethod
    def new(cls) -> Pkce:
        """A fresh pair: a 43-character verifier from 32 random bytes."""
        verifier = _b64url(secrets.token_bytes(32))
        return cls(verifier, _b64url(hashlib.sha256(verifier.encode("ascii")).digest()))


def new_state() -> str:
    """An unguessable ``state`` value tying a redirect to this login attempt."""
    return secrets.token_urlsafe(24)
