"""Traces in one process, with the SDK's in-memory exporter: a request's server span is the child
of the caller's trace context and the parent of what the request publishes; the relay's span and
the consumer's are in the event's trace, and what a handler publishes is the consumer span's
child. Without an endpoint, nothing is traced. (Here, through the workspace service.)"""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mpdp_common import tracing
from mpdp_common.events.brokers import MemoryBroker, Subscription
from mpdp_common.events.relay import Relay
from mpdp_common.testing import Harness
from mpdp_workspace.service import service

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    tracing.reset()
    assert tracing.configure("workspace", exporter=exporter)
    yield exporter
    tracing.reset()


def parts(traceparent: str) -> tuple[str, str]:
    _version, trace_id, span_id, _flags = traceparent.split("-")
    return trace_id, span_id


def test_nothing_is_traced_without_an_endpoint(monkeypatch):
    tracing.reset()
    for name in tracing.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert tracing.configure("workspace") is False and not tracing.enabled()
    with tracing.span("anything", "internal", CALLER) as traceparent:
        assert traceparent == CALLER  # the context passes on as it came


def test_a_request_and_the_events_it_causes_are_one_trace(spans, tmp_path):
    harness = Harness(service, tmp_path)
    try:
        body = {"name": "Acme", "kind": "tenant"}
        created = harness.call("POST", "/api/v1/workspaces", "alice", json=body, headers={"traceparent": CALLER})
        assert created.status_code == 201
        [server] = [span for span in spans.get_finished_spans() if span.kind == SpanKind.SERVER]
        assert server.name == "POST /api/v1/workspaces" and server.attributes["http.response.status_code"] == 201
        assert f"{server.context.trace_id:032x}" == parts(CALLER)[0] and f"{server.parent.span_id:016x}" == parts(CALLER)[1]
        [envelope] = harness.published("workspace.workspace.created")
        assert parts(envelope["traceparent"]) == (parts(CALLER)[0], f"{server.context.span_id:016x}")

        # The relay sends it in that trace ...
        broker = MemoryBroker(max_attempts=1, retry_delay_ms=0)
        broker.declare(Subscription(queue="listener", bindings={"mpdp.workspace": ["workspace.workspace.created"]}))
        relay = Relay(harness.events, harness.engine, broker, exchange="mpdp.workspace", batch_size=10, poll_seconds=1)
        assert relay.relay_batch() == 1
        [sent] = [span for span in spans.get_finished_spans() if span.kind == SpanKind.PRODUCER]
        assert sent.name == "relay workspace.workspace.created" and sent.parent.span_id == server.context.span_id
        relayed, _attempt = broker._queues["listener"].get_nowait()
        assert parts(relayed.traceparent) == (parts(CALLER)[0], f"{sent.context.span_id:016x}")  # sent in the relay's span

        # ... and a consumer handles an event in its trace; what the handler publishes is its child.
        member = {"workspace_id": created.get_json()["id"], "account_id": "alice", "role": "admin", "status": "active", "revision": 1}
        harness.deliver("identity.member.added", member, member["workspace_id"], traceparent=relayed.traceparent)
        [consumed] = [span for span in spans.get_finished_spans() if span.kind == SpanKind.CONSUMER]
        assert consumed.name == "consume identity.member.added"
        assert consumed.context.trace_id == server.context.trace_id and consumed.parent.span_id == sent.context.span_id
        assert consumed.attributes["mpdp.consumer"] == "workspace"
    finally:
        harness.close()


def test_a_failing_handler_marks_its_span(spans):
    with pytest.raises(RuntimeError), tracing.span("consume x", "consumer", CALLER):
        raise RuntimeError("the handler failed")
    [failed] = spans.get_finished_spans()
    assert not failed.status.is_ok and failed.events[0].name == "exception"
