"""The app factory each worker process calls when ``cliproxy serve --workers N``."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from cliproxy.app import create_app
from cliproxy.app_log import configure_logging
from cliproxy.config import load_config
from cliproxy.gctune import tune_for_serving
from cliproxy.logs import setup_logging


def app() -> Starlette:
    level = os.environ.get("CLIPROXY_LOG_LEVEL", "info")
    setup_logging(level)  # a spawned process starts bare
    config = load_config(os.environ.get("CLIPROXY_CONFIG", "config.yaml"))
    configure_logging(config.logging, level=level)
    built = create_app(
        config,
        strict_plugins=os.environ.get("CLIPROXY_STRICT_PLUGINS") == "1",
        reload_on_sighup=True,
    )
    tune_for_serving()
    return built
