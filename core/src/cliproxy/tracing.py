"""OpenTelemetry traces (``tracing: {enabled: true}``, ``pip install 'cliproxy[otel]'``).

Each client request is a server span (``POST /v1/chat/completions``...) with its request
id, door, model, client key name and status; each upstream attempt of it is a client span
under it (``upstream claude``...) with the provider, the credential's label (never its
secret), the upstream model, the upstream's status, the time to its response head
(``cliproxy.upstream.ttfb_ms``) and, for the attempt that answered, the tokens. A W3C
``traceparent`` (and ``tracestate``) from the client makes the request span its child; the
attempt's own ``traceparent`` goes upstream as ``propagate-upstream`` allows -- by
default only to loopback and private addresses (a local model server), never to a
vendor's API unless asked.

Spans go to the global tracer provider when one is set (``opentelemetry-instrument``, or
an app embedding the gateway); otherwise the gateway sets one up that exports over OTLP
as the standard ``OTEL_EXPORTER_OTLP_*`` variables say. Off, nothing here is imported and
a request pays one ``is None`` check per step.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from cliproxy.config import ConfigError, TracingConfig
from cliproxy.version import __version__

if TYPE_CHECKING:
    from cliproxy.ir import Usage
    from cliproxy.routing import Candidate

__all__ = ["RequestTrace", "Tracing", "create_tracing"]

log = logging.getLogger("cliproxy.tracing")


def create_tracing(config: TracingConfig, file: str = "<config>") -> Tracing | None:
    """The gateway's tracing, or None when ``tracing.enabled`` is off."""
    if not config.enabled:
        return None
    try:
        from opentelemetry import trace
    except ImportError:
        raise ConfigError(
            message="tracing.enabled needs OpenTelemetry, which is not installed",
            file=file,
            key="tracing",
            hint="pip install 'cliproxy[otel]', or set 'tracing: {enabled: false}'",
        ) from None
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider):  # nobody set one up: export over OTLP
        provider = _otlp_provider(config.service_name, file)
        trace.set_tracer_provider(provider)
    return Tracing(provider.get_tracer("cliproxy", __version__), config)


def _otlp_provider(service_name: str, file: str) -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ConfigError(
            message="tracing.enabled needs the OpenTelemetry SDK and OTLP exporter, which are not installed",
            file=file,
            key="tracing",
            hint="pip install 'cliproxy[otel]'",
        ) from None
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


class Served(Protocol):
    """What a trace reads of the request it follows (a :class:`cliproxy.exchange.Exchange`)."""

    @property
    def request_id(self) -> str: ...
    @property
    def door(self) -> str: ...
    @property
    def client(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def error(self) -> str | None: ...
    @property
    def final_status(self) -> int: ...


class Tracing:
    """Starts a :class:`RequestTrace` per client request."""

    def __init__(self, tracer: Any, config: TracingConfig) -> None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.tracer = tracer
        self.propagator = TraceContextTextMapPropagator()
        self.propagate = config.propagate_upstream

    def begin(self, method: str, path: str, headers: Mapping[str, str] | None, exchange: Served) -> RequestTrace:
        """The trace of the request ``exchange`` serves; ``headers`` may carry the
        client's ``traceparent``."""
        from opentelemetry.trace import SpanKind

        parent = self.propagator.extract(headers) if headers else None
        span = self.tracer.start_span(
            f"{method} {path}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": path,
                "cliproxy.request_id": exchange.request_id,
                "cliproxy.door": exchange.door,
            },
        )
        return RequestTrace(self, span)

    def may_propagate(self, url: str) -> bool:
        """Whether an upstream at ``url`` gets the ``traceparent`` (``propagate-upstream``)."""
        if self.propagate == "all":
            return True
        if self.propagate == "none":
            return False
        host = urlsplit(url).hostname or ""
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a name: a vendor's API, most likely
        return address.is_loopback or address.is_private or address.is_link_local


class RequestTrace:
    """The spans of one client request: its own, and its upstream attempts' (one open at
    a time, in order)."""

    __slots__ = ("attempt_span", "attempt_start", "span", "tracing")

    def __init__(self, tracing: Tracing, span: Any) -> None:
        self.tracing = tracing
        self.span = span
        self.attempt_span: Any = None
        self.attempt_start = 0.0

    def attempt(self, cand: Candidate, number: int) -> None:
        """An upstream attempt with ``cand`` starts (ending one still open: a retry)."""
        from opentelemetry.trace import SpanKind, set_span_in_context

        if self.attempt_span is not None:
            self._end_attempt(None)
        credential = cand.credential
        self.attempt_start = time.perf_counter()
        self.attempt_span = self.tracing.tracer.start_span(
            f"upstream {credential.provider}",
            context=set_span_in_context(self.span),
            kind=SpanKind.CLIENT,
            attributes={
                "cliproxy.provider": credential.provider,
                "cliproxy.credential": credential.label,
                "gen_ai.request.model": cand.upstream_model,
                "cliproxy.attempt": number,
            },
        )

    def inject(self, url: str, headers: MutableMapping[str, str]) -> None:
        """Add the attempt's ``traceparent`` to an upstream request, where allowed."""
        if self.attempt_span is not None and self.tracing.may_propagate(url):
            from opentelemetry.trace import set_span_in_context

            self.tracing.propagator.inject(headers, context=set_span_in_context(self.attempt_span))

    def answered(self, status: int) -> None:
        """The upstream's response head arrived, with ``status``."""
        span = self.attempt_span
        if span is not None:
            span.set_attribute("http.response.status_code", status)
            span.set_attribute("cliproxy.upstream.ttfb_ms", round((time.perf_counter() - self.attempt_start) * 1000, 2))

    def failed(self, status: int, message: str) -> None:
        """The current attempt failed with ``status`` (already redacted ``message``)."""
        span = self.attempt_span
        if span is not None:
            span.set_attribute("http.response.status_code", status)
            self._end_attempt(message)

    def settled(self, usage: Usage | None, error: str | None) -> None:
        """The answering attempt's answer is over, with ``usage``."""
        span = self.attempt_span
        if span is None:
            return
        if usage is not None:
            if usage.input_tokens is not None:
                span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
            if usage.output_tokens is not None:
                span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
        self._end_attempt(error)

    def finish(self, exchange: Served) -> None:
        """The client request is over: end its spans."""
        from opentelemetry.trace import Status, StatusCode

        if self.attempt_span is not None:
            self._end_attempt(exchange.error)
        span = self.span
        status = exchange.final_status
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("gen_ai.request.model", exchange.model)
        span.set_attribute("cliproxy.client", exchange.client)
        span.set_attribute("cliproxy.attempts", exchange.attempts)
        if status >= 500 or exchange.error is not None:
            span.set_status(Status(StatusCode.ERROR, (exchange.error or "")[:200]))
        span.end()

    def _end_attempt(self, error: str | None) -> None:
        from opentelemetry.trace import Status, StatusCode

        span, self.attempt_span = self.attempt_span, None
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error[:200]))
        span.end()
