"""OAuth credentials: token files in ``auth-dir``, and refresh done once, ahead of time.

A plugin registers an :class:`~cliproxy.AuthType` for each kind of token file it understands (the
file's top-level ``"type"``). The core loads every ``*.json`` in ``auth-dir``, hands each
to the matching auth type, and keeps the tokens in a :class:`TokenManager`, which:

* refreshes a token ``refresh_lead`` seconds before it expires, and on demand after a 401;
* lets one refresh run at a time per credential -- in this process with a lock, across
  instances with the state store's lock, and publishes the new tokens through the store
  so another instance adopts them instead of spending the (rotating) refresh token again;
* writes refreshed tokens back to the file atomically (mode 0600; a directory it has to
  create gets 0700, an existing one is left alone);
* marks a credential that cannot be refreshed as resting, with the reason, instead of
  failing requests or the server;
* stops refreshing a credential whose auth type says its refresh token can never work
  again (:data:`SIGN_IN_AGAIN`): it rests until a new sign-in replaces the token, on every
  instance sharing the state store, and the refresh token is never offered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import attrs
import orjson

from cliproxy.credentials import Credential
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.proxies import resolve_proxy
from cliproxy.redaction import Redactor, is_secret_name
from cliproxy.state.base import Cooldown, StateStore

__all__ = ["SIGN_IN_AGAIN", "Refresher", "TokenManager", "TokenSet", "write_token_file"]

log = logging.getLogger("cliproxy.tokens")

REFRESH_FAILURE_REST = 300.0
REFRESH_FAILED = "token_refresh_failed"
"""The ``code`` of errors raised because a token could not be refreshed."""
SIGN_IN_AGAIN = "sign_in_again"
"""The ``code`` an :class:`~cliproxy.AuthType`'s ``refresh`` gives the error it raises when
the refresh token can never work again (expired, revoked, already spent): the manager then
offers it no more -- here or on another instance -- and rests the credential for
:data:`SIGNED_OUT_REST`, or until a new sign-in brings another refresh token (its rest ends
within one refresh-loop interval of the new token file being loaded)."""
SIGNED_OUT_REST = 7 * 86400.0
_SIGNED_OUT = "signed-out:"  # state key prefix: the fingerprint of a refresh token that can never work again


@attrs.define
class TokenSet:
    """The tokens of one OAuth credential.

    Attributes:
        access_token: Sent upstream as the bearer token.
        refresh_token: Spent to get a new access token (it may rotate).
        expires_at: Unix time the access token expires; None if unknown.
        extra: Provider fields kept in the token file (email, project, profile ARN...).
    """

    access_token: str = attrs.field(repr=False)
    refresh_token: str | None = attrs.field(default=None, repr=False)
    expires_at: float | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)

    def expires_within(self, seconds: float, now: float) -> bool:
        return self.expires_at is not None and self.expires_at - now <= seconds

    def to_bytes(self) -> bytes:
        return orjson.dumps(attrs.asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> TokenSet:
        return cls(**orjson.loads(data))


class Refresher(Protocol):
    """What the token manager needs of an auth type (see :class:`cliproxy.AuthType`)."""

    refresh_lead: float

    def dump(self, tokens: TokenSet, previous: Mapping[str, Any]) -> dict[str, Any]: ...

    async def refresh(self, tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet: ...


def write_token_file(path: Path, content: Mapping[str, Any]) -> None:
    """Write ``content`` as JSON atomically, readable by the owner only (mode 0600).

    Directories missing on the way are created with mode 0700; existing ones are left as
    they are (a shared ``/tmp`` keeps its mode and sticky bit).
    """
    directory = path.parent
    _make_private_dirs(directory)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(content, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each with mode 0700; touch nothing
    that exists already (nor one another process creates meanwhile)."""
    missing: list[Path] = []
    current = directory
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=0o700)
        except FileExistsError:
            continue
        try:
            os.chmod(created, 0o700)  # exactly 0700, whatever the umask took away
        except OSError:
            log.warning("could not restrict %s to mode 0700", created)


@attrs.define(eq=False)
class _Entry:
    credential: Credential
    tokens: TokenSet
    auth_type: Refresher
    path: Path | None
    file_data: dict[str, Any]
    lock: asyncio.Lock = attrs.Factory(asyncio.Lock)
    attempts: int = 0
    failure: GatewayError | None = None
    dead: bool = False  # its refresh token can never work again (SIGN_IN_AGAIN)
    checked: bool = False  # the shared signed-out mark was compared with its refresh token


class TokenManager:
    """Holds the tokens of every OAuth credential and refreshes them (see module doc)."""

    def __init__(self, state: StateStore, clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self.session_for: Callable[[str | None], tuple[aiohttp.ClientSession, str | None]] | None = None
        self.default_proxy: str | None = None
        self.redact: Callable[[str], str] | None = None  # the gateway's, for refresh errors

    def track(
        self,
        credential: Credential,
        tokens: TokenSet,
        auth_type: Refresher,
        *,
        path: Path | None = None,
        file_data: Mapping[str, Any] | None = None,
    ) -> None:
        """Start managing ``credential``'s tokens (written back to ``path`` on refresh)."""
        self._entries[credential.id] = _Entry(credential, tokens, auth_type, path, dict(file_data or {}))

    def take_over(self, staged: TokenManager) -> None:
        """Manage exactly ``staged``'s credentials from now on (after a config reload).

        A credential managed here already keeps its entry -- tokens, lock, refresh state --
        unless its file now holds newer tokens (a fresh ``cliproxy login``); credentials
        ``staged`` does not have are forgotten, so their files are never written again.
        Synchronous: requests see the old set or the new one.
        """
        entries: dict[str, _Entry] = {}
        for key, new in staged._entries.items():
            old = self._entries.get(key)
            if old is None or _newer(new.tokens, old.tokens):
                entries[key] = new
                continue
            old.credential, old.auth_type, old.path = new.credential, new.auth_type, new.path
            entries[key] = old
        self._entries = entries
        self.default_proxy = staged.default_proxy

    def secrets(self) -> Iterator[str]:
        """Every token held (access and refresh, and secrets kept with them), current ones:
        what must never appear in logs or error text."""
        for entry in self._entries.values():
            tokens = entry.tokens
            yield tokens.access_token
            if tokens.refresh_token:
                yield tokens.refresh_token
            for name, value in tokens.extra.items():
                if isinstance(value, str) and is_secret_name(name):
                    yield value

    def _redacted(self, text: str) -> str:
        if self.redact is not None:
            return self.redact(text)
        return Redactor.of(self.secrets()).text(text)

    def __contains__(self, credential: Credential) -> bool:
        return credential.id in self._entries

    def tokens(self, credential: Credential) -> TokenSet:
        return self._entry(credential).tokens

    def _entry(self, credential: Credential) -> _Entry:
        try:
            return self._entries[credential.id]
        except KeyError:
            raise GatewayError(
                status=500,
                kind=ErrorKind.INTERNAL,
                message=f"credential {credential.label} has no managed tokens",
                provider=credential.provider,
            ) from None

    async def access_token(self, credential: Credential) -> str:
        """A valid access token, refreshed first if it expires within the lead time."""
        entry = self._entry(credential)
        if entry.tokens.expires_within(entry.auth_type.refresh_lead, self.clock()):
            await self.refresh(credential)
        return entry.tokens.access_token

    async def refresh(self, credential: Credential, *, force: bool = False) -> TokenSet:
        """Refresh once, whoever else asks at the same time, in this process or another.

        ``force`` refreshes even if the token is not near expiry (after a 401) -- unless a
        refresh finished meanwhile, here or on another instance sharing the state store.
        """
        entry = self._entry(credential)
        attempts = entry.attempts
        async with entry.lock:
            if entry.attempts != attempts:  # someone refreshed (or failed to) while we waited
                if entry.failure is not None:
                    raise entry.failure
                return entry.tokens
            if entry.dead and entry.failure is not None:
                raise entry.failure  # offered again, it would only be refused again
            now = self.clock()
            if not force and not entry.tokens.expires_within(entry.auth_type.refresh_lead, now):
                return entry.tokens
            try:
                return await self._refresh_locked(credential, entry, now)
            finally:
                entry.attempts += 1  # completed, one way or the other: waiters use the outcome

    async def _refresh_locked(self, credential: Credential, entry: _Entry, now: float) -> TokenSet:
        """One refresh attempt, holding the in-process lock; takes the shared lock too."""
        entry.failure = None
        async with self._state.lock(f"refresh:{credential.id}", ttl=60.0):
            shared = await self._shared_tokens(credential)
            if shared is not None and _newer(shared, entry.tokens):
                # Another instance refreshed: its tokens are current, and its refresh token
                # is the only one still valid (they rotate). Use them; refresh only if they
                # are due as well.
                self._adopt(entry, shared)
                if not shared.expires_within(entry.auth_type.refresh_lead, now):
                    return entry.tokens
            signed_out = await self._signed_out(credential, entry)
            if signed_out is not None:
                raise signed_out
            try:
                session, proxy = self._session(credential)
                fresh = await entry.auth_type.refresh(entry.tokens, session, proxy)
            except GatewayError as error:
                reason = self._redacted(error.message)  # a token endpoint may quote the token it was sent
                entry.failure = GatewayError(
                    status=401,
                    kind=ErrorKind.AUTHENTICATION,
                    message=f"{credential.provider} credential {credential.label} could not be refreshed: {reason}",
                    provider=credential.provider,
                    code=REFRESH_FAILED,
                )
                if error.code == SIGN_IN_AGAIN:
                    await self._sign_out(credential, entry)
                await self._rest(
                    credential,
                    f"token refresh failed: {reason}",
                    SIGNED_OUT_REST if entry.dead else REFRESH_FAILURE_REST,
                )
                raise entry.failure from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                entry.failure = GatewayError(
                    status=502,
                    kind=ErrorKind.UPSTREAM,
                    message=f"could not reach the {credential.provider} token endpoint: {type(exc).__name__}",
                    provider=credential.provider,
                    code=REFRESH_FAILED,
                )
                await self._rest(credential, f"token refresh failed: {type(exc).__name__}")
                raise entry.failure from None
            await self._state.set_value(f"tokens:{credential.id}", fresh.to_bytes(), ttl=None)
            self._adopt(entry, fresh)
            await self._state.clear_cooldown(credential.id, None)
            log.info("refreshed %s credential %s", credential.provider, credential.label)
            return entry.tokens

    async def refresh_due(self) -> None:
        """Refresh every token that expires within its lead time (the background loop);
        end the rest of a credential signed out elsewhere whose token file was replaced by
        a new sign-in."""
        now = self.clock()
        for entry in list(self._entries.values()):
            if not entry.checked:
                await self._check_signed_out(entry)
            if entry.dead:
                continue
            if entry.tokens.refresh_token and entry.tokens.expires_within(entry.auth_type.refresh_lead, now):
                try:
                    await self.refresh(entry.credential)
                except GatewayError as error:
                    log.warning("%s", error.message)

    async def run_refresh_loop(self, interval: float = 30.0) -> None:
        while True:
            await self.refresh_due()
            await asyncio.sleep(interval)

    def _session(self, credential: Credential) -> tuple[aiohttp.ClientSession, str | None]:
        """The session and proxy for a refresh: the credential's own proxy-url, else the
        gateway's (refreshing through the wrong route is how tokens go stale)."""
        if self.session_for is None:
            raise GatewayError(status=500, kind=ErrorKind.INTERNAL, message="the gateway is not serving yet")
        return self.session_for(resolve_proxy(credential.proxy_url, self.default_proxy))

    async def _shared_tokens(self, credential: Credential) -> TokenSet | None:
        raw = await self._state.get_value(f"tokens:{credential.id}")
        if raw is None:
            return None
        try:
            return TokenSet.from_bytes(raw)
        except (ValueError, TypeError):
            return None

    def _adopt(self, entry: _Entry, tokens: TokenSet) -> None:
        entry.tokens = tokens
        if entry.path is not None:
            content = entry.auth_type.dump(tokens, entry.file_data)
            try:
                write_token_file(entry.path, content)
                entry.file_data = content
            except OSError as exc:
                log.error("could not write refreshed tokens to %s: %s", entry.path, exc)

    async def _rest(self, credential: Credential, reason: str, seconds: float = REFRESH_FAILURE_REST) -> None:
        log.error("%s credential %s: %s", credential.provider, credential.label, reason)
        await self._state.set_cooldown(
            credential.id, None, Cooldown(until=self.clock() + seconds, reason=reason, status=401)
        )

    # -- refresh tokens that can never work again (SIGN_IN_AGAIN) ---------------------------------

    async def _sign_out(self, credential: Credential, entry: _Entry) -> None:
        """Remember, for every instance, that ``entry``'s refresh token is dead."""
        entry.dead = entry.checked = True
        mark = _fingerprint(entry.tokens.refresh_token)
        await self._state.set_value(_SIGNED_OUT + credential.id, mark.encode(), ttl=SIGNED_OUT_REST)

    async def _signed_out(self, credential: Credential, entry: _Entry) -> GatewayError | None:
        """The error for a refresh token another instance found dead, or None."""
        if not await self._check_signed_out(entry):
            return None
        entry.failure = GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            message=f"{credential.provider} credential {credential.label} could not be refreshed: its sign-in "
            f"was refused for good (see /v0/status); sign in again with `cliproxy login {credential.provider}`",
            provider=credential.provider,
            code=REFRESH_FAILED,
        )
        return entry.failure

    async def _check_signed_out(self, entry: _Entry) -> bool:
        """Compare ``entry``'s refresh token with the shared signed-out mark: the same
        token is dead here too; another one (a new sign-in) ends the rest the mark caused."""
        entry.checked = True
        if entry.dead:
            return True
        key = _SIGNED_OUT + entry.credential.id
        mark = await self._state.get_value(key)
        if mark is None:
            return False
        if mark.decode() == _fingerprint(entry.tokens.refresh_token):
            entry.dead = True
            return True
        await self._state.delete_value(key)
        cooldowns = (await self._state.cooldowns()).get(entry.credential.id) or {}
        whole = cooldowns.get("*")
        if whole is not None and whole.status == 401:
            await self._state.clear_cooldown(entry.credential.id, None)
            log.info("%s credential %s was signed in again", entry.credential.provider, entry.credential.label)
        return False


def _fingerprint(refresh_token: str | None) -> str:
    """What the state store keeps of a dead refresh token (never the token itself)."""
    return hashlib.sha256((refresh_token or "").encode()).hexdigest()[:32]


def _newer(shared: TokenSet, held: TokenSet) -> bool:
    """``shared`` (published by a refresh) supersedes the tokens ``held`` here: different,
    and valid at least as long (a token file logged in afresh is not overridden by an older
    refresh)."""
    if shared.access_token == held.access_token and shared.refresh_token == held.refresh_token:
        return False
    if held.expires_at is None:
        return True
    return shared.expires_at is None or shared.expires_at >= held.expires_at
