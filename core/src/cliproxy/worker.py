"""The app factory each worker process calls when ``cliproxy serve --workers N``."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from cliproxy.app import create_app, gateway_of
from cliproxy.app_log import add_log_file
from cliproxy.gctune import tune_for_serving
from cliproxy.logs import setup_logging


def app() -> Starlette:
    setup_logging(os.environ.get("CLIPROXY_LOG_LEVEL", "info"))  # a spawned process starts bare
    built = create_app(
        os.environ.get("CLIPROXY_CONFIG", "config.yaml"),
        strict_plugins=os.environ.get("CLIPROXY_STRICT_PLUGINS") == "1",
        reload_on_sighup=True,
    )
    add_log_file(gateway_of(built).config.logging)
    tune_for_serving()
    return built
