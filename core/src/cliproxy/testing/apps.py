"""Building gateway apps for tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["gateway_app"]


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
    from cliproxy.app import create_app

    config = dict(config)
    config.setdefault("auth-dir", "/nonexistent/cliproxy-test-auth")
    return create_app(config, plugins=plugins, load_entrypoints=entry_points, **options)
