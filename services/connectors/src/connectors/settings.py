from pydantic import Field, field_validator

from shared.crypto import DEV_ENCRYPTION_KEY, parse_keys
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = Field(default=8002, validation_alias="CONNECTORS_PORT")

    # Comma-separated Fernet keys, newest first: the first encrypts, all of them decrypt.
    connector_encryption_keys: str = DEV_ENCRYPTION_KEY

    # Provider addresses are operator settings only; nothing a user sends can change them.
    calendly_api_base_url: str = "https://api.calendly.com"
    square_api_base_url: str = "https://connect.squareup.com"
    square_sandbox_api_base_url: str = "https://connect.squareupsandbox.com"
    square_api_version: str = "2025-01-23"
    agendapro_api_base_url: str = "https://connect.agendapro.com"
    provider_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    provider_max_retries: int = Field(default=3, ge=0, le=10)
    provider_backoff_seconds: float = Field(default=0.5, ge=0, le=30)
    # A Retry-After longer than this is not waited for: the caller gets a 503 at once.
    provider_max_retry_after_seconds: float = Field(default=30.0, ge=0, le=600)

    # Webhooks. Empty signing keys refuse every webhook of that provider.
    calendly_webhook_signing_key: str = ""
    square_webhook_signature_key: str = ""
    public_base_url: str = "http://127.0.0.1:8000"
    webhook_tolerance_seconds: int = Field(default=300, ge=10, le=3600)

    @field_validator("connector_encryption_keys")
    @classmethod
    def _keys_present(cls, value: str) -> str:
        if not parse_keys(value):
            raise ValueError("at least one Fernet key is required")
        return value

    @property
    def encryption_keys(self) -> list[str]:
        return parse_keys(self.connector_encryption_keys)
