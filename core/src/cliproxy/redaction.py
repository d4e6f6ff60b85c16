"""Keeping the gateway's secrets out of upstream error text.

An upstream may quote what it was sent -- ``invalid api key sk-abc...`` -- and its error
text travels on: to the client, the log, ``/v0/status`` and metrics. A :class:`Redactor`
replaces every secret it was built with, and the forms a secret takes in such text
(URL-encoded, JSON with escaped slashes, after ``Bearer``), by ``[redacted]``. Redactors
are built on error paths only, so a request that succeeds pays nothing.

:func:`config_secrets` finds the secrets of a config file: values of keys named like
secrets (``api-key``, ``api-keys``, ``secret-key``, ``*-token``, ``password``...), header
values that carry credentials, and passwords and key parameters in URLs.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import attrs

from cliproxy.config.errors import ConfigError
from cliproxy.config.nodes import ConfigNode, expand_env
from cliproxy.errors import GatewayError

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "Redactor",
    "config_secrets",
    "header_secrets",
    "is_secret_name",
    "secret_forms",
    "url_secrets",
]

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 4
"""Shorter values are not redacted: they are no secret, and would blank common words."""

_SECRET_WORDS = frozenset({"key", "keys", "secret", "secrets", "token", "tokens", "password", "passwd", "credential"})
_CREDENTIAL_HEADER = re.compile(r"auth|key|token|secret|cookie|signature|session", re.IGNORECASE)
_PERCENT = re.compile(r"%[0-9A-F]{2}")
_AUTH_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*\s+(\S.*)$")  # "Bearer x", "Basic x", "token x"


def secret_forms(secret: str) -> set[str]:
    """``secret`` as upstreams quote it back: as is, URL-encoded (upper- and lower-case
    escapes, ``+`` for spaces), and JSON with escaped slashes."""
    forms = {secret}
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret, safe="")):
        forms.add(encoded)
        forms.add(_PERCENT.sub(lambda m: m.group(0).lower(), encoded))
    if "/" in secret:
        forms.add(secret.replace("/", "\\/"))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _secret_parts(value: str) -> Iterator[str]:
    """The secret of a credential value: the token after an auth scheme (``Bearer x``
    redacts to ``Bearer [redacted]``), else the whole value."""
    value = value.strip()
    scheme = _AUTH_SCHEME.match(value)
    yield value if scheme is None else scheme.group(1).strip()


@attrs.frozen
class Redactor:
    """Replaces secrets in text, bytes and errors by ``[redacted]``.

    Build one with :meth:`of`; it holds every form of every secret (see
    :func:`secret_forms`), longest first, so a secret that contains another goes whole.
    """

    needles: tuple[str, ...] = ()
    _encoded: tuple[bytes, ...] = attrs.field(default=(), repr=False)  # the needles as UTF-8
    _ordered: tuple[bytes, ...] = attrs.field(default=(), repr=False)  # the same, sorted

    @classmethod
    def of(cls, secrets: Iterable[str | None], *, known: Redactor | None = None) -> Redactor:
        """A redactor for ``secrets`` (None and short values are skipped), and for those
        ``known`` redacts."""
        forms: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_LENGTH:
                forms |= secret_forms(secret)
        if known is not None:
            if forms.issubset(known.needles):
                return known
            forms.update(known.needles)
        return cls._of_forms(forms)

    @classmethod
    def _of_forms(cls, forms: set[str]) -> Redactor:
        needles = tuple(sorted(forms, key=len, reverse=True))
        encoded = tuple(n.encode("utf-8", "surrogatepass") for n in needles)
        return cls(needles, encoded, tuple(sorted(encoded)))

    def __bool__(self) -> bool:
        return bool(self.needles)

    def __or__(self, other: Redactor) -> Redactor:
        """A redactor for the secrets of both."""
        if set(other.needles).issubset(self.needles):
            return self
        return Redactor._of_forms({*self.needles, *other.needles})

    @property
    def longest(self) -> int:
        return len(self._encoded[0]) if self._encoded else 0

    def text(self, text: str, *, limit: int | None = None) -> str:
        """``text`` with every secret replaced; with ``limit``, cut to that many characters
        first (no secret is cut in two: the window searched is a secret longer)."""
        cut = limit is not None and len(text) > limit
        if limit is not None and cut:
            text = text[: limit + self.longest]
        for needle in self.needles:
            if needle in text:
                text = text.replace(needle, REDACTED)
        if cut:
            text = text[:limit] + "... (cut)"
        return text

    def body(self, data: bytes, *, truncated: bool = False, head: int | None = None) -> bytes:
        """``data`` with every secret replaced -- within its first ``head`` bytes only, if
        given (searching costs time per secret and byte). ``truncated``: ``data`` was cut
        off, so its end may hold the beginning of a secret; that goes too."""
        if head is not None and len(data) > head + self.longest:
            return self.body(data[: head + self.longest]) + data[head + self.longest :]
        marker = REDACTED.encode()
        for needle in self._encoded:
            if needle in data:
                data = data.replace(needle, marker)
        if truncated and self._encoded:
            for start in range(max(0, len(data) - self.longest + 1), len(data) - MIN_SECRET_LENGTH + 1):
                if self._begins_a_secret(data[start:]):
                    return data[:start] + marker
        return data

    def _begins_a_secret(self, piece: bytes) -> bool:
        at = bisect.bisect_left(self._ordered, piece)
        return at < len(self._ordered) and self._ordered[at].startswith(piece)

    def error(self, error: GatewayError, *, limit: int = 4096) -> GatewayError:
        """Redact ``error``'s texts in place, the message cut to ``limit`` characters and
        ``param``, ``code`` and upstream type to 256; returns it."""
        error.message = self.text(error.message, limit=limit)
        for field in ("param", "code", "upstream_type"):
            value = getattr(error, field)
            if value:
                setattr(error, field, self.text(value, limit=256))
        return error


def header_secrets(headers: Mapping[str, str]) -> Iterator[str]:
    """The credentials among request headers (``Authorization``, ``x-api-key``, cookies...)."""
    for name, value in headers.items():
        if isinstance(value, str) and _CREDENTIAL_HEADER.search(name):
            yield from _secret_parts(value)


def url_secrets(url: str) -> Iterator[str]:
    """A URL's password and the values of its key-like query parameters (``?key=...``)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return
    if password:
        yield password
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if is_secret_name(name) or _CREDENTIAL_HEADER.search(name):
            yield value


def is_secret_name(name: str) -> bool:
    """True for names such as ``api-key``, ``client_secret``, ``refresh-token``."""
    words = re.split(r"[-_.\s]+", name.strip().lower())
    return bool(words) and words[-1] in _SECRET_WORDS


def config_secrets(root: ConfigNode) -> set[str]:
    """Every secret written in a config file (see the module doc), env references expanded."""
    found: set[str] = set()
    for key in root.keys():
        _walk(root.raw(key), key, root, found, secret=is_secret_name(key), headers=False)
    return found


def _walk(value: Any, name: str, root: ConfigNode, found: set[str], *, secret: bool, headers: bool) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            key = str(key)
            if headers:
                _walk(item, key, root, found, secret=bool(_CREDENTIAL_HEADER.search(key)), headers=False)
            else:
                is_headers = key.lower() == "headers"
                _walk(item, key, root, found, secret=is_secret_name(key), headers=is_headers)
    elif isinstance(value, list):
        for item in value:
            _walk(item, name, root, found, secret=secret, headers=False)
    elif isinstance(value, str):
        try:
            text = expand_env(value, root, name)
        except ConfigError:
            text = value
        if secret:
            found.update(_secret_parts(text))
        if "://" in text:
            found.update(url_secrets(text))
