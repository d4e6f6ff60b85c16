"""Credentials: one upstream account a provider can use, and the models it serves."""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from cliproxy.config.nodes import ConfigNode
from cliproxy.proxies import check_proxy_url

__all__ = ["CommonFields", "Credential", "ModelEntry", "credential_id", "mask_secret", "read_common_fields"]


@attrs.frozen
class ModelEntry:
    """A model a credential serves: ``name`` upstream, ``alias`` (if any) for clients."""

    name: str
    alias: str | None = None

    @property
    def id(self) -> str:
        """The name clients use (before any prefix)."""
        return self.alias or self.name


@attrs.define(eq=False)
class Credential:
    """An upstream account (API key or OAuth token) of one provider.

    Attributes:
        id: Stable identifier, the same on every instance sharing a state store (derived
            from the secret, not from the entry's position).
        provider: Name of the provider that executes calls with it.
        label: Safe to show and log: a masked key or a token file name.
        prefix: Clients reach it as ``prefix/model``.
        models: Models it serves, as configured; empty means discovered or default ones.
        discovered: Models the upstream reported it serves (see ``discover_models``).
        excluded_models: Wildcard patterns of models never routed here.
        priority: Higher is tried first; equal priorities share the load.
        weight: Relative share within its priority (round-robin).
        any_model: Serve any model name asked under ``prefix/`` (local servers, aggregators
            whose catalogue is not listed).
        proxy_url: This credential's outbound proxy (``direct`` for none); None means the
            gateway's ``proxy-url``. Used for its requests and its token refreshes.
        settings: Provider-owned details (base URL, key, headers), opaque to the core.
        source: Where it was defined (``config.yaml:12:5`` or a token file path).
    """

    id: str
    provider: str
    label: str
    prefix: str | None = None
    models: tuple[ModelEntry, ...] = ()
    discovered: tuple[ModelEntry, ...] = ()
    excluded_models: tuple[str, ...] = ()
    priority: int = 0
    weight: int = 1
    any_model: bool = False
    proxy_url: str | None = None
    settings: Any = None
    source: str = ""

    @property
    def group(self) -> str:
        """The upstream service it belongs to: the ``kind`` of :func:`credential_id`
        (``openai-compatibility/openrouter``, ``groq``), else the provider name. Keys of one
        group are interchangeable; different groups at equal priority for one model are
        reported as ambiguous at start-up."""
        kind, sep, _ = self.id.rpartition(":")
        return kind if sep and kind else self.provider

    def excludes(self, model: str) -> bool:
        """True when ``model`` matches one of the excluded patterns (``*`` wildcards)."""
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.excluded_models)


_MASK_LONG = 24  # secrets this long show 4 characters at each end
_MASK_SHORT = 12  # ... this long, 2; shorter ones none


def mask_secret(secret: str | None) -> str:
    """``sk-a...wxyz``: enough to tell keys apart in a label, never enough to use one.

    At most a third of a secret shows: 4 characters at each end of a secret of 24 or
    more, 2 at each end of one of 12 to 23, nothing but the length of a shorter one.
    """
    if not secret:
        return "(none)"
    length = len(secret)
    if length >= _MASK_LONG:
        return secret[:4] + "..." + secret[-4:]
    if length >= _MASK_SHORT:
        return secret[:2] + "..." + secret[-2:]
    return f"*** ({length} {'char' if length == 1 else 'chars'})"


def credential_id(kind: str, *parts: str | None) -> str:
    """A stable id from the block kind and the identifying values (key, base URL...).

    ``kind`` names the upstream service (``groq``, ``openai-compatibility/<entry name>``):
    credentials sharing it are keys to the same service (see :attr:`Credential.group`).
    """
    digest = hashlib.sha256("\x00".join(p or "" for p in parts).encode()).hexdigest()[:12]
    return f"{kind}:{digest}"


@attrs.frozen
class CommonFields:
    """The keys every provider entry shares (see :func:`read_common_fields`)."""

    api_key: str | None
    base_url: str | None
    prefix: str | None
    proxy_url: str | None
    headers: dict[str, str]
    models: tuple[ModelEntry, ...]
    excluded_models: tuple[str, ...]
    priority: int
    weight: int

    def credential(
        self,
        *,
        id: str,
        provider: str,
        label: str,
        settings: Any = None,
        source: str = "",
        any_model: bool = False,
        **overrides: Any,
    ) -> Credential:
        """A :class:`Credential` carrying these fields (prefix, models, excluded models,
        priority, weight, proxy-url); ``overrides`` replace any of them (a per-key
        ``weight`` or ``proxy_url``)."""
        fields: dict[str, Any] = {
            "prefix": self.prefix,
            "models": self.models,
            "excluded_models": self.excluded_models,
            "priority": self.priority,
            "weight": self.weight,
            "proxy_url": self.proxy_url,
        }
        fields.update(overrides)
        return Credential(
            id=id, provider=provider, label=label, any_model=any_model, settings=settings, source=source, **fields
        )


def _models(node: ConfigNode, key: str = "models") -> tuple[ModelEntry, ...]:
    raw = node.raw(key)
    if raw is None:
        node.raw_list(key)  # 'models:' with nothing after it is an error, not "any model"
        return ()
    if not isinstance(raw, list):
        raise node.error(key, f"'{node.qualified(key)}' must be a list of models (each a name, or name and alias)")
    out: list[ModelEntry] = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            out.append(ModelEntry(item))
            continue
        if not isinstance(item, Mapping):
            raise ConfigNode(raw, node.file, node.qualified(key)).error(
                i, f"'{node.qualified(key)}[{i}]' must be a model name or a mapping with 'name' and 'alias'"
            )
        entry = ConfigNode(item, node.file, f"{node.qualified(key)}[{i}]")
        name = entry.str("name", required=True)
        alias = entry.str("alias") or None
        entry.done()
        out.append(ModelEntry(name, alias))
    return tuple(out)


def _prefix(node: ConfigNode) -> str | None:
    prefix = node.str("prefix")
    if prefix is None:
        return None
    prefix = prefix.strip().strip("/")
    if not prefix:
        return None
    if "/" in prefix:
        raise node.error("prefix", f"prefix '{prefix}' must not contain '/'", hint="use a single word such as 'team-a'")
    return prefix


def read_common_fields(
    node: ConfigNode,
    *,
    api_key: bool | None = True,
    base_url: str | None = None,
) -> CommonFields:
    """Read the shared entry keys: ``api-key``, ``base-url``, ``prefix``, ``proxy-url``,
    ``headers``, ``models`` (``name``/``alias``), ``excluded-models``, ``priority``,
    ``weight``.

    Args:
        api_key: True if required, False if optional, None if the entry has no such key.
        base_url: The default base URL (None when the entry has no ``base-url`` key).
    """
    key = None
    if api_key is not None:
        key = node.str("api-key", required=api_key) or None
    url = None
    if base_url is not None:
        url = (node.str("base-url") or base_url).rstrip("/")
        if url and not url.startswith(("http://", "https://")):
            raise node.error("base-url", f"base-url '{url}' must start with http:// or https://")
    proxy = node.str("proxy-url") or None
    if proxy is not None:
        problem = check_proxy_url(proxy)
        if problem:
            raise node.error("proxy-url", problem)
    return CommonFields(
        api_key=key,
        base_url=url,
        prefix=_prefix(node),
        proxy_url=proxy,
        headers=node.str_map("headers"),
        models=_models(node),
        excluded_models=node.str_list("excluded-models"),
        priority=node.int("priority", 0),
        weight=node.int("weight", 1, minimum=1),
    )


def dedupe(credentials: Iterable[Credential]) -> list[Credential]:
    """Drop repeated credentials (same id), keeping the first."""
    seen: set[str] = set()
    out = []
    for cred in credentials:
        if cred.id not in seen:
            seen.add(cred.id)
            out.append(cred)
    return out
