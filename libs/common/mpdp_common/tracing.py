"""Traces: OpenTelemetry spans for a request through the gateway and its service, for each event
the relay sends, and for each event a consumer handles, so that one request's trace shows what
it caused in the other services. The envelope's `traceparent` carries the trace from the
request that wrote an event to the consumers that handle it, and what a handler publishes
continues it.

Spans are made and exported (OTLP over HTTP, in batches, from a thread of each process) only
when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the
exporter reads the other `OTEL_*` variables itself (headers, timeout, batch sizes). Without it
nothing is made, and the trace context is still passed on as it arrived.

    with tracing.span("consume catalog.launch.status_changed", "consumer", event.traceparent) as traceparent:
        ...  # what is published here has `traceparent`, a child of this span
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

_tracer: Tracer | None = None
_lock = threading.Lock()

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def configure(service: str, exporter: SpanExporter | None = None) -> bool:
    """Make this process trace, as `mpdp-<service>`, when an OTLP endpoint is set (or to
    `exporter`, as tests do); the first call of a process decides. Whether it traces."""
    global _tracer
    with _lock:
        if _tracer is not None:
            return True
        if exporter is None and not any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
            return False
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": f"mpdp-{service}"}))
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            # A forked web worker starts the batch's thread again (the SDK registers for forks).
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        _tracer = provider.get_tracer("mpdp")
        return True


def enabled() -> bool:
    return _tracer is not None


def reset() -> None:
    """Stop tracing in this process (for tests)."""
    global _tracer
    with _lock:
        _tracer = None


def _kind(kind: str) -> Any:
    from opentelemetry.trace import SpanKind

    return {"server": SpanKind.SERVER, "client": SpanKind.CLIENT, "producer": SpanKind.PRODUCER, "consumer": SpanKind.CONSUMER}.get(
        kind, SpanKind.INTERNAL
    )


def start(name: str, kind: str, parent: str | None, attributes: dict[str, Any] | None = None) -> tuple[Span | None, str | None]:
    """A span begun under the trace context `parent` (a W3C traceparent, or None for a new
    trace), and its own traceparent, for what it causes; (None, parent) while tracing is off."""
    if _tracer is None:
        return None, parent
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    context = TraceContextTextMapPropagator().extract({"traceparent": parent}) if parent else None
    begun = _tracer.start_span(name, context=context, kind=_kind(kind), attributes=attributes)
    return begun, traceparent_of(begun)


def finish(begun: Span | None, error: BaseException | None = None, **attributes: Any) -> None:
    if begun is None:
        return
    from opentelemetry.trace import Status, StatusCode

    for key, value in attributes.items():
        begun.set_attribute(key, value)
    if error is not None:
        begun.record_exception(error)
        begun.set_status(Status(StatusCode.ERROR, f"{error.__class__.__name__}: {error}"[:200]))
    begun.end()


@contextmanager
def span(name: str, kind: str, parent: str | None, **attributes: Any) -> Iterator[str | None]:
    """`start` … `finish` around a block; yields the span's traceparent (`parent` while off)."""
    begun, traceparent = start(name, kind, parent, attributes)
    try:
        yield traceparent
    except BaseException as error:
        finish(begun, error)
        raise
    finish(begun)


def traceparent_of(begun: Span) -> str:
    context = begun.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
