"""The plugin manager of one gateway instance, behind typed methods.

Entry points in the ``cliproxy`` group are loaded one at a time: a plugin that fails to
import or to register is logged with its name and skipped, unless ``strict`` is set.
``CLIPROXY_PLUGINS=a,b`` loads only the named entry points (empty: none);
``CLIPROXY_DISABLE_PLUGINS=a`` blocks them by name. Built-in plugins (the core's wire
formats and api-key authentication) always load.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any, TypeVar

import attrs
import pluggy

from cliproxy import hookspecs

__all__ = ["ENTRY_POINT_GROUP", "PluginError", "PluginInfo", "Plugins"]

log = logging.getLogger("cliproxy.plugins")

ENTRY_POINT_GROUP = "cliproxy"
BUILTIN_PLUGINS = ("cliproxy.builtins",)

T = TypeVar("T")


class PluginError(Exception):
    """A plugin failed to load or register (raised only in strict mode)."""


@attrs.define
class PluginInfo:
    """What ``cliproxy plugins`` shows for one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = attrs.Factory(list)
    status: str = "loaded"  # loaded | failed | blocked | skipped
    error: str | None = None
    builtin: bool = False


def _env_names(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


class Plugins:
    """Loads plugins into a fresh pluggy manager and calls their hooks safely."""

    def __init__(self, *, strict: bool = False) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.strict = strict
        self.infos: dict[str, PluginInfo] = {}

    @classmethod
    def load(
        cls,
        *,
        entry_points: bool = True,
        extra: Iterable[object] = (),
        strict: bool = False,
        only: set[str] | None = None,
        disabled: set[str] | None = None,
    ) -> Plugins:
        """Build a manager with the built-ins, the installed entry points and ``extra``.

        ``only``/``disabled`` default to ``CLIPROXY_PLUGINS``/``CLIPROXY_DISABLE_PLUGINS``.
        """
        plugins = cls(strict=strict)
        for module in BUILTIN_PLUGINS:
            plugins._register(importlib.import_module(module), module, builtin=True)
        if entry_points:
            plugins.load_entry_points(
                only=_env_names("CLIPROXY_PLUGINS") if only is None else only,
                disabled=_env_names("CLIPROXY_DISABLE_PLUGINS") if disabled is None else disabled,
            )
        for plugin in extra:
            name = getattr(plugin, "__name__", None) or type(plugin).__name__
            plugins.register(plugin, name)
        return plugins

    def load_entry_points(self, *, only: set[str] | None, disabled: set[str] | None) -> None:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            info = self._info_for(ep)
            if only is not None and ep.name not in only:
                info.status = "skipped"
                continue
            if disabled and ep.name in disabled:
                info.status = "blocked"
                self.pm.set_blocked(ep.name)
                continue
            try:
                module = ep.load()
            except Exception as exc:
                self._fail(info, f"import failed: {type(exc).__name__}: {exc}", exc)
                continue
            self._register(module, ep.name, info=info)

    def register(self, plugin: object, name: str) -> None:
        """Register a plugin object or module directly (tests, embedding apps)."""
        self._register(plugin, name)

    def _info_for(self, ep: EntryPoint) -> PluginInfo:
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=ep.name,
            distribution=getattr(dist, "name", None),
            version=getattr(dist, "version", None),
        )
        self.infos[ep.name] = info
        return info

    def _register(self, plugin: object, name: str, *, builtin: bool = False, info: PluginInfo | None = None) -> None:
        if info is None:
            info = self.infos[name] = PluginInfo(name=name, builtin=builtin)
            if isinstance(plugin, ModuleType) and not builtin:
                info.distribution = getattr(plugin, "__package__", None)
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validation errors, duplicate names
            self._fail(info, f"registration failed: {exc}", exc)
            return
        info.hooks = sorted(impl_name for impl_name in self._hook_names(plugin))
        info.status = "loaded"

    def _hook_names(self, plugin: object) -> Iterable[str]:
        for hook_caller in self.pm.get_hookcallers(plugin) or ():
            yield hook_caller.name

    def _fail(self, info: PluginInfo, message: str, exc: BaseException) -> None:
        info.status = "failed"
        info.error = message
        if self.strict:
            raise PluginError(f"plugin {info.name!r}: {message}") from exc
        log.error("plugin %r skipped: %s", info.name, message)

    # -- start-up hooks ------------------------------------------------------------------

    def _collect(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call one registration hook plugin by plugin, isolating failures.

        Returns ``(plugin_name, registered_object)`` pairs in registration order.
        """
        collected: list[tuple[str, Any]] = []
        hook = getattr(self.pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):
            registered: list[Any] = []
            args = {name: kwargs[name] for name in impl.argnames if name in kwargs}
            if "register" in impl.argnames:
                args["register"] = registered.append
            try:
                impl.function(**args)
            except Exception as exc:
                info = self.infos.get(impl.plugin_name) or PluginInfo(name=impl.plugin_name)
                self._fail(info, f"{hook_name} raised {type(exc).__name__}: {exc}", exc)
                continue
            collected.extend((impl.plugin_name, obj) for obj in registered)
        return collected

    def translators(self) -> list[tuple[str, Any]]:
        return self._collect("register_translators")

    def providers(self) -> list[tuple[str, Any]]:
        return self._collect("register_providers")

    def auth_types(self) -> list[tuple[str, Any]]:
        return self._collect("register_auth_types")

    def commands(self) -> list[tuple[str, Any]]:
        return self._collect("register_commands")

    def login_flows(self) -> list[tuple[str, Any]]:
        return self._collect("register_login_flows")

    def init_choices(self) -> list[tuple[str, Any]]:
        return self._collect("register_init_choices")

    # -- per-request hooks ---------------------------------------------------------------

    def implementations(self, hook_name: str) -> list[Callable[..., Any]]:
        """Implementations of a per-request hook, bound to the spec's argument names, in
        call order -- resolved once so requests skip pluggy's dispatch."""
        hook = getattr(self.pm.hook, hook_name)
        spec = tuple(hook.spec.argnames) if hook.spec is not None else None
        bound: list[Callable[..., Any]] = []
        for impl in reversed(hook.get_hookimpls()):
            bound.append(_bind(impl.function, tuple(impl.argnames), spec))
        return bound


def _bind(
    function: Callable[..., Any], argnames: tuple[str, ...], spec: tuple[str, ...] | None = None
) -> Callable[..., Any]:
    """``function`` called with only the keyword arguments it names; ``function`` itself
    when it names all the spec's arguments."""
    if spec is not None and sorted(argnames) == sorted(spec):
        return function

    def call(**kwargs: Any) -> Any:
        return function(**{name: kwargs[name] for name in argnames})

    call.__name__ = getattr(function, "__name__", "hook")
    return call


async def await_me_maybe(value: T | Awaitable[T]) -> T:
    """Await ``value`` if it is awaitable (hook implementations may be sync or async)."""
    if inspect.isawaitable(value):
        return await value
    return value
