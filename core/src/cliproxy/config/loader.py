"""Load ``config.yaml`` into :class:`Config`, with errors that point at the line."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from cliproxy.config.client_keys import read_client_keys
from cliproxy.config.env_file import load_env_file
from cliproxy.config.errors import ConfigError
from cliproxy.config.model import (
    CORE_KEYS,
    SERVERS,
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
    TlsConfig,
    TracingConfig,
    UpstreamLimits,
    UsageConfig,
)
from cliproxy.config.nodes import ConfigNode
from cliproxy.config.payload import read_payload_rules
from cliproxy.keyhash import KeyHash, is_key_hash
from cliproxy.pricing import Price, PriceTable
from cliproxy.proxies import check_proxy_url

__all__ = ["load_config", "load_config_text", "parse_config"]


def load_config(source: str | Path | Mapping[str, Any] | Config) -> Config:
    """Load a config from a file path, a mapping, or return a :class:`Config` unchanged."""
    if isinstance(source, Config):
        return source
    if isinstance(source, Mapping):
        return parse_config(source, file="<dict>")
    path = Path(source).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            message=f"config file not found: {path}",
            file=str(path),
            hint="pass --config PATH, or copy examples/config.yaml to start from",
        ) from None
    except IsADirectoryError:
        raise ConfigError(message=f"{path} is a directory, not a config file", file=str(path)) from None
    return parse_config(_parse_yaml(text, str(path)), file=str(path))


def load_config_text(text: str, file: str) -> Config:
    """Load a config from YAML ``text`` as if read from ``file`` (errors name ``file``
    and the line in ``text``): what the management API checks an edit with."""
    return parse_config(_parse_yaml(text, file), file=file)


def _parse_yaml(text: str, file: str) -> Mapping[str, Any]:
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(
            message=f"invalid YAML: {problem}",
            file=file,
            line=None if mark is None else mark.line + 1,
            column=None if mark is None else mark.column + 1,
            hint="check indentation and quoting around this line",
        ) from None
    if data is None:
        raise ConfigError(
            message="the config file is empty (nothing but blank lines or comments)",
            file=file,
            line=1,
            column=1,
            hint="a gateway needs its settings here: restore the file if it was cut short or overwritten, "
            "or start from examples/config.yaml ('{}' is an explicitly empty config)",
        )
    if not isinstance(data, Mapping):
        raise ConfigError(message="the config file must be a mapping of keys to values", file=file, line=1, column=1)
    return data


def parse_config(data: Mapping[str, Any], *, file: str = "<config>") -> Config:
    """Read the core keys of a parsed config mapping; plugin blocks are left for later."""
    root = ConfigNode(data, file)
    load_env_file(root)  # before any ${NAME} is expanded
    routing = root.node("routing")
    state = root.node("state")
    quota = root.node("quota-exceeded")
    remote = root.node("remote-management")
    timeouts = root.node("upstream-timeouts")

    proxy_url = root.str("proxy-url") or None
    if proxy_url is not None:
        problem = check_proxy_url(proxy_url)
        if problem:
            raise root.error("proxy-url", problem)
    client_keys = read_client_keys(root)
    config = Config(
        file=file,
        host=root.str("host", "127.0.0.1") or "127.0.0.1",
        port=root.int("port", 8317, minimum=0),
        api_keys=tuple(k.key for k in client_keys),
        client_keys=client_keys,
        auth_dir=root.str("auth-dir", "~/.cliproxy/auth"),
        proxy_url=proxy_url,
        request_retry=root.int("request-retry", 3, minimum=0),
        max_retry_interval=root.float("max-retry-interval", 30.0, minimum=0),
        force_model_prefix=root.bool("force-model-prefix", False),
        max_body_size_mb=root.float("max-body-size-mb", 32.0, minimum=0.001),
        max_header_size_kb=root.float("max-header-size-kb", 32.0, minimum=1.0),
        body_read_timeout=_seconds(
            root,
            "body-read-timeout",
            30.0,
            hint="seconds a client has to send its whole request body, e.g. 'body-read-timeout: 30'",
        ),
        allowed_hosts=_allowed_hosts(root),
        debug=root.bool("debug", False),
        routing=_routing(routing),
        state=_state(state),
        quota_exceeded=_quota(quota),
        remote_management=_remote(remote),
        upstream_timeouts=_timeouts(timeouts),
        upstream_limits=_upstream_limits(root.node("upstream-limits")),
        responses_store=_responses_store(root),
        metrics=_metrics(root),
        tracing=_tracing(root),
        watch_config=root.bool("watch-config", True),
        watch_interval=_seconds(
            root,
            "watch-interval",
            1.0,
            hint="seconds between checks of the config file and auth-dir, e.g. 'watch-interval: 1'",
        ),
        access_log=root.bool("access-log", True),
        request_logs=_request_logs(root),
        usage=_usage(root),
        pricing=_pricing(root),
        logging=_logging(root),
        payload=read_payload_rules(root),
        thinking_suffixes=_thinking_suffixes(root),
        disabled_credentials=tuple(dict.fromkeys(i for i in root.str_list("disabled-credentials") if i)),
        disable_cooling=root.bool("disable-cooling", False),
        fallback_models=_fallback_models(root),
        stream_keepalive=_stream_keepalive(root),
        nonstream_keepalive=_optional_seconds(
            root,
            "nonstream-keepalive-interval",
            hint="seconds between the blank lines a waiting JSON answer gets, e.g. 'nonstream-keepalive-interval: 15'"
            " (0 or absent: off)",
        ),
        server=root.str("server", choices=SERVERS),
        tls=_tls(root),
        root=root,
        plugin_keys=tuple(str(k) for k in data if k not in CORE_KEYS),
    )
    return config


_FALLBACK_HINT = "e.g. 'fallback-models: {sonnet: [gpt-5, gemini-2.5-pro]}' (a model, then the models to try next)"


def _fallback_models(root: ConfigNode) -> dict[str, tuple[str, ...]]:
    """``fallback-models``: model name -> the models to try, in order, when it cannot answer."""
    raw = root.raw("fallback-models")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise root.error(
            "fallback-models", "'fallback-models' must be a mapping of models to lists", hint=_FALLBACK_HINT
        )
    node = ConfigNode(raw, root.file, "fallback-models")
    chains: dict[str, tuple[str, ...]] = {}
    for model in node.keys():
        chain = node.str_list(model)
        if not model.strip() or not chain or not all(m.strip() for m in chain):
            raise node.error(
                model, f"'fallback-models.{model}' needs a model name and its fallbacks", hint=_FALLBACK_HINT
            )
        if model in chain:
            raise node.error(
                model, f"'fallback-models.{model}' lists '{model}' as its own fallback", hint=_FALLBACK_HINT
            )
        chains[model] = tuple(dict.fromkeys(chain))
    return chains


_SUFFIX_LEVELS = ("none", "auto", "minimal", "low", "medium", "high", "xhigh", "max")


def _thinking_suffixes(root: ConfigNode) -> tuple[str, ...]:
    """``thinking-suffixes``: the ``model(<suffix>)`` names listed beside each model that
    can reason (levels or token budgets); the suffixes work whether listed or not."""
    suffixes = root.str_list("thinking-suffixes")
    for i, suffix in enumerate(suffixes):
        if suffix not in _SUFFIX_LEVELS and not suffix.lstrip("-").isdigit():
            raise root.error(
                "thinking-suffixes",
                f"'{suffix}' (item {i + 1}) is neither a level nor a token budget",
                hint="levels: " + ", ".join(_SUFFIX_LEVELS) + "; or a number such as 8192",
            )
    return suffixes


def _stream_keepalive(root: ConfigNode) -> float | None:
    """``streaming: {keepalive-seconds: N}``: None (off) when absent or 0."""
    node = _switchable_block(
        root, "streaming", "'keepalive-seconds'", "write 'streaming: {keepalive-seconds: 15}' to turn keepalives on"
    )
    if node is None:
        return None
    seconds = _optional_seconds(
        node,
        "keepalive-seconds",
        hint="seconds of upstream silence before a stream gets a keepalive, e.g. 'keepalive-seconds: 15' (0: off)",
    )
    node.done()
    return seconds


def _optional_seconds(node: ConfigNode, key: str, *, hint: str) -> float | None:
    """A positive, finite number of seconds, or None when ``key`` is absent or 0 (off)."""
    try:
        value: float | None = node.float(key, None)
    except ConfigError as exc:
        exc.hint = exc.hint or hint
        raise
    if value is None or value == 0:
        return None
    if not 0 < value < math.inf:  # also rejects nan
        raise node.error(key, f"'{node.qualified(key)}' must be a positive number of seconds, not {value:g}", hint=hint)
    return value


def _allowed_hosts(root: ConfigNode) -> tuple[str, ...]:
    """``allowed-hosts``: host names (lower-case, no scheme, port or path) by which
    ``/v0`` and ``/metrics`` may be reached beside loopback and IP addresses."""
    names = root.str_list("allowed-hosts")
    raw = root.raw("allowed-hosts")
    for i, name in enumerate(names):
        if name and not any(c in name for c in "/:@ ?#[]"):
            continue
        message = f"'allowed-hosts' names '{name}', which is not a host name"
        hint = (
            "write the bare name clients use to reach the gateway, without scheme or port, e.g. 'gateway.internal' "
            "(loopback names and IP addresses need no entry)"
        )
        if isinstance(raw, list):
            raise ConfigNode(raw, root.file, "allowed-hosts").error(i, message, hint=hint)
        raise root.error("allowed-hosts", message, hint=hint)
    return tuple(name.lower().rstrip(".") for name in names)


def _routing(node: ConfigNode | None) -> RoutingConfig:
    if node is None:
        return RoutingConfig()
    strategy = node.str("strategy", "round-robin", choices=("round-robin", "fill-first"))
    try:
        affinity = node.bool("session-affinity", None)
    except ConfigError as exc:
        exc.hint = exc.hint or "write 'session-affinity: true' to keep client sessions on one credential"
        raise
    ttl = _seconds(
        node,
        "session-ttl",
        3600.0,
        hint="seconds a session keeps its credential after its last request, e.g. 'session-ttl: 3600'",
    )
    if affinity is None and node.raw("session-ttl") is not None:
        raise node.error(
            "session-ttl",
            "'routing.session-ttl' is set, but session affinity is off",
            hint="add 'session-affinity: true' under 'routing:' (or remove 'session-ttl')",
        )
    node.done()
    return RoutingConfig(strategy=strategy, session_affinity=bool(affinity), session_ttl=ttl)


def _state(node: ConfigNode | None) -> StateConfig:
    if node is None:
        return StateConfig()
    backend = node.str("backend", "memory", choices=("memory", "redis"))
    url = node.str("url")
    prefix = node.str("key-prefix", "cliproxy:")
    timeout = _seconds(node, "timeout", 0.5, hint="seconds per Redis call, e.g. 'timeout: 0.5'")
    retry = _seconds(
        node,
        "retry-interval",
        5.0,
        hint="seconds between checks while Redis is down, e.g. 'retry-interval: 5'",
    )
    node.done()
    if backend == "redis" and not url:
        raise node.error(None, "state backend 'redis' needs a url", hint="add 'url: redis://127.0.0.1:6379/0'")
    return StateConfig(backend=backend, url=url, key_prefix=prefix, timeout=timeout, retry_interval=retry)


def _seconds(node: ConfigNode, key: str, default: float, *, hint: str) -> float:
    """A positive, finite number of seconds; errors name ``key`` and carry ``hint``."""
    try:
        value: float = node.float(key, default)
    except ConfigError as exc:
        exc.hint = exc.hint or hint
        raise
    if not 0 < value < math.inf:  # also rejects nan
        raise node.error(
            key,
            f"'{node.qualified(key)}' must be a positive number of seconds, not {value:g}",
            hint=hint,
        )
    return value


def _quota(node: ConfigNode | None) -> QuotaExceeded:
    if node is None:
        return QuotaExceeded()
    result = QuotaExceeded(
        switch_project=node.bool("switch-project", False),
        switch_preview_model=node.bool("switch-preview-model", False),
    )
    node.done()
    return result


def _remote(node: ConfigNode | None) -> RemoteManagement:
    if node is None:
        return RemoteManagement()
    secret = node.str("secret-key") or None
    if secret is not None and is_key_hash(secret):
        try:
            KeyHash.parse(secret)
        except ValueError as exc:
            raise node.error(
                "secret-key",
                f"'remote-management.secret-key' looks like a key hash but is not one: {exc}",
                hint="paste the whole line 'cliproxy hash-key' printed, or write the key itself",
            ) from None
    result = RemoteManagement(secret_key=secret, allow_remote=node.bool("allow-remote", False))
    node.done()
    return result


def _timeouts(node: ConfigNode | None) -> Timeouts:
    if node is None:
        return Timeouts()
    result = Timeouts(connect=node.float("connect", 15.0, minimum=0.1), read=node.float("read", 600.0, minimum=0.1))
    node.done()
    return result


def _upstream_limits(node: ConfigNode | None) -> UpstreamLimits:
    if node is None:
        return UpstreamLimits()
    error_kb = node.int("error-body-kb", 1024, minimum=1)
    response_mb = node.float("response-body-mb", 64.0, minimum=0.001)
    if not math.isfinite(response_mb):
        raise node.error(
            "response-body-mb",
            f"'{node.qualified('response-body-mb')}' must be a number of megabytes, not {response_mb}",
            hint="the largest whole upstream answer to read, e.g. 'response-body-mb: 64'",
        )
    node.done()
    return UpstreamLimits(error_body_kb=error_kb, response_body_mb=response_mb)


def _switchable_block(root: ConfigNode, key: str, fields: str, hint: str) -> ConfigNode | None:
    """The ``key:`` block, which takes ``enabled`` among its fields; a bare true/false
    (the natural first guess) gets an error that shows the mapping to write."""
    if isinstance(root.raw(key), bool):
        raise root.error(key, f"'{key}' is a mapping with {fields}, not true or false", hint=hint)
    return root.node(key)


def _responses_store(root: ConfigNode) -> ResponsesStoreConfig:
    node = _switchable_block(
        root,
        "responses-store",
        "'enabled', 'ttl', 'max-record-mb' and 'max-total-mb'",
        "write 'responses-store: {enabled: false}' to turn it off",
    )
    if node is None:
        return ResponsesStoreConfig()
    enabled = node.bool("enabled", True)
    ttl = node.float("ttl", 3600.0, minimum=1)
    record = _megabytes(node, "max-record-mb", 4.0, hint="the largest answer to keep, e.g. 'max-record-mb: 4'")
    total = _megabytes(node, "max-total-mb", 256.0, hint="all kept answers together, e.g. 'max-total-mb: 256'")
    node.done()
    if record > total:
        raise node.error(
            "max-record-mb",
            f"'responses-store.max-record-mb' ({record:g}) is larger than 'responses-store.max-total-mb' "
            f"({total:g}), which holds every kept answer together",
            hint=f"raise 'max-total-mb' to at least {record:g}, or lower 'max-record-mb'",
        )
    return ResponsesStoreConfig(enabled=enabled, ttl=ttl, max_record_mb=record, max_total_mb=total)


def _megabytes(node: ConfigNode, key: str, default: float, *, hint: str) -> float:
    """A positive, finite number of megabytes; errors name ``key`` and carry ``hint``."""
    try:
        value: float = node.float(key, default)
    except ConfigError as exc:
        exc.hint = exc.hint or hint
        raise
    if not 0 < value < math.inf:  # also rejects nan
        raise node.error(
            key, f"'{node.qualified(key)}' must be a positive number of megabytes, not {value:g}", hint=hint
        )
    return value


_TAKEN_PATHS = ("/v0/", "/v1/", "/v1beta/")


def _metrics(root: ConfigNode) -> MetricsConfig:
    node = _switchable_block(
        root, "metrics", "'enabled', 'path' and 'public'", "write 'metrics: {enabled: true}' to turn it on"
    )
    if node is None:
        return MetricsConfig()
    enabled = node.bool("enabled", False)
    path = node.str("path", "/metrics")
    public = node.bool("public", False)
    node.done()
    hint = "use a path of its own, e.g. 'path: /metrics'"
    if not path.startswith("/") or any(c in path for c in " ?#{}"):
        raise node.error("path", f"'metrics.path' must be a URL path starting with '/', not '{path}'", hint=hint)
    if path in ("/", "/healthz") or path.startswith(_TAKEN_PATHS):
        raise node.error("path", f"'metrics.path' '{path}' is taken by the gateway's own endpoints", hint=hint)
    return MetricsConfig(enabled=enabled, path=path, public=public)


def _tracing(root: ConfigNode) -> TracingConfig:
    node = _switchable_block(
        root,
        "tracing",
        "'enabled', 'service-name' and 'propagate-upstream'",
        "write 'tracing: {enabled: true}' to turn it on",
    )
    if node is None:
        return TracingConfig()
    enabled = node.bool("enabled", False)
    name = node.str("service-name", "cliproxy")
    propagate = node.str("propagate-upstream", "local", choices=("local", "all", "none"))
    node.done()
    return TracingConfig(enabled=enabled, service_name=name, propagate_upstream=propagate)


# -- operations: request logs, usage, pricing, the log file ---------------------------------

_NO_FILE = ("<dict>", "<config>")


def _beside_config(file: str, path: str) -> str:
    """``path`` made absolute: a relative one is taken from the config file's directory
    (from the working directory for a config that is not a file)."""
    expanded = Path(path).expanduser()
    if not expanded.is_absolute():
        base = Path.cwd() if file in _NO_FILE else Path(file).expanduser().resolve().parent
        expanded = base / expanded
    return str(expanded)


def _default_beside(file: str, name: str) -> str | None:
    """``name`` in the config file's directory; None for a config that is not a file."""
    return None if file in _NO_FILE else _beside_config(file, name)


def _request_logs(root: ConfigNode) -> RequestLogConfig:
    logs_dir = root.str("logs-dir")
    total = _megabytes(
        root,
        "logs-max-total-size-mb",
        100.0,
        hint="all kept request logs together, e.g. 'logs-max-total-size-mb: 100'; the oldest go first",
    )
    return RequestLogConfig(
        enabled=root.bool("request-log", False),
        dir=_beside_config(root.file, logs_dir) if logs_dir else _default_beside(root.file, "logs"),
        max_total_mb=total,
        error_max_files=root.int("error-logs-max-files", 10, minimum=0),
    )


def _usage(root: ConfigNode) -> UsageConfig:
    node = root.node("usage")
    default_file = _default_beside(root.file, "usage.json")
    if node is None:
        return UsageConfig(snapshot_file=default_file)
    days = node.int("retention-days", 90, minimum=1)
    rows = node.int("max-rows-per-day", 10_000, minimum=1)
    raw_file = node.raw("snapshot-file")
    if raw_file is False:
        snapshot: str | None = None
    elif raw_file is None:
        snapshot = default_file
    else:
        text = node.str("snapshot-file")
        if not text:
            raise node.error(
                "snapshot-file",
                "'usage.snapshot-file' is empty",
                hint="name a file (default: usage.json beside the config), or write 'snapshot-file: false' "
                "to keep usage in memory only",
            )
        snapshot = _beside_config(root.file, text)
    interval = _seconds(
        node,
        "snapshot-interval",
        60.0,
        hint="seconds between writes of the usage snapshot, e.g. 'snapshot-interval: 60'",
    )
    write = node.float("write-interval", 1.0)
    if not 0 <= write <= 60:  # (also rejects nan)
        raise node.error(
            "write-interval",
            f"'{node.qualified('write-interval')}' must be between 0 and 60 seconds, not {write:g}",
            hint="seconds between writes of the counted usage to the state store, e.g. 'write-interval: 1' "
            "(0 writes each request as it is counted)",
        )
    node.done()
    return UsageConfig(
        retention_days=days,
        max_rows_per_day=rows,
        snapshot_file=snapshot,
        snapshot_interval=interval,
        write_interval=write,
    )


_PRICE_KEYS = (("input", True), ("output", True), ("cache-read", False), ("cache-write", False))
_PRICING_HINT = "give USD per million tokens, e.g. 'pricing: {\"my-model-*\": {input: 3, output: 15, cache-read: 0.3}}'"


def _pricing(root: ConfigNode) -> PriceTable:
    """``pricing:``: model glob -> USD per million tokens of input, output (required),
    cache-read and cache-write (optional: billed as input when absent)."""
    raw = root.raw("pricing")
    if raw is None:
        return PriceTable()
    if not isinstance(raw, Mapping):
        raise root.error("pricing", "'pricing' must be a mapping of model names (globs) to prices", hint=_PRICING_HINT)
    node = ConfigNode(raw, root.file, "pricing")
    overrides: list[tuple[str, Price]] = []
    for pattern in node.keys():
        if not pattern.strip():
            raise node.error(pattern, "a 'pricing' entry has an empty model name", hint=_PRICING_HINT)
        if not isinstance(node.raw(pattern), Mapping):
            raise node.error(
                pattern,
                f"'pricing.{pattern}' must be a mapping with 'input' and 'output' (USD per million tokens)",
                hint=_PRICING_HINT,
            )
        entry = node.node(pattern)
        assert entry is not None
        values: dict[str, float | None] = {}
        for key, required in _PRICE_KEYS:
            value = entry.float(key, required=required)
            if value is not None and not 0 <= value < math.inf:
                raise entry.error(
                    key,
                    f"'{entry.qualified(key)}' must be a price of 0 or more (USD per million tokens), not {value:g}",
                )
            values[key] = value
        entry.done()
        overrides.append(
            (
                pattern,
                Price(
                    input=values["input"] or 0.0,
                    output=values["output"] or 0.0,
                    cache_read=values["cache-read"],
                    cache_write=values["cache-write"],
                ),
            )
        )
    return PriceTable.of(overrides)


def _tls(root: ConfigNode) -> TlsConfig | None:
    """``tls: {cert, key}``: PEM files (relative to the config file's directory), both
    required, both readable now -- a typo fails at start-up, not at the first handshake."""
    node = root.node("tls")
    if node is None:
        return None
    paths = {}
    for key in ("cert", "key"):
        value = node.str(key, required=True)
        path = _beside_config(root.file, value)
        if not Path(path).is_file():
            raise node.error(
                key,
                f"'tls.{key}' is {value!r}, which is not a file ({path})",
                hint="give the PEM file's path, absolute or relative to the config file",
            )
        paths[key] = path
    node.done()
    return TlsConfig(cert=paths["cert"], key=paths["key"])


def _logging(root: ConfigNode) -> LoggingConfig:
    node = root.node("logging")
    if node is None:
        return LoggingConfig()
    file = node.str("file")
    size = _megabytes(
        node, "max-size-mb", 10.0, hint="the log file's size before it is rotated, e.g. 'max-size-mb: 10'"
    )
    backups = node.int("backups", 3, minimum=0)
    form = node.str("format", "text", choices=("text", "json"))
    level = node.str("level", None, choices=("debug", "info", "warning", "error"))
    node.done()
    return LoggingConfig(
        file=_beside_config(root.file, file) if file else None,
        max_size_mb=size,
        backups=backups,
        format=form,
        level=level,
    )
