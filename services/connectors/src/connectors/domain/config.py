"""Typed connector configuration, one model per provider, told apart by `provider`.

Secrets are `SecretStr`, so they never show in reprs or logs; `masked()` gives what API
answers may show. Nothing here can choose a network address: base URLs are settings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter

Provider = Literal["calendly", "square", "agendapro"]
PROVIDERS: tuple[Provider, ...] = ("calendly", "square", "agendapro")

_Token = Annotated[SecretStr, Field(min_length=8, max_length=4096)]


def mask(secret: str) -> str:
    """`****abcd`: enough to recognise a key, never enough to use it."""
    return "****" + (secret[-4:] if len(secret) >= 12 else "")


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def secret_fields(self) -> list[str]:
        return [k for k, v in self if isinstance(v, SecretStr)]

    def plain(self) -> dict[str, Any]:
        """Everything, secrets revealed: only for encryption and provider calls."""
        out = self.model_dump(mode="json")
        for name in self.secret_fields():
            value = getattr(self, name)
            out[name] = value.get_secret_value() if value is not None else None
        return out

    def masked(self) -> dict[str, Any]:
        out = self.model_dump(mode="json")
        for name in self.secret_fields():
            value = getattr(self, name)
            out[name] = mask(value.get_secret_value()) if value is not None else None
        return out


class CalendlyConfig(_Config):
    provider: Literal["calendly"]
    access_token: _Token = Field(description="Personal access token or OAuth access token")
    refresh_token: _Token | None = None
    # Event type URIs (or their UUIDs) to offer; empty offers every active event type.
    event_types: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list, max_length=50
    )


class SquareConfig(_Config):
    provider: Literal["square"]
    access_token: _Token
    location_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    environment: Literal["sandbox", "production"] = "production"
    team_member_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )


class AgendaProConfig(_Config):
    provider: Literal["agendapro"]
    api_key: _Token
    location_id: int = Field(gt=0)
    service_provider_id: int | None = Field(default=None, gt=0)


ConnectorConfig = Annotated[
    CalendlyConfig | SquareConfig | AgendaProConfig, Field(discriminator="provider")
]
CONFIG_ADAPTER: TypeAdapter[CalendlyConfig | SquareConfig | AgendaProConfig] = TypeAdapter(
    ConnectorConfig
)
AnyConfig = CalendlyConfig | SquareConfig | AgendaProConfig


def parse_config(data: dict[str, Any]) -> AnyConfig:
    return CONFIG_ADAPTER.validate_python(data)


def merge_config(current: AnyConfig, changes: dict[str, Any]) -> AnyConfig:
    """A partial update: fields not sent keep their (secret) values."""
    if changes.get("provider", current.provider) != current.provider:
        raise ValueError("provider cannot change; create a new connector instead")
    return parse_config(current.plain() | changes | {"provider": current.provider})
