"""Secrets in the config, shown as references and taken back as themselves.

The management API never answers with a secret. Where the config holds one -- a value
of a key named like one (``api-key``, ``secret-key``, ``*-token``...), a credential
header, a password or key in a URL: the rules of :func:`cliproxy.redaction.config_secrets`
-- a read shows ``<secret:0123456789abcdef>`` instead: a keyed digest of the secret,
the same for the same secret, and no help in guessing it. Sent back in an edit (the
whole file read, changed and written back), a reference stands for the secret it was
made from, so a round trip through the API never loses a key. A reference the config
does not hold (any more) is an error, never written.

Values that name an environment variable (``${OPENROUTER_API_KEY}``) are no secret and
are shown as written.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping
from typing import Any

from cliproxy.config import Config, ConfigError
from cliproxy.management_api.config_document import same_style, walk_strings
from cliproxy.redaction import MIN_SECRET_LENGTH, header_secrets, is_secret_name, url_secrets

__all__ = ["REFERENCE", "SecretRefs"]

REFERENCE = re.compile(r"<secret:([0-9a-f]{16})>")
_CREDENTIAL_HEADER = re.compile(r"auth|key|token|secret|cookie|signature|session", re.IGNORECASE)


def _secrets_of(value: str, name: str, *, secret: bool, header: bool) -> Iterator[str]:
    if "${" in value:
        return  # an environment reference, not the secret itself
    if header:
        yield from header_secrets({name: value})
    elif secret:
        yield from header_secrets({"authorization": value})  # "Bearer x" -> x, else the value
    if "://" in value:
        yield from url_secrets(value)


def _walk(value: Any, name: str, *, secret: bool, headers: bool) -> Iterator[tuple[Any, Any, str, bool, bool]]:
    """``(container, key, string, secret-named, header value)`` for every string."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            key_name = str(key)
            if headers:
                flags = (bool(_CREDENTIAL_HEADER.search(key_name)), True)
                child_headers = False
            else:
                flags = (is_secret_name(key_name), False)
                child_headers = key_name.lower() == "headers"
            if isinstance(item, str):
                yield value, key, item, *flags
            else:
                yield from _walk(item, key_name, secret=flags[0], headers=child_headers)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield value, index, item, secret, False
            else:
                yield from _walk(item, name, secret=secret, headers=False)


class SecretRefs:
    """References for one gateway's config (see the module doc). The digests are keyed
    with the management key's configured value, so every worker of one gateway makes the
    same references, and nobody without the config can check a guess against one."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def for_config(cls, config: Config) -> SecretRefs:
        seed = (config.remote_management.secret_key or "").encode()
        return cls(hashlib.sha256(b"cliproxy secret reference v1\x00" + seed).digest())

    def reference(self, secret: str) -> str:
        return f"<secret:{hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()[:16]}>"

    def secrets(self, data: Any) -> dict[str, str]:
        """Every secret in ``data`` (a config tree), by its reference."""
        found: dict[str, str] = {}
        for _, key, text, secret, header in _walk(data, "", secret=False, headers=False):
            for part in _secrets_of(text, str(key), secret=secret, header=header):
                if len(part) >= MIN_SECRET_LENGTH:
                    found[self.reference(part)] = part
        return found

    def masked(self, data: Any) -> Any:
        """A copy of ``data`` (comments kept) with each secret replaced by its reference."""
        masked = copy.deepcopy(data)
        for container, key, text, secret, header in list(_walk(masked, "", secret=False, headers=False)):
            parts = sorted(
                {p for p in _secrets_of(text, str(key), secret=secret, header=header) if len(p) >= MIN_SECRET_LENGTH},
                key=len,
                reverse=True,
            )
            if not parts:
                continue
            replaced = text
            for part in parts:
                replaced = replaced.replace(part, self.reference(part))
            container[key] = same_style(text, replaced)
        return masked

    def restore(self, data: Any, known: Mapping[str, str], file: str) -> None:
        """Put back, in place, the secret each reference in ``data`` stands for;
        :class:`ConfigError` naming the key for a reference ``known`` does not hold."""
        for container, key, text, where in list(walk_strings(data)):
            if "<secret:" not in text:
                continue

            def secret_for(match: re.Match[str], where: str = where) -> str:
                found = known.get(match.group(0))
                if found is None:
                    raise ConfigError(
                        message=f"'{where}' holds {match.group(0)}, which stands for no secret of the current config",
                        file=file,
                        key=where,
                        hint="write the secret itself there; a reference only stands for a secret the config "
                        "holds when it is sent back",
                    )
                return found

            container[key] = same_style(text, REFERENCE.sub(secret_for, text))
