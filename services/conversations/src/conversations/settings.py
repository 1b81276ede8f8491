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
