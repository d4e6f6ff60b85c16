"""Configuration: loading, the core model, and located access for plugin blocks."""

from cliproxy.config.errors import ConfigError, suggest
from cliproxy.config.loader import load_config, load_config_text, parse_config
from cliproxy.config.model import (
    CORE_KEYS,
    Config,
    LoggingConfig,
    MetricsConfig,
    QuotaExceeded,
    RemoteManagement,
    RequestLogConfig,
    ResponsesStoreConfig,
    RoutingConfig,
    StateConfig,
    Timeouts,
    TracingConfig,
    UpstreamLimits,
    UsageConfig,
)
from cliproxy.config.nodes import ConfigNode, expand_env

__all__ = [
    "CORE_KEYS",
    "Config",
    "ConfigError",
    "ConfigNode",
    "LoggingConfig",
    "MetricsConfig",
    "QuotaExceeded",
    "RemoteManagement",
    "RequestLogConfig",
    "ResponsesStoreConfig",
    "RoutingConfig",
    "StateConfig",
    "Timeouts",
    "TracingConfig",
    "UpstreamLimits",
    "UsageConfig",
    "expand_env",
    "load_config",
    "load_config_text",
    "parse_config",
    "suggest",
]
