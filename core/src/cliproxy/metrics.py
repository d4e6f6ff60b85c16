"""Prometheus metrics (``metrics: {enabled: true}``; ``pip install 'cliproxy[metrics]'``).

One :class:`Metrics` per gateway, with a registry of its own (never prometheus_client's
global one: several gateways can live in one process). The pipeline reports each failed
upstream attempt (:meth:`Metrics.failed`) and each settled answer (:meth:`Metrics.settled`);
every generate door reports each request it served (:meth:`Metrics.finished`, from the
door's :class:`~cliproxy.exchange.Exchange`: the status its client got, its timing). Cooldowns and credential states are read from the state store
when scraped. Labels stay low-cardinality: provider, masked credential label, upstream
model (capped, see :data:`MAX_MODELS`), client (the caller's identity name, capped, see
:data:`MAX_CLIENTS`), door (the client's wire format), status code.

Recording caches each labelled child per label tuple, so a request costs a few dict
lookups and counter increments; with metrics off the gateway holds None and every call
site is one ``is None`` check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from cliproxy.client import ClientIdentity
from cliproxy.config import Config, ConfigError
from cliproxy.credentials import Credential
from cliproxy.errors import GatewayError
from cliproxy.exchange import Exchange
from cliproxy.ir import Usage
from cliproxy.quota import Quota
from cliproxy.routing import Candidate
from cliproxy.state import StateStore
from cliproxy.state.base import WHOLE
from cliproxy.translate import Door

if TYPE_CHECKING:
    from prometheus_client import Histogram


__all__ = ["MAX_CLIENTS", "MAX_MODELS", "Metrics", "create_metrics"]

log = logging.getLogger("cliproxy.metrics")

MAX_MODELS = 200
"""Distinct ``model`` label values kept; later ones are counted as ``other`` (a pool that
serves any model name would otherwise let clients create series at will)."""

MAX_CLIENTS = 100
"""Distinct ``client`` label values kept; later ones are counted as ``other``. The core's
clients come from ``api-keys`` (``key-1``...), but an ``authenticate_client`` plugin may
name callers at will (one per user)."""

NONE = "none"
"""The provider and model of a request no upstream answered; the client of a request
refused before its caller was known (a bad API key)."""

OTHER = "other"
"""The label of models and clients past the cap."""

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
FIRST_BYTE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60)
TOKEN_KINDS = ("input", "output", "cache_read", "reasoning")
STATES = ("ok", "cooling", "unhealthy")


def create_metrics(config: Config) -> Metrics:
    """The recorder for ``config.metrics``.

    Raises:
        ConfigError: prometheus-client is not installed.
    """
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise ConfigError(
            message="'metrics' is enabled, but the prometheus-client package is not installed",
            file=config.file,
            key="metrics",
            hint="pip install 'cliproxy[metrics]', or set 'metrics: {enabled: false}'",
        ) from None
    return Metrics(path=config.metrics.path, public=config.metrics.public)


class Metrics:
    """A gateway's metrics: its own registry, the instruments, and caches of children."""

    def __init__(self, *, path: str = "/metrics", public: bool = False) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.path = path
        self.public = public
        self.registry = CollectorRegistry()
        reg = self.registry
        self.requests = Counter(
            "cliproxy_requests",
            "Client requests by what the client got (after failover).",
            ("door", "client", "provider", "model", "status"),
            registry=reg,
        )
        self.attempts = Counter(
            "cliproxy_upstream_attempts",
            "Upstream attempts, failed ones included (those that led to failover too).",
            ("provider", "credential", "model", "status"),
            registry=reg,
        )
        self.tokens = Counter(
            "cliproxy_tokens",
            "Tokens of successful answers, as the upstream reported them.",
            ("client", "provider", "model", "kind"),
            registry=reg,
        )
        self.cost_usd = Counter(
            "cliproxy_cost_usd",
            "Estimated cost of answered requests in USD (list prices, or the upstream's reported cost); "
            "requests of models without a price are not in it.",
            ("client", "provider", "model"),
            registry=reg,
        )
        self.duration = Histogram(
            "cliproxy_request_duration_seconds",
            "Seconds from a client request's arrival to its last byte.",
            ("door", "provider"),
            buckets=DURATION_BUCKETS,
            registry=reg,
        )
        self.first_byte = Histogram(
            "cliproxy_stream_first_byte_seconds",
            "Seconds from a streamed request's arrival to its first body bytes.",
            ("door", "provider"),
            buckets=FIRST_BYTE_BUCKETS,
            registry=reg,
        )
        self.in_flight = Gauge("cliproxy_requests_in_flight", "Client requests being served.", ("door",), registry=reg)
        self.state = _StateCollector(self.model_label)
        reg.register(self.state)
        self._attempts: dict[tuple[str, str, int], Any] = {}
        self._tokens: dict[tuple[str, str, str], tuple[Any, ...]] = {}
        self._costs: dict[tuple[str, str, str], Any] = {}
        self._models: dict[str, str] = {}
        self._clients: dict[str, str] = {}
        self._requests: dict[tuple[str, str, str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], tuple[Histogram, Histogram]] = {}
        self._gauges: dict[str, Any] = {}

    # -- labels ----------------------------------------------------------------------------

    def model_label(self, model: str) -> str:
        """``model``, or ``other`` once :data:`MAX_MODELS` distinct names were seen."""
        label = self._models.get(model)
        if label is None:
            label = model if len(self._models) < MAX_MODELS else OTHER
            self._models[model] = label
        return label

    def client_label(self, name: str) -> str:
        """``name``, or ``other`` once :data:`MAX_CLIENTS` distinct names were seen (names
        past the cap are not remembered: a plugin naming callers at will cannot grow this)."""
        label = self._clients.get(name)
        if label is None:
            if len(self._clients) >= MAX_CLIENTS:
                return OTHER
            label = self._clients[name] = name
        return label

    # -- recording (called by the doors and the pipeline) ----------------------------------

    def attempt(self, cand: Candidate, status: int) -> None:
        """Count one upstream attempt of ``cand`` that ended with ``status``."""
        key = (cand.credential.id, cand.upstream_model, status)
        child = self._attempts.get(key)
        if child is None:
            cred = cand.credential
            labels = (cred.provider, cred.label, self.model_label(cand.upstream_model), str(status))
            child = self._attempts[key] = self.attempts.labels(*labels)
        child.inc()

    def failed(self, cand: Candidate, error: GatewayError) -> None:
        """An upstream attempt failed (before or after the answer started)."""
        self.attempt(cand, error.status)

    def settled(
        self, cand: Candidate, identity: ClientIdentity | None, sent: tuple[Usage, GatewayError | None] | None
    ) -> None:
        """An answer is over: count a successful attempt and its tokens (a failed one is
        counted by :meth:`failed`)."""
        if sent is None:
            return  # the client left, or the answer failed before it started
        usage, error = sent
        if error is not None:
            return
        self.attempt(cand, 200)
        self._count_tokens(cand, NONE if identity is None else self.client_label(identity.name), usage)

    def _count_tokens(self, cand: Candidate, client: str, usage: Usage) -> None:
        key = (client, cand.credential.provider, cand.upstream_model)
        children = self._tokens.get(key)
        if children is None:
            model = self.model_label(cand.upstream_model)
            children = tuple(self.tokens.labels(client, key[1], model, kind) for kind in TOKEN_KINDS)
            self._tokens[key] = children
        for child, count in zip(
            children,
            (
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_tokens,
                usage.reasoning_tokens,
            ),
            strict=True,
        ):
            if count:
                child.inc(count)

    def cost(self, client: str, provider: str, model: str, nanos: int) -> None:
        """Add an answer's estimated cost (nano-dollars) for ``client``."""
        key = (self.client_label(client), provider, self.model_label(model))
        child = self._costs.get(key)
        if child is None:
            child = self._costs[key] = self.cost_usd.labels(*key)
        child.inc(nanos / 1e9)

    # -- requests (called by the doors) ----------------------------------------------------

    def started(self, exchange: Exchange, door: Door) -> None:
        """A door began serving a request."""
        if door.action == "generate":
            self._in_flight(exchange.door).inc()

    def finished(self, exchange: Exchange, door: Door) -> None:
        """A door is done with a request: count it and time it (model calls only)."""
        if door.action != "generate":
            return
        end = time.perf_counter()
        label = exchange.door
        self._in_flight(label).dec()
        client = NONE if exchange.client == "-" else self.client_label(exchange.client)
        provider = NONE if exchange.provider == "-" else exchange.provider
        model = NONE if exchange.upstream_model == "-" else self.model_label(exchange.upstream_model)
        status = exchange.final_status
        key = (label, client, provider, model, status)
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self.requests.labels(label, client, provider, model, str(status))
        child.inc()
        timers = self._timers.get((label, provider))
        if timers is None:
            timers = (self.duration.labels(label, provider), self.first_byte.labels(label, provider))
            self._timers[label, provider] = timers
        timers[0].observe(end - exchange.start)
        if exchange.first_byte is not None:
            timers[1].observe(exchange.first_byte - exchange.start)

    def _in_flight(self, door: str) -> Any:
        gauge = self._gauges.get(door)
        if gauge is None:
            gauge = self._gauges[door] = self.in_flight.labels(door)
        return gauge

    def render(self) -> bytes:
        from prometheus_client import generate_latest  # (the optional dependency, imported on use)

        return generate_latest(self.registry)

    @property
    def content_type(self) -> str:
        from prometheus_client import CONTENT_TYPE_LATEST

        return str(CONTENT_TYPE_LATEST)


class _StateCollector:
    """Credential states and running cooldowns, as read from the state store by the
    last :meth:`refresh` (the endpoint refreshes right before rendering)."""

    def __init__(self, model_label: Callable[[str], str]) -> None:
        self._model = model_label
        self._credentials: list[tuple[str, str, str]] = []  # provider, label, state
        self._cooldowns: list[tuple[str, str, str, float]] = []  # provider, label, model, seconds
        self._quotas: list[tuple[str, str, str, float | None, float | None]] = []  # ..., window, percent, reset in

    async def refresh(
        self, state: StateStore, served: Iterable[Credential], now: float, quotas: Mapping[str, Quota] | None = None
    ) -> None:
        served = list(served)
        self._quotas = [
            (
                cred.provider,
                cred.label,
                window.name,
                window.percent,
                None if window.resets_at is None else max(0.0, window.resets_at - now),
            )
            for cred in served
            for window in (quotas or {}).get(cred.id, Quota()).windows
        ]
        try:
            cooldowns = await state.cooldowns()
        except Exception as exc:  # a scrape must still show the counters
            log.warning("metrics: could not read cooldowns from the state store: %s", exc)
            cooldowns = None
        credentials: list[tuple[str, str, str]] = []
        resting: list[tuple[str, str, str, float]] = []
        for cred in served:
            rests = {} if cooldowns is None else cooldowns.get(cred.id, {})
            if cooldowns is None:
                health = "unknown"
            else:
                health = "unhealthy" if WHOLE in rests else "cooling" if rests else "ok"
            credentials.append((cred.provider, cred.label, health))
            for model, cooldown in rests.items():
                label = model if model == WHOLE else self._model(model)
                resting.append((cred.provider, cred.label, label, cooldown.remaining(now)))
        self._credentials, self._cooldowns = credentials, resting

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        states = GaugeMetricFamily(
            "cliproxy_credentials",
            "Credentials by state: ok, cooling (some models rest), unhealthy (the whole "
            "credential rests), unknown (the state store could not be read).",
            labels=("provider", "state"),
        )
        counts: dict[tuple[str, str], int] = {}
        for provider, _, state in self._credentials:  # every state of a provider, 0 or not
            for known in STATES:
                counts.setdefault((provider, known), 0)
            counts[provider, state] = counts.get((provider, state), 0) + 1
        for (provider, state), count in sorted(counts.items()):
            states.add_metric((provider, state), count)
        yield states
        resting = GaugeMetricFamily(
            "cliproxy_cooldown_remaining_seconds",
            "Seconds left of each running cooldown; model '*' rests the whole credential.",
            labels=("provider", "credential", "model"),
        )
        for provider, label, model, seconds in self._cooldowns:
            resting.add_metric((provider, label, model), seconds)
        yield resting
        used = GaugeMetricFamily(
            "cliproxy_quota_used_percent",
            "Share of each metered window of an account used (0-100), as its provider last read it.",
            labels=("provider", "credential", "window"),
        )
        resets = GaugeMetricFamily(
            "cliproxy_quota_resets_in_seconds",
            "Seconds until each metered window of an account starts afresh.",
            labels=("provider", "credential", "window"),
        )
        for provider, label, window, percent, reset in self._quotas:
            if percent is not None:
                used.add_metric((provider, label, window), percent)
            if reset is not None:
                resets.add_metric((provider, label, window), reset)
        yield used
        yield resets
