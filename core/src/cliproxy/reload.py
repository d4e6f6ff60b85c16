"""Reloading a running gateway's config without a restart.

:func:`reload_gateway` (``cliproxy.reload_app(app)`` from an embedding app) reads the config
again with the same loader as start-up and builds a new :class:`~cliproxy.snapshot.Snapshot`
-- credentials, routing table, selector -- beside the serving one, reusing what lives for
the process (state store, HTTP sessions, providers and translators: plugins are not
imported again); then it swaps it in with one assignment, so each request runs on the old
setup or the new one, never a mix. A config that does not load is reported and the old
one keeps serving.

A bad edit must not empty the gateway: a reload that would remove every credential (the
config changed and defines none) or empty ``api-keys`` is refused (:class:`ReloadRefused`)
unless asked for with ``force`` (``POST /v0/config/reload`` with ``{"force": true}``,
``reload_app(app, force=True)``). Credentials a reload removes are logged by name at
WARNING; a forced reload that leaves the gateway open to anyone says so as loudly as
start-up does.

Triggers: ``SIGHUP`` to ``cliproxy serve`` (every worker), ``POST /v0/config/reload``,
``reload_app(app)`` from an embedding app, and -- with ``watch-config`` (on by default)
-- :func:`watch_files`, which polls the config file and ``auth-dir``'s token files, and
applies a change once it has held still for a whole poll interval (an empty or broken file
is reported, never applied).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from cliproxy.config import Config, ConfigError, load_config
from cliproxy.credentials import Credential
from cliproxy.gateway import Gateway
from cliproxy.management_client import server_url
from cliproxy.snapshot import Snapshot
from cliproxy.tokens import TokenManager

__all__ = [
    "RESTART_KEYS",
    "ReloadRefused",
    "ReloadResult",
    "check_reload",
    "handle_reload_signal",
    "reload_gateway",
    "watch_files",
]

log = logging.getLogger("cliproxy.reload")

RESTART_KEYS = {
    "host": "host",
    "port": "port",
    "state": "state",
    "upstream_timeouts": "upstream-timeouts",
    "responses_store": "responses-store",
    "metrics": "metrics",
    "tracing": "tracing",
    "logging": "logging",
}
"""Config attributes a running gateway cannot change (bound socket, open state store and
HTTP session, routes and metrics built at start-up), with their config keys. Every other key --
api-keys, provider blocks, auth-dir, routing, retries, proxy-url, max-body-size-mb,
remote-management, request-log, usage, pricing -- applies on reload."""

_SHOWN = 10  # names listed per kind in the summary line
_NAMED = 100  # credentials named in one warning about removed credentials


def _force_hint(config: Config) -> str:
    url = server_url(config) + "/v0/config/reload"
    return (
        'if that is what you want, apply it on purpose: POST /v0/config/reload with the body {"force": true} '
        f"(curl -X POST -H 'Content-Type: application/json' -d '{{\"force\": true}}' {url}), "
        "or gateway.reload(force=True) from code; otherwise fix the file (an editor or a copy cut short "
        "leaves a file like this)"
    )


@attrs.define(auto_exc=True, eq=False, kw_only=True)
class ReloadRefused(ConfigError):
    """A reload that would leave the gateway serving nothing, or open to anyone, and was
    not forced. Handled like any :class:`ConfigError`: logged, shown by ``/v0/status``,
    a 422 from the endpoint, and the running config keeps serving."""


@attrs.frozen
class ReloadResult:
    """What a reload changed. Credentials are named by their masked labels."""

    file: str
    credentials_added: tuple[str, ...] = ()
    credentials_removed: tuple[str, ...] = ()
    credentials_changed: tuple[str, ...] = ()
    credentials_disabled: tuple[str, ...] = ()
    credentials_enabled: tuple[str, ...] = ()
    models_added: tuple[str, ...] = ()
    models_removed: tuple[str, ...] = ()
    settings_changed: tuple[str, ...] = ()
    needs_restart: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return any(
            (
                self.credentials_added,
                self.credentials_removed,
                self.credentials_changed,
                self.credentials_disabled,
                self.credentials_enabled,
                self.models_added,
                self.models_removed,
                self.settings_changed,
            )
        )

    def as_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, **attrs.asdict(self)}

    def summary(self) -> str:
        def part(what: str, names: tuple[str, ...]) -> str:
            if not names:
                return f"0 {what}"
            shown = ", ".join(names[:_SHOWN]) + (f", +{len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
            return f"{len(names)} {what} ({shown})"

        text = (
            f"config reloaded from {self.file}: credentials {part('added', self.credentials_added)}, "
            f"{part('removed', self.credentials_removed)}, {part('changed', self.credentials_changed)}"
            + "".join(
                f", {part(what, names)}"
                for what, names in (("disabled", self.credentials_disabled), ("enabled", self.credentials_enabled))
                if names
            )
            + "; "
            f"models {part('added', self.models_added)}, {part('removed', self.models_removed)}"
        )
        if self.settings_changed:
            text += f"; settings changed: {', '.join(self.settings_changed)}"
        if self.needs_restart:
            text += f"; needs a restart, kept as before: {', '.join(self.needs_restart)}"
        return text


# -- the reload -----------------------------------------------------------------------------


async def reload_gateway(
    gateway: Gateway, source: Config | str | Path | Mapping[str, Any] | None = None, *, force: bool = False
) -> ReloadResult:
    """Load the config again and apply it to the running ``gateway``.

    ``source`` defaults to the file the running config came from; a gateway built from a
    mapping re-reads only its ``auth-dir`` unless given a new config. Reloads run one at a
    time. ``force`` applies a config that removes every credential or empties
    ``api-keys``, which is refused otherwise.

    Raises:
        ConfigError: The new config is invalid, or (:class:`ReloadRefused`) would empty
            the gateway without ``force``; the old one keeps serving, and the error is
            logged and shown by ``/v0/status``.
    """
    status = gateway.reload_status
    async with status.lock:
        old = gateway.config
        if source is None:
            source = old if old.file.startswith("<") else old.file
        try:
            staged, tokens, kept = _stage(gateway, load_config(source))
            if not force:
                _refuse_emptying(gateway, staged)
        except Exception as error:
            message = str(error) if isinstance(error, ConfigError) else f"{type(error).__name__}: {error}"
            status.failed(message, gateway.clock())
            if isinstance(error, ReloadRefused):
                log.error("config reload refused, still serving the previous config: %s", error)
            elif isinstance(error, ConfigError):
                log.error("config reload failed, still serving the previous config: %s", error)
            else:
                log.exception("config reload failed, still serving the previous config")
            raise
        models_before = {m.id for m in gateway.router.models()}
        before = {c.id: c for c in gateway.credentials}
        after = {c.id: c for c in staged.credentials}
        was_disabled = {c.id for c in gateway.snapshot.disabled}
        now_disabled = {c.id for c in staged.disabled}
        # -- the swap: no await from here to the end of the block ---------------------------
        gateway.swap(staged, tokens)
        status.file = staged.config.file
        status.loaded_at = gateway.clock()
        status.reloads += 1
        status.last_error = status.last_error_at = None
        # -----------------------------------------------------------------------------------
        added = [c for key, c in after.items() if key not in before]
        removed = [c for key, c in before.items() if key not in after]
        changed = [c for key, c in after.items() if key in before and before[key] is not c]
        await _restart_providers(gateway, {c.provider for c in (*added, *removed, *changed)})
        enabled = [c for c in added if c.id in was_disabled]  # (disable-credentials: loaded, not served)
        disabled = [c for c in removed if c.id in now_disabled]
        added = [c for c in added if c.id not in was_disabled]
        removed = [c for c in removed if c.id not in now_disabled]
        fresh = [c for c in (*added, *changed) if not c.models]
        if fresh:
            await gateway.discover_models(fresh)
        models_after = {m.id for m in gateway.router.models()}
    result = ReloadResult(
        file=staged.config.file,
        credentials_added=tuple(c.label for c in added),
        credentials_removed=tuple(c.label for c in removed),
        credentials_disabled=tuple(c.label for c in disabled),
        credentials_enabled=tuple(c.label for c in enabled),
        credentials_changed=tuple(c.label for c in changed),
        models_added=tuple(sorted(models_after - models_before)),
        models_removed=tuple(sorted(models_before - models_after)),
        settings_changed=_settings_changed(old, staged.config),
        needs_restart=kept,
    )
    log.info("%s", result.summary())  # also when nothing changed: whoever sent SIGHUP sees it was read
    _warn_about_losses(old, staged.config, removed, staged.credentials, disabled)
    return result


def _refuse_emptying(gateway: Gateway, staged: Snapshot) -> None:
    """Raise :class:`ReloadRefused` when ``staged`` would serve nothing while the running
    gateway serves something (and the config, not just ``auth-dir``, changed), or would
    empty ``api-keys``."""
    old, new = gateway.config, staged.config
    problems = []
    if gateway.credentials and not staged.credentials and not _same_config(old, new):
        count = len(gateway.credentials)
        what = "it disables every credential" if staged.disabled else "it defines no credentials"
        problems.append(
            f"{what}, so all {count} serving now would be removed "
            f"({_names(gateway.credentials, _SHOWN)}) and every model request would fail"
        )
    emptied = bool(old.api_keys) and not new.api_keys
    if emptied:
        problems.append(
            f"its 'api-keys' is empty, so the gateway would accept requests from anyone who can reach it "
            f"(it checks {len(old.api_keys)} client key(s) now)"
        )
    if not problems:
        return
    message = "refusing to apply the new config: " + "; and ".join(problems)
    line = column = None
    if emptied and len(problems) == 1 and "api-keys" in new.root:
        where = new.root.error("api-keys", message)
        line, column = where.line, where.column
    raise ReloadRefused(message=message, file=new.file, line=line, column=column, hint=_force_hint(old))


def _same_config(old: Config, new: Config) -> bool:
    """Whether ``new`` reads as ``old`` did (then only ``auth-dir``'s token files moved:
    removing them all is what logging out of every account looks like)."""
    return old == new and old.root.same_content(new.root)


def _names(credentials: Iterable[Credential], limit: int) -> str:
    named = [f"{c.label} [{c.provider}]" for c in credentials]
    shown = ", ".join(named[:limit])
    return shown + (f", +{len(named) - limit} more" if len(named) > limit else "")


def _warn_about_losses(
    old: Config, new: Config, removed: list[Credential], left: list[Credential], disabled: list[Credential]
) -> None:
    """After a reload: name each credential it removed (or disabled), and say it loudly
    when it left the gateway with no credential or open to anyone (what a forced reload
    can do)."""
    if removed:
        log.warning(
            "config reload removed %d credential(s), which serve no more requests: %s",
            len(removed),
            _names(removed, _NAMED),
        )
    if disabled:
        log.info("config reload disabled %d credential(s): %s", len(disabled), _names(disabled, _NAMED))
    if (removed or disabled) and not left:
        log.warning("the gateway has no credentials after this reload: every model request fails until one is added")
    if old.api_keys and not new.api_keys:
        log.warning(
            "no api-keys configured after this reload: the gateway accepts requests from anyone who can reach it"
        )


def check_reload(gateway: Gateway, config: Config, *, force: bool = False) -> Snapshot:
    """What :func:`reload_gateway` would serve for ``config`` -- every owning plugin has
    read its blocks, ``auth-dir`` is loaded -- without serving it, logging it or touching
    the reload status: the check of an edit before it is written (the management API).

    Raises:
        ConfigError: As :func:`reload_gateway` would (:class:`ReloadRefused` unless ``force``).
    """
    staged, _, _ = _stage(gateway, config, quiet=True)
    if not force:
        _refuse_emptying(gateway, staged)
    return staged


def _stage(gateway: Gateway, config: Config, *, quiet: bool = False) -> tuple[Snapshot, TokenManager, tuple[str, ...]]:
    """Build the snapshot the new config needs beside the serving one, touching nothing
    it serves from (the plugins record tokens in a token manager of its own, taken over on
    the swap); raises :class:`ConfigError` as start-up would."""
    old = gateway.config
    kept = tuple(key for attr, key in RESTART_KEYS.items() if getattr(old, attr) != getattr(config, attr))
    for key in () if quiet else kept:
        log.warning(
            "config reload: '%s' changed, which needs a restart of cliproxy serve; keeping the old value",
            key,
        )
    if kept:
        config = attrs.evolve(
            config,
            **{attr: getattr(old, attr) for attr, key in RESTART_KEYS.items() if key in kept},
        )
    tokens = TokenManager(gateway.state, gateway.tokens.clock)
    tokens.default_proxy = config.proxy_url
    tokens.session_for = gateway.tokens.session_for
    host = gateway.host.staging(config, tokens)
    staged = Snapshot.load(config, gateway.registry, host, gateway.state, previous=gateway.snapshot)
    return staged, tokens, kept


def _settings_changed(old: Config, new: Config) -> tuple[str, ...]:
    """Core keys (not provider blocks) whose values changed; values are never shown."""
    skip = {"file", "root", "plugin_keys", *RESTART_KEYS}
    return tuple(
        f.name.replace("_", "-")
        for f in attrs.fields(Config)
        if f.name not in skip and getattr(old, f.name) != getattr(new, f.name)
    )


async def _restart_providers(gateway: Gateway, names: set[str]) -> None:
    for name in sorted(names):
        provider = gateway.providers.get(name)
        if provider is None:
            continue
        try:
            await provider.reload(gateway.host)
        except Exception:
            log.exception(
                "provider %s failed to restart after the reload; its new credentials may lack models",
                name,
            )


# -- triggers -------------------------------------------------------------------------------


async def reload_quietly(gateway: Gateway, trigger: str) -> None:
    """Reload for a signal or the file watcher: failures are logged, never raised."""
    log.debug("reloading the config (%s)", trigger)
    with contextlib.suppress(Exception):  # reload_gateway logged it and kept the old config
        await reload_gateway(gateway)


def handle_reload_signal(gateway: Gateway) -> contextlib.AbstractContextManager[None]:
    """While inside, ``SIGHUP`` reloads ``gateway`` (the event loop must run in the main
    thread; elsewhere this does nothing)."""
    tasks: set[asyncio.Task[None]] = set()

    def on_signal() -> None:
        task = asyncio.get_running_loop().create_task(reload_quietly(gateway, "SIGHUP"))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    @contextlib.contextmanager
    def installed() -> Any:
        sighup = getattr(signal, "SIGHUP", None)  # None on Windows
        loop = asyncio.get_running_loop()
        try:
            if sighup is not None:
                loop.add_signal_handler(sighup, on_signal)
        except (NotImplementedError, RuntimeError, ValueError):  # no signals in this loop or thread
            sighup = None
        if sighup is None:
            log.debug("SIGHUP reload is not available here; use POST /v0/config/reload")
            yield
            return
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sighup)

    return installed()


def _config_file(config: Config) -> Path | None:
    return None if config.file.startswith("<") else Path(config.file)


class _Snapshot:
    """What the watcher compares: the config file's content hash (read again only when
    its mtime or size moves) and the names, mtimes and sizes of ``auth-dir``'s token files."""

    def __init__(self) -> None:
        self._stat: tuple[str, int, int] | None = None
        self._digest: str | None = None

    def take(self, config: Config) -> tuple[object, ...]:
        return (self._config(config), _token_files(Path(config.auth_dir).expanduser()))

    def _config(self, config: Config) -> str | None:
        path = _config_file(config)
        if path is None:
            return None
        try:
            st = path.stat()
        except OSError:
            return None  # an editor replacing the file; the next poll sees it
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key != self._stat:
            try:
                self._digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                return None
            self._stat = key
        return self._digest


def _token_files(directory: Path) -> tuple[tuple[str, int, int], ...]:
    try:
        paths = [p for p in directory.glob("*.json") if not p.name.startswith(".")]
        found = []
        for path in paths:
            with contextlib.suppress(OSError):
                st = path.stat()
                found.append((path.name, st.st_mtime_ns, st.st_size))
        return tuple(sorted(found))
    except OSError:
        return ()


def watch_files(
    gateway: Gateway, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
) -> Coroutine[Any, Any, None]:
    """Poll the config file and ``auth-dir`` every ``watch-interval`` seconds while
    ``watch-config`` is on, and reload once a change has held still for one interval: the
    same content on two polls in a row, so an editor's several writes make one reload
    and a file caught half-written is not read as the new config. What is there now is
    the baseline; the returned coroutine runs until cancelled. A config that does not
    load (an empty file among them) is reported once per content, and the running one
    stays."""
    snapshot = _Snapshot()
    return _watch(gateway, snapshot, snapshot.take(gateway.config), sleep)


async def _watch(
    gateway: Gateway,
    snapshot: _Snapshot,
    seen: tuple[object, ...],
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    pending: tuple[object, ...] | None = None
    while True:
        await sleep(gateway.config.watch_interval)
        if not gateway.config.watch_config:
            pending = None
            continue
        try:
            now = snapshot.take(gateway.config)
            if now == seen:
                pending = None
            elif now != pending:
                pending = now  # changed: wait one interval for it to settle
            else:
                seen, pending = now, None
                await reload_quietly(gateway, "file change")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("watching the config file failed; will try again")
