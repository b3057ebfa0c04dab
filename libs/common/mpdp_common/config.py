"""Configuration, from environment variables only.

Every setting has a default that works on a developer's machine; `Settings.for_service`
resolves the per-service values (database, port) so that a service never computes them itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import overload

SERVICE_PORTS = {
    "gateway": 8080,
    "identity": 8101,
    "workspace": 8102,
    "catalog": 8103,
    "approval": 8104,
    "telemetry": 8105,
}
#: Where a service answers what only operators may ask (its metrics, its readiness); the other
#: services are not public at all, so theirs share the main port.
INTERNAL_PORTS = {"gateway": 8090}
#: Where a service's event process (its relay, consumer and workers) answers its probes and metrics.
JOBS_PORTS = {"identity": 9101, "workspace": 9102, "catalog": 9103, "approval": 9104, "telemetry": 9105}
QUEUE_TYPES = ("classic", "quorum")
#: the audit log keeps every row at least this long, whatever MPDP_AUDIT_RETENTION_DAYS says
MIN_AUDIT_RETENTION_DAYS = 400


@overload
def _env(name: str) -> str | None: ...


@overload
def _env(name: str, default: str) -> str: ...


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"configuration error: {name}={raw!r} is not an integer") from None


def _at_least(minimum: int, name: str, default: int) -> int:
    value = _int(name, default)
    if value < minimum:
        raise SystemExit(f"configuration error: {name}={value} is below its least value, {minimum}")
    return value


def _float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"configuration error: {name}={raw!r} is not a number") from None


def _flag(name: str) -> bool:
    raw = (_env(name, "") or "").lower()
    if raw not in ("", "0", "1", "false", "true", "no", "yes"):
        raise SystemExit(f"configuration error: {name}={raw!r} is not 1/0, true/false or yes/no")
    return raw in ("1", "true", "yes")


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _env(name, default).lower()
    if value not in allowed:
        raise SystemExit(f"configuration error: {name}={value!r} is not one of {', '.join(allowed)}")
    return value


def _list(name: str, default: str = "") -> tuple[str, ...]:
    return tuple(item.strip() for item in (_env(name, default) or "").split(",") if item.strip())


def _seconds_list(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = _list(name)
    if not raw:
        return default
    try:
        values = tuple(int(item) for item in raw)
    except ValueError:
        raise SystemExit(f"configuration error: {name}={','.join(raw)!r} is not a list of whole seconds") from None
    if any(value < 0 for value in values):
        raise SystemExit(f"configuration error: {name} holds a negative wait")
    return values


@dataclass(frozen=True)
class Settings:
    service: str = ""
    #: "real" (PostgreSQL + RabbitMQ) or "embedded" (SQLite files + the in-process broker).
    mode: str = "real"
    database_server_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432"
    database_prefix: str = "mpdp"
    database_url: str = ""
    data_dir: str = "var"
    #: one URL, or the nodes of a cluster as URLs separated by commas (see `amqp_urls`)
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    #: "classic", or "quorum": the services' queues (and their retry and dead-letter queues)
    #: replicated over a cluster's nodes by Raft, surviving the loss of a minority of them
    queue_type: str = "classic"
    event_prefix: str = "mpdp"
    event_max_attempts: int = 5
    event_retry_delay_ms: int = 5000
    #: also the largest batch a consumer handles in one transaction; a deep window keeps the next
    #: batch waiting at the consumer while the current one commits
    event_prefetch: int = 1000
    outbox_batch_size: int = 500
    outbox_poll_seconds: float = 1.0
    host: str = "127.0.0.1"
    port: int = 0
    internal_port: int = 0
    #: where the event process (`mpdpctl jobs`, a relay, consumer or worker alone) answers
    #: /healthz, /readyz and /metrics (0: nowhere)
    jobs_port: int = 0
    ports: dict[str, int] = field(default_factory=lambda: dict(SERVICE_PORTS))
    service_urls: dict[str, str] = field(default_factory=dict)
    jwks_url: str = ""
    jwt_issuer: str = "mpdp-identity"
    jwt_audience: str = "mpdp"
    jwt_private_key_file: str = ""
    #: base64 of 32 random bytes; see mpdp_common.crypto
    secret_key: str = ""
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    max_body_bytes: int = 1024 * 1024
    gateway_max_body_bytes: int = 100 * 1024 * 1024
    upstream_connect_timeout: float = 2.0
    upstream_read_timeout: float = 30.0
    #: how long the gateway waits for a client's next bytes of a request (or its reading of the answer)
    gateway_client_timeout: float = 10.0
    rate_limit_per_client: str = "1200/minute"
    rate_limit_per_token: str = "600/minute"
    rate_limit_storage_uri: str = "memory://"
    cors_origins: tuple[str, ...] = ()
    log_level: str = "INFO"
    web_workers: int = 2
    web_threads: int = 8
    #: catalog: the largest package upload, and where packages are kept ("local" under data_dir, or "s3")
    max_package_bytes: int = 50 * 1024 * 1024
    blob_store: str = "local"
    s3_endpoint_url: str = ""
    s3_bucket: str = "mpdp-packages"
    #: catalog: the shortest hold a rollout step may ask for (a plan may hold a step 0 s to 30 days)
    rollout_min_hold_seconds: int = 0
    #: telemetry: how often each guarded launch's health is checked at least (besides each step's end)
    release_guard_interval_seconds: float = 60.0
    #: telemetry: how often each alert rule over a window is evaluated
    alert_interval_seconds: float = 60.0
    #: gateway: the built web console (console/dist), served at /
    console_dir: str = "console/dist"
    #: identity's mail worker: SMTP servers on private, local or special addresses are refused
    #: (SSRF) unless the operator allows them, as the tests do for their own local servers
    smtp_allow_private_hosts: bool = False
    #: identity: the SMTP server of the mail the platform sends as itself (verification, password
    #: reset), `smtp://user:pass@host:port` or `smtps://...`; without it each mail is written to
    #: `<data_dir>/mail/` as an .eml file and its link is logged
    smtp_url: str = field(default="", repr=False)
    mail_from: str = "MPDP <noreply@mpdp.localhost>"
    #: where the console answers: the links in the platform's mail point under it
    public_url: str = "http://127.0.0.1:8080"
    #: telemetry: events one app key may send per period (limits' notation), and how long raw events are kept
    ingest_rate_limit: str = "1200000/minute"
    telemetry_retention_days: int = 90
    #: telemetry: where raw events are kept and analytics read from: "" (the service's own
    #: database), `clickhouse://user:pass@host:port/db` (a ClickHouse server), or `chdb:///path/db`
    #: / `chdb://memory/db` (ClickHouse's engine inside the process: tests and a single machine)
    telemetry_store: str = field(default="", repr=False)
    #: identity: argon2id's passes and memory for passwords and recovery codes (at least 1 and 8 MiB)
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 64 * 1024
    #: workspace: how long the audit log keeps its rows, 400 days at least (a smaller value is taken as 400)
    audit_retention_days: int = 400
    #: workspace: webhook URLs may name these hosts although they are inside the platform's network
    webhook_allowed_hosts: tuple[str, ...] = ()
    #: workspace's webhook worker: the waits after each failed attempt of a delivery (then it is
    #: given up), how long a receiver has to answer, and how many deliveries it sends at once
    webhook_retry_seconds: tuple[int, ...] = (60, 300, 900, 1800, 3600, 7200)
    webhook_timeout_seconds: float = 10.0
    webhook_concurrency: int = 16

    @classmethod
    def from_env(cls, service: str = "") -> Settings:
        mode = _env("MPDP_MODE", "real")
        if mode not in ("real", "embedded"):
            raise SystemExit(f"configuration error: MPDP_MODE must be 'real' or 'embedded', not {mode!r}")
        ports = {name: _int(f"MPDP_{name.upper()}_PORT", port) for name, port in SERVICE_PORTS.items()}
        urls = {name: _env(f"MPDP_{name.upper()}_URL", f"http://127.0.0.1:{port}") for name, port in ports.items()}
        base = cls(
            mode=mode,
            database_server_url=_env("MPDP_DATABASE_URL", cls.database_server_url),
            database_prefix=_env("MPDP_DATABASE_PREFIX", cls.database_prefix),
            data_dir=_env("MPDP_DATA_DIR", cls.data_dir),
            amqp_url=_env("MPDP_AMQP_URL", cls.amqp_url) if mode == "real" else "memory://",
            event_prefix=_env("MPDP_EVENT_PREFIX", cls.event_prefix),
            queue_type=_choice("MPDP_QUEUE_TYPE", QUEUE_TYPES, cls.queue_type),
            event_max_attempts=_int("MPDP_EVENT_MAX_ATTEMPTS", cls.event_max_attempts),
            event_retry_delay_ms=_int("MPDP_EVENT_RETRY_DELAY_MS", cls.event_retry_delay_ms),
            event_prefetch=_int("MPDP_EVENT_PREFETCH", cls.event_prefetch),
            outbox_batch_size=_int("MPDP_OUTBOX_BATCH_SIZE", cls.outbox_batch_size),
            outbox_poll_seconds=_float("MPDP_OUTBOX_POLL_SECONDS", cls.outbox_poll_seconds),
            host=_env("MPDP_HOST", cls.host),
            ports=ports,
            service_urls=urls,
            jwks_url=_env("MPDP_JWKS_URL", f"{urls['identity']}/.well-known/jwks.json"),
            jwt_issuer=_env("MPDP_JWT_ISSUER", cls.jwt_issuer),
            jwt_audience=_env("MPDP_JWT_AUDIENCE", cls.jwt_audience),
            jwt_private_key_file=_env("MPDP_JWT_PRIVATE_KEY_FILE", ""),
            secret_key=_env("MPDP_SECRET_KEY", ""),
            access_token_ttl_seconds=_int("MPDP_ACCESS_TOKEN_TTL_SECONDS", cls.access_token_ttl_seconds),
            refresh_token_ttl_seconds=_int("MPDP_REFRESH_TOKEN_TTL_SECONDS", cls.refresh_token_ttl_seconds),
            max_body_bytes=_int("MPDP_MAX_BODY_BYTES", cls.max_body_bytes),
            gateway_max_body_bytes=_int("MPDP_GATEWAY_MAX_BODY_BYTES", cls.gateway_max_body_bytes),
            upstream_connect_timeout=_float("MPDP_UPSTREAM_CONNECT_TIMEOUT", cls.upstream_connect_timeout),
            upstream_read_timeout=_float("MPDP_UPSTREAM_READ_TIMEOUT", cls.upstream_read_timeout),
            gateway_client_timeout=_float("MPDP_GATEWAY_CLIENT_TIMEOUT", cls.gateway_client_timeout),
            rate_limit_per_client=_env("MPDP_RATE_LIMIT_PER_CLIENT", cls.rate_limit_per_client),
            rate_limit_per_token=_env("MPDP_RATE_LIMIT_PER_TOKEN", cls.rate_limit_per_token),
            # Shared by every gateway process in real mode; one process keeps its own in embedded mode.
            rate_limit_storage_uri=_env(
                "MPDP_RATE_LIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0" if mode == "real" else cls.rate_limit_storage_uri
            ),
            cors_origins=_list("MPDP_CORS_ORIGINS", "http://localhost:3000,http://127.0.0.1:3000"),
            log_level=_env("MPDP_LOG_LEVEL", cls.log_level).upper(),
            web_workers=_int("MPDP_WEB_WORKERS", cls.web_workers),
            web_threads=_int("MPDP_WEB_THREADS", cls.web_threads),
            max_package_bytes=_int("MPDP_MAX_PACKAGE_BYTES", cls.max_package_bytes),
            blob_store=_env("MPDP_BLOB_STORE", cls.blob_store),
            s3_endpoint_url=_env("MPDP_S3_ENDPOINT_URL", cls.s3_endpoint_url),
            s3_bucket=_env("MPDP_S3_BUCKET", cls.s3_bucket),
            rollout_min_hold_seconds=_int("MPDP_ROLLOUT_MIN_HOLD_SECONDS", cls.rollout_min_hold_seconds),
            release_guard_interval_seconds=_float("MPDP_RELEASE_GUARD_INTERVAL_SECONDS", cls.release_guard_interval_seconds),
            alert_interval_seconds=_float("MPDP_ALERT_INTERVAL_SECONDS", cls.alert_interval_seconds),
            console_dir=_env("MPDP_CONSOLE_DIR", cls.console_dir),
            smtp_allow_private_hosts=_flag("MPDP_SMTP_ALLOW_PRIVATE_HOSTS"),
            smtp_url=_env("MPDP_SMTP_URL", ""),
            mail_from=_env("MPDP_MAIL_FROM", cls.mail_from),
            public_url=_env("MPDP_PUBLIC_URL", cls.public_url).rstrip("/"),
            ingest_rate_limit=_env("MPDP_INGEST_RATE_LIMIT", cls.ingest_rate_limit),
            telemetry_retention_days=_int("MPDP_TELEMETRY_RETENTION_DAYS", cls.telemetry_retention_days),
            telemetry_store=_env("MPDP_TELEMETRY_STORE", cls.telemetry_store),
            password_hash_time_cost=_at_least(1, "MPDP_PASSWORD_HASH_TIME_COST", cls.password_hash_time_cost),
            password_hash_memory_kib=_at_least(8 * 1024, "MPDP_PASSWORD_HASH_MEMORY_KIB", cls.password_hash_memory_kib),
            audit_retention_days=max(MIN_AUDIT_RETENTION_DAYS, _int("MPDP_AUDIT_RETENTION_DAYS", cls.audit_retention_days)),
            webhook_allowed_hosts=tuple(host.lower() for host in _list("MPDP_WEBHOOK_ALLOWED_HOSTS")),
            webhook_retry_seconds=_seconds_list("MPDP_WEBHOOK_RETRY_SECONDS", cls.webhook_retry_seconds),
            webhook_timeout_seconds=_float("MPDP_WEBHOOK_TIMEOUT_SECONDS", cls.webhook_timeout_seconds),
            webhook_concurrency=_at_least(1, "MPDP_WEBHOOK_CONCURRENCY", cls.webhook_concurrency),
        )
        return base.for_service(service) if service else base

    def for_service(self, service: str) -> Settings:
        if self.mode == "embedded":
            default_db = f"sqlite:///{os.path.abspath(self.data_dir)}/embedded/{service}.db"
        else:
            # The server URL may carry options (`?prepare_threshold=none`): the database goes before them.
            server, _, options = self.database_server_url.partition("?")
            default_db = f"{server.rstrip('/')}/{self.database_prefix}_{service}" + (f"?{options}" if options else "")
        return replace(
            self,
            service=service,
            port=self.ports.get(service, 0),
            internal_port=_int(f"MPDP_{service.upper()}_INTERNAL_PORT", INTERNAL_PORTS.get(service, 0)),
            # one port for every service's pod where each has its own address, else one each
            jobs_port=_int(f"MPDP_{service.upper()}_JOBS_PORT", _int("MPDP_JOBS_PORT", JOBS_PORTS.get(service, 0))),
            database_url=_env(f"MPDP_{service.upper()}_DATABASE_URL", default_db),
        )

    @property
    def amqp_urls(self) -> tuple[str, ...]:
        """The broker's nodes: a client connects to the first of them that answers."""
        return tuple(url.strip() for url in self.amqp_url.split(",") if url.strip())

    @property
    def exchange(self) -> str:
        """The topic exchange this service publishes to."""
        return f"{self.event_prefix}.{self.service}"
