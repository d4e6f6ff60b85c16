"""Building gateway apps for tests, and reaching a running app's plugin host."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cliproxy.host import Host

__all__ = ["gateway_app", "host_of"]


def gateway_app(
    config: Mapping[str, Any],
    *,
    plugins: Iterable[object] = (),
    entry_points: bool = False,
    **options: Any,
) -> Any:
    """A gateway app for ``config`` (a mapping, as YAML would give), loading only the
    given ``plugins`` unless ``entry_points`` is set, and with an empty ``auth-dir`` so a
    developer's own token files never leak into tests."""
    from cliproxy.app import create_app  # Starlette and the server stack: only when an app is built

    config = dict(config)
    config.setdefault("auth-dir", "/nonexistent/cliproxy-test-auth")
    return create_app(config, plugins=plugins, load_entrypoints=entry_points, **options)


def host_of(app: Any) -> Host:
    """The :class:`~cliproxy.Host` the plugins of an app made by :func:`gateway_app` (or
    ``create_app``) are handed: its state store, credentials, tokens, clock, translators."""
    from cliproxy.app import gateway_of

    return gateway_of(app).host
