"""The app factory each worker process calls when ``cliproxy serve --workers N``."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from cliproxy.app import create_app
from cliproxy.gctune import tune_for_serving


def app() -> Starlette:
    built = create_app(
        os.environ.get("CLIPROXY_CONFIG", "config.yaml"),
        strict_plugins=os.environ.get("CLIPROXY_STRICT_PLUGINS") == "1",
    )
    tune_for_serving()
    return built
