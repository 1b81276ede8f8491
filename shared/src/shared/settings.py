"""Settings base shared by every service: read from the environment and a `.env` file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.tokens import audience_key

DEFAULT_SECRET_KEY = "change-me-local-development-only"


class ServiceSettings(BaseSettings):
    """What every service needs to reach Postgres and RabbitMQ and to trust the gateway.

    Settings are built once (in `main`) and passed down; nothing reads them at import time.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/base"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # HS256 keys shorter than the hash (32 bytes) weaken every token signed with them.
    secret_key: str = Field(default=DEFAULT_SECRET_KEY, min_length=32)
    # Names on the bus; tests use their own so they never touch a running system's queues.
    events_exchange: str = "base.events"
    queue_prefix: str = ""
    internal_token_ttl_seconds: int = Field(default=60, ge=5, le=3600)
    # Internal-token keys (shared.tokens), one per audience: this service's own, which it
    # verifies with, and the workspaces service's, which connectors and conversations sign
    # their read-your-writes lookups with. Unset, each is derived from SECRET_KEY, as on a
    # developer's machine where every process has it; deployed, a service gets its keys and
    # no SECRET_KEY, so it can mint tokens for nobody but the services it calls.
    internal_token_key: str = ""
    workspaces_token_key: str = ""
    log_level: str = "INFO"
    # `auto`: JSON lines, or readable text when the log stream is a terminal. The older
    # `LOG_JSON` still decides when `LOG_FORMAT` is not set (true: json, false: text).
    log_format: Literal["auto", "json", "text"] | None = None
    log_json: bool | None = None
    # OpenTelemetry, under its standard variable names; no endpoint, no spans.
    otel_exporter_otlp_endpoint: str = ""
    otel_service_name: str = ""
    otel_traces_sampler: str = "parentbased_always_on"
    otel_traces_sampler_arg: str = ""
    consumer_prefetch: int = Field(default=16, ge=1, le=1000)
    consumer_delivery_limit: int = Field(default=5, ge=1, le=100)
    relay_batch_size: int = Field(default=200, ge=1, le=5000)
    relay_poll_seconds: float = Field(default=2.0, gt=0)
    # Per process, plus as many overflow connections: four services stay far below
    # Postgres's default limit of 100 connections.
    db_pool_size: int = Field(default=5, ge=1)
    # Worker processes serving this service's one port (see shared.serving.serve). Each has
    # its own pool, consumers and relay: N workers hold N times the connections of one.
    web_concurrency: int = Field(default=1, ge=1, le=32)
    run_relay: bool = True
    run_consumers: bool = True
    # Addresses (IPs or CIDRs, comma-separated, or "*") whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; anyone else's are ignored and the peer address counts.
    trusted_proxies: str = "127.0.0.1"
    # The HTTP server (shared.serving): connections and requests at once, beyond which new
    # requests get 503; how long an idle kept connection stays open; how long a client may
    # take to send a request's line and headers (from connecting, or from the previous
    # answer) and how large they may be before the connection is closed (408 / 431).
    server_limit_concurrency: int = Field(default=4096, ge=16)
    server_keep_alive_seconds: int = Field(default=5, ge=1, le=300)
    server_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    server_max_header_bytes: int = Field(default=64 * 1024, ge=8 * 1024, le=1024 * 1024)
    # Bearer token Prometheus sends to read `/metrics`; unset, `/metrics` is not served (404).
    metrics_token: str = Field(default="", repr=False)
    # Where the workspaces service listens: services whose workspace projection has not
    # caught up yet ask it directly (shared.workspace_lookup), so a 201 is readable at once.
    workspaces_url: str = "http://127.0.0.1:8001"

    @property
    def resolved_log_format(self) -> Literal["auto", "json", "text"]:
        if self.log_format is not None:
            return self.log_format
        if self.log_json is not None:
            return "json" if self.log_json else "text"
        return "auto"

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_length(cls, value: str) -> str:
        if value and len(value) < 16:
            raise ValueError("METRICS_TOKEN must be at least 16 characters (or unset)")
        return value

    def token_key(self, audience: str, service: str) -> str:
        """The key of internal tokens for `audience`, as `service` holds it: its own
        INTERNAL_TOKEN_KEY for its own audience, `<AUDIENCE>_TOKEN_KEY` for one it calls."""
        if audience == service:
            given = self.internal_token_key
        else:
            given = getattr(self, f"{audience}_token_key", "")
        return given or audience_key(self.secret_key, audience)

    @field_validator("internal_token_key", "workspaces_token_key")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        return token_key_length(value)

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: str) -> str:
        return async_database_url(value)


def token_key_length(value: str) -> str:
    """An internal-token key: unset (derived), or as long as the HS256 hash (32 bytes)."""
    if value and len(value) < 32:
        raise ValueError("a token key needs at least 32 characters (python -m shared.tokens)")
    return value


def async_database_url(url: str) -> str:
    """Accept the plain `postgresql://` form operators write and use asyncpg underneath."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def plain_database_url(url: str) -> str:
    """The libpq form, for raw asyncpg connections (LISTEN/NOTIFY)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
