"""The part of a running gateway that a config reload replaces, in one assignment.

A :class:`Snapshot` holds the config and what it routes to: the credentials, the routing
table and the selector. :meth:`Snapshot.load` builds one from a config -- checking that
every block belongs to an installed plugin, letting each provider read its blocks,
loading ``auth-dir`` -- beside the one that serves, touching nothing it serves from;
the gateway then swaps it in. Everything else lives as long as the process (the HTTP
sessions, the state store, the plugins and what they registered).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from cliproxy.affinity import Affinity
from cliproxy.auth_types import load_auth_dir
from cliproxy.config import CORE_KEYS, Config, ConfigError, suggest
from cliproxy.credentials import Credential, ModelEntry, dedupe
from cliproxy.host import Host
from cliproxy.registry import Registry
from cliproxy.routing import Router
from cliproxy.selection import Selector
from cliproxy.state import StateStore

__all__ = ["KNOWN_PLUGIN_BLOCKS", "Snapshot"]

log = logging.getLogger("cliproxy")

KNOWN_PLUGIN_BLOCKS = {
    "openai-compatibility": "cliproxy-openai",
    "openai-api-key": "cliproxy-openai",
    "mistral": "cliproxy-openai",
    "groq": "cliproxy-openai",
    "deepseek": "cliproxy-openai",
    "together": "cliproxy-openai",
    "fireworks": "cliproxy-openai",
    "novita": "cliproxy-openai",
    "siliconflow": "cliproxy-openai",
    "claude-api-key": "cliproxy-claude",
    "claude-oauth": "cliproxy-claude",
    "gemini-api-key": "cliproxy-gemini",
    "openrouter": "cliproxy-openrouter",
    "mlx": "cliproxy-mlx",
    "kiro": "cliproxy-kiro",
    "copilot": "cliproxy-copilot",
    "copilot-oauth": "cliproxy-copilot",
    "codex": "cliproxy-codex",
    "roo": "cliproxy-roo",
    "kilo": "cliproxy-kilo",
    "minimax": "cliproxy-minimax",
    "echo": "cliproxy-echo",
}
"""Config blocks of known plugin packages, to name the package when it is missing."""

_COMPARED = tuple(f.name for f in attrs.fields(Credential) if f.name not in ("discovered", "source"))


@attrs.frozen
class Snapshot:
    """The config and what it routes to (see the module doc). ``disabled`` holds the
    credentials ``disabled-credentials`` names: loaded, never routed to."""

    config: Config
    credentials: list[Credential]
    router: Router
    selector: Selector
    disabled: tuple[Credential, ...] = ()

    @classmethod
    def load(
        cls,
        config: Config,
        registry: Registry,
        host: Host,
        state: StateStore,
        *,
        previous: Snapshot | None = None,
    ) -> Snapshot:
        """Build the snapshot for ``config``; raises :class:`ConfigError` for a config it
        cannot serve. ``host`` is what the plugins reading it are handed; ``previous``, the
        snapshot serving now, lends what has not changed (credentials the config left as
        they were keep their discovered models and tokens, an unchanged selector keeps its
        cursors)."""
        _check_blocks(config, registry)
        credentials = _load_credentials(config, registry, host)
        if previous is not None:
            credentials = _carry_over([*previous.credentials, *previous.disabled], credentials)
        credentials, disabled = _split_disabled(config, credentials)
        selector = _selector(config, state, host, previous)
        router = _router(config, credentials, registry, previous.router if previous is not None else None)
        return cls(config, credentials, router, selector, disabled)

    def with_routes(self, registry: Registry) -> Snapshot:
        """This snapshot with its routing table rebuilt (after discovery changed which
        models the credentials serve)."""
        return attrs.evolve(self, router=_router(self.config, self.credentials, registry, self.router))


def _check_blocks(config: Config, registry: Registry) -> None:
    owned = registry.owned_keys()
    root = config.root
    for key in config.plugin_keys:
        if key in owned:
            continue
        package = KNOWN_PLUGIN_BLOCKS.get(key)
        if package is not None:
            raise root.error(
                key,
                f"'{key}' is configured, but no installed plugin provides it",
                hint=f"install it with 'pip install {package}', or remove the block",
            )
        close = suggest(key, [*CORE_KEYS, *owned, *KNOWN_PLUGIN_BLOCKS])
        raise root.error(
            key,
            f"unknown key '{key}'",
            hint=f"did you mean '{close}'?" if close else "see examples/config.yaml for the valid keys",
        )


def _load_credentials(config: Config, registry: Registry, host: Host) -> list[Credential]:
    creds: list[Credential] = []
    for key, provider in registry.owned_keys().items():
        if key not in config.plugin_keys:
            continue
        try:
            loaded = list(provider.load_config(key, config.root, host))
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(
                message=f"provider {provider.name!r} could not read '{key}': {type(exc).__name__}: {exc}",
                file=config.file,
                key=key,
            ) from exc
        for cred in loaded:
            if cred.provider not in registry.providers:
                raise ConfigError(
                    message=f"provider {provider.name!r} made a credential for unknown provider {cred.provider!r}",
                    file=config.file,
                    key=key,
                )
        creds.extend(loaded)
    if registry.auth_types:
        for cred in load_auth_dir(Path(config.auth_dir).expanduser(), registry.auth_types, host):
            if cred.provider in registry.providers:
                creds.append(cred)
            else:
                log.warning("token file %s needs provider %r, which is not installed", cred.source, cred.provider)
    return dedupe(creds)


def _split_disabled(config: Config, credentials: list[Credential]) -> tuple[list[Credential], tuple[Credential, ...]]:
    """The credentials to serve, and those ``disabled-credentials`` names."""
    wanted = set(config.disabled_credentials)
    if not wanted:
        return credentials, ()
    disabled = tuple(c for c in credentials if c.id in wanted)
    unknown = wanted - {c.id for c in disabled}
    if unknown:
        log.info(
            "disabled-credentials names %d credential(s) not loaded now (a removed key or token file): %s",
            len(unknown),
            ", ".join(sorted(unknown)[:10]),
        )
    return [c for c in credentials if c.id not in wanted], disabled


def _carry_over(running: Iterable[Credential], loaded: list[Credential]) -> list[Credential]:
    """``loaded``, with each credential the config did not change replaced by the running
    object (its discovered models, provider tasks and token entry go on); a changed one
    keeps the models discovered for it so far."""
    by_id = {c.id: c for c in running}
    result = []
    for cred in loaded:
        old = by_id.get(cred.id)
        if old is None:
            result.append(cred)
        elif all(getattr(old, name) == getattr(cred, name) for name in _COMPARED):
            result.append(old)
        else:
            cred.discovered = old.discovered
            result.append(cred)
    return result


def _selector(config: Config, state: StateStore, host: Host, previous: Snapshot | None) -> Selector:
    routing = config.routing
    cooling = not config.disable_cooling
    if previous is not None and routing == previous.config.routing and cooling == previous.selector.cooling:
        return previous.selector
    affinity = Affinity(state, routing.session_ttl) if routing.session_affinity else None
    return Selector(state, routing.strategy, host.clock, affinity, cooling=cooling)


def _router(config: Config, credentials: Sequence[Credential], registry: Registry, previous: Router | None) -> Router:
    providers = registry.providers

    def defaults(cred: Credential) -> Sequence[ModelEntry]:
        return providers[cred.provider].default_models(cred)

    logged = set(previous.ambiguities) if previous is not None else set()
    router = Router(credentials, force_model_prefix=config.force_model_prefix, default_models=defaults)
    router.log_ambiguities(skip=logged)  # each once: at start-up, or when discovery or a reload adds one
    return router


def describe(credentials: Sequence[Credential]) -> dict[str, Any]:
    """A summary for logs: how many credentials of which providers."""
    return {"credentials": len(credentials), "providers": sorted({c.provider for c in credentials})}
