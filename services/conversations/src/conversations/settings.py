from pydantic import Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = Field(default=8003, validation_alias="CONVERSATIONS_PORT")

    # Web chat: how long a visitor token stays valid, and the in-memory rate limits (per
    # process; behind N replicas the effective limit is N times these).
    visitor_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    webchat_window_seconds: float = Field(default=60.0, gt=0)
    webchat_per_visitor: int = Field(default=20, ge=1)
    webchat_per_address: int = Field(default=60, ge=1)

    # Live streams (Server-Sent Events): open streams per process and per visitor or owner
    # (beyond: 503 / 429), keep-alive comment interval, fallback poll behind NOTIFY, and how
    # long one stream lasts before the client reconnects (and authenticates again).
    live_max_streams: int = Field(default=1000, ge=1)
    live_streams_per_client: int = Field(default=5, ge=1)
    live_ping_seconds: float = Field(default=15.0, gt=0)
    live_poll_seconds: float = Field(default=30.0, gt=0)
    live_max_stream_seconds: float = Field(default=3600.0, gt=0)
