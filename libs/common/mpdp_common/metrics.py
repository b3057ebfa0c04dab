"""The platform's Prometheus metrics, each family defined once, here.

Web processes answer them at `/metrics` (every worker's, summed, through the multiprocess
directory); the event process of a service (`mpdpctl jobs`, or its relay, consumer or worker
alone) answers its own at `http://<MPDP_HOST>:<its jobs port>/metrics`, beside its probes.
deploy/observability has a Grafana dashboard and alert rules made of them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("mpdp_http_requests_total", "HTTP requests answered", ["service", "method", "endpoint", "status"])
LATENCY = Histogram("mpdp_http_request_duration_seconds", "Time to answer a request", ["service", "endpoint"])

OUTBOX_UNSENT = Gauge(
    "mpdp_outbox_unsent_events",
    "Events committed to a service's outbox and not yet sent to the broker",
    ["service"],
    multiprocess_mode="max",
)
OUTBOX_OLDEST_UNSENT = Gauge(
    "mpdp_outbox_oldest_unsent_seconds",
    "Age of the oldest event in the outbox not yet sent (0 when none waits)",
    ["service"],
    multiprocess_mode="max",
)
RELAYED = Counter("mpdp_events_relayed_total", "Events the relay sent to the broker", ["service"])
HANDLED = Counter("mpdp_events_handled_total", "Events a consumer handled (their effect committed)", ["service", "type"])
EVENT_LAG = Histogram(
    "mpdp_event_lag_seconds",
    "From an event's commit at its producer to its handling by a consumer",
    ["service"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
BATCH_DURATION = Histogram("mpdp_event_batch_seconds", "Time a consumer took for one batch of events, one transaction", ["service"])
RETRIED = Counter("mpdp_events_retried_total", "Events whose handling failed and was sent to the retry queue", ["queue"])
DEAD_LETTERED = Counter("mpdp_events_dead_lettered_total", "Events parked in a dead-letter queue after their last attempt", ["queue"])
INGESTED = Counter("mpdp_ingest_events_total", "Analytics events sent to ingest, by outcome (accepted or rejected)", ["outcome"])
GUARD_VERDICTS = Counter("mpdp_release_guard_verdicts_total", "Release guard checks of a grayscale launch, by verdict", ["verdict"])
WEBHOOK_ATTEMPTS = Counter("mpdp_webhook_attempts_total", "Webhook delivery attempts, by outcome (delivered or failed)", ["outcome"])
