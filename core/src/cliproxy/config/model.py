"""The core's own configuration, as frozen attrs classes.

Provider blocks (``openai-compatibility``, ``claude-api-key``, ...) are not modelled here:
the plugin that owns a block parses it (see :class:`cliproxy.Provider`). The core keeps
them in :attr:`Config.root` untouched until the plugins are loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

from cliproxy.config.nodes import ConfigNode
from cliproxy.config.payload import PayloadRules
from cliproxy.key_policy import ClientKey
from cliproxy.pricing import PriceTable

__all__ = [
    "CORE_KEYS",
    "Config",
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
]


@attrs.frozen
class RoutingConfig:
    """``routing:`` -- how a credential is chosen among equals.

    ``session_affinity`` keeps each client session (a session id the client sends) on the
    credential that last served it, for ``session_ttl`` seconds after its last request.
    """

    strategy: Literal["round-robin", "fill-first"] = "round-robin"
    session_affinity: bool = False
    session_ttl: float = 3600.0


@attrs.frozen
class StateConfig:
    """``state:`` -- where cooldowns, cursors and usage live (shared across instances).

    ``timeout`` is the seconds to wait for Redis on each call before treating it as down;
    ``retry_interval`` the seconds between checks whether it is back, while it is down.
    """

    backend: Literal["memory", "redis"] = "memory"
    url: str | None = None
    key_prefix: str = "cliproxy:"
    timeout: float = 0.5
    retry_interval: float = 5.0


@attrs.frozen
class QuotaExceeded:
    """``quota-exceeded:`` -- what to do when a quota runs out (Gemini CLI projects)."""

    switch_project: bool = False
    switch_preview_model: bool = False


@attrs.frozen
class RemoteManagement:
    """``remote-management:`` -- the management key and who may use it.

    ``secret_key`` is the key itself or its hash (``cliproxy hash-key``): it opens
    ``/v0/management`` (which is off without it) and ``/v0/status`` and friends from
    other hosts. ``allow_remote`` lets other hosts than this one reach
    ``/v0/management`` (with the key).
    """

    secret_key: str | None = attrs.field(default=None, repr=False)
    allow_remote: bool = False


@attrs.frozen
class ResponsesStoreConfig:
    """``responses-store:`` -- keeping answers of the Responses door so a later request
    can continue them with ``previous_response_id``, for ``ttl`` seconds, in the state
    store (shared through Redis). An answer whose record is larger than
    ``max_record_mb`` is not kept; past ``max_total_mb`` kept in all, the oldest go."""

    enabled: bool = True
    ttl: float = 3600.0
    max_record_mb: float = 4.0
    max_total_mb: float = 256.0

    @property
    def max_record_bytes(self) -> int:
        return int(self.max_record_mb * 1024 * 1024)

    @property
    def max_total_bytes(self) -> int:
        return int(self.max_total_mb * 1024 * 1024)


@attrs.frozen
class MetricsConfig:
    """``metrics:`` -- Prometheus metrics at ``path`` (off by default). ``public`` opens
    the path to anyone who can reach the gateway; otherwise it follows the ``/v0`` rule
    (loopback, or ``remote-management.secret-key``)."""

    enabled: bool = False
    path: str = "/metrics"
    public: bool = False


@attrs.frozen
class TracingConfig:
    """``tracing:`` -- OpenTelemetry spans (off by default; ``pip install 'cliproxy[otel]'``):
    one per client request, one per upstream attempt. ``propagate-upstream`` says which
    upstreams get the ``traceparent`` header: ``local`` (loopback and private addresses,
    the default), ``all`` or ``none``."""

    enabled: bool = False
    service_name: str = "cliproxy"
    propagate_upstream: str = "local"


@attrs.frozen
class Timeouts:
    """``upstream-timeouts:`` -- seconds to connect, and to wait between upstream bytes."""

    connect: float = 15.0
    read: float = 600.0


@attrs.frozen
class UpstreamLimits:
    """``upstream-limits:`` -- how much of an upstream answer the gateway reads: at most
    ``error_body_kb`` of an error answer (the rest is dropped), and ``response_body_mb`` of
    a whole (not streamed) answer after decompression (more is a 502)."""

    error_body_kb: int = 1024
    response_body_mb: float = 64.0

    @property
    def error_body_bytes(self) -> int:
        return self.error_body_kb * 1024

    @property
    def response_body_bytes(self) -> int:
        return int(self.response_body_mb * 1024 * 1024)


@attrs.frozen
class UsageConfig:
    """``usage:`` -- usage kept per client key, credential, model and UTC day (requests,
    failures, tokens, cost), for ``retention_days`` days, at most ``max_rows_per_day``
    distinct rows a day. Requests are added up in the process and written to the state
    store every ``write_interval`` seconds (0: each request as it is counted). With the
    memory state store it is merged into ``snapshot_file`` every ``snapshot_interval``
    seconds and at shutdown (None: not kept across restarts)."""

    retention_days: int = 90
    max_rows_per_day: int = 10_000
    snapshot_file: str | None = None
    snapshot_interval: float = 60.0
    write_interval: float = 1.0


@attrs.frozen
class RequestLogConfig:
    """``request-log``, ``logs-dir``, ``logs-max-total-size-mb``, ``error-logs-max-files``:
    keeping requests in files (every request when ``enabled``; else failed ones, at most
    ``error_max_files``), in ``dir`` (None: nowhere), all files together at most
    ``max_total_mb``."""

    enabled: bool = False
    dir: str | None = None
    max_total_mb: float = 100.0
    error_max_files: int = 10

    @property
    def max_total_bytes(self) -> int:
        return int(self.max_total_mb * 1024 * 1024)


@attrs.frozen
class LoggingConfig:
    """``logging:`` -- the gateway's own log also goes to ``file`` (rotated at
    ``max_size_mb``, ``backups`` old files kept) when set; it always goes to stderr.
    ``format`` is ``text`` or ``json`` (one object per line); ``level`` applies unless
    ``--log-level`` or ``CLIPROXY_LOG_LEVEL`` says otherwise."""

    file: str | None = None
    max_size_mb: float = 10.0
    backups: int = 3
    format: str = "text"
    level: str | None = None


SERVERS = ("hypercorn", "uvicorn", "granian")
"""The HTTP servers ``cliproxy serve`` runs on (``server:``, ``--server``)."""


@attrs.frozen
class TlsConfig:
    """``tls:`` -- serve HTTPS with this certificate chain and private key (PEM files)."""

    cert: str
    key: str


@attrs.frozen(kw_only=True)
class Config:
    """The whole configuration: core settings plus the raw file for plugin blocks.

    Attributes:
        file: Path of the config file ("<dict>" when built from a mapping).
        root: The top-level mapping, from which plugins read the blocks they own.
        plugin_keys: Top-level keys the core does not own, in file order.
    """

    file: str = "<config>"
    host: str = "127.0.0.1"
    port: int = 8317
    api_keys: tuple[str, ...] = attrs.field(default=(), repr=False)
    client_keys: tuple[ClientKey, ...] = attrs.field(default=(), repr=False)  # api-keys with names and policy
    auth_dir: str = "~/.cliproxy/auth"
    proxy_url: str | None = None
    request_retry: int = 3
    max_retry_interval: float = 30.0
    force_model_prefix: bool = False
    max_body_size_mb: float = 32.0
    max_header_size_kb: float = 32.0  # request headers, all together
    body_read_timeout: float = 30.0  # seconds to receive a whole request body, once authenticated
    allowed_hosts: tuple[str, ...] = ()  # Host names /v0 and /metrics answer to, beside loopback
    debug: bool = False
    routing: RoutingConfig = RoutingConfig()
    state: StateConfig = StateConfig()
    quota_exceeded: QuotaExceeded = QuotaExceeded()
    remote_management: RemoteManagement = RemoteManagement()
    upstream_timeouts: Timeouts = Timeouts()
    upstream_limits: UpstreamLimits = UpstreamLimits()
    responses_store: ResponsesStoreConfig = ResponsesStoreConfig()
    metrics: MetricsConfig = MetricsConfig()
    tracing: TracingConfig = TracingConfig()
    watch_config: bool = True  # reload when the config file or a token file changes
    watch_interval: float = 1.0  # seconds between those checks
    access_log: bool = True  # one INFO line per client request (logger cliproxy.access)
    request_logs: RequestLogConfig = RequestLogConfig()
    usage: UsageConfig = UsageConfig()
    pricing: PriceTable = attrs.field(factory=PriceTable)
    logging: LoggingConfig = LoggingConfig()
    payload: PayloadRules = PayloadRules()  # fields set or removed in upstream bodies, by model
    thinking_suffixes: tuple[str, ...] = ()  # model(<suffix>) names listed in /v1/models
    disabled_credentials: tuple[str, ...] = ()  # credential ids never selected (the management API's disable)
    disable_cooling: bool = False  # failures fail over but never rest a credential
    fallback_models: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)  # model -> models to try next
    stream_keepalive: float | None = None  # streaming.keepalive-seconds: a door keepalive after this much silence
    nonstream_keepalive: float | None = None  # nonstream-keepalive-interval: whitespace while a JSON answer waits
    # the HTTP server of `cliproxy serve`: hypercorn, uvicorn, granian (None: the fastest installed)
    server: str | None = None
    tls: TlsConfig | None = None  # serve HTTPS (cliproxy serve)
    root: ConfigNode = attrs.field(factory=lambda: ConfigNode({}), repr=False, eq=False)
    plugin_keys: tuple[str, ...] = ()

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_size_mb * 1024 * 1024)

    @property
    def max_header_bytes(self) -> int:
        return int(self.max_header_size_kb * 1024)


CORE_KEYS = (
    "host",
    "port",
    "api-keys",
    "auth-dir",
    "env-file",
    "proxy-url",
    "request-retry",
    "max-retry-interval",
    "force-model-prefix",
    "max-body-size-mb",
    "max-header-size-kb",
    "body-read-timeout",
    "allowed-hosts",
    "debug",
    "routing",
    "state",
    "quota-exceeded",
    "remote-management",
    "upstream-timeouts",
    "upstream-limits",
    "responses-store",
    "metrics",
    "tracing",
    "watch-config",
    "watch-interval",
    "access-log",
    "request-log",
    "logs-dir",
    "logs-max-total-size-mb",
    "error-logs-max-files",
    "usage",
    "pricing",
    "logging",
    "payload",
    "thinking-suffixes",
    "disabled-credentials",
    "disable-cooling",
    "fallback-models",
    "streaming",
    "nonstream-keepalive-interval",
    "server",
    "tls",
)
