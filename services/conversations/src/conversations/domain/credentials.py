"""Typed credentials of a channel account, one model per channel, told apart by `channel`.

Secrets are `SecretStr`, so they never show in reprs or logs; `masked()` is what an answer
may show. Nothing here chooses a provider's address (base URLs are settings) except the
integrator's own `callback_url`, which must be https (loopback http only where a setting
allows it, for tests and local runs).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.secrets import SecretModel

_Token = Annotated[SecretStr, Field(min_length=8, max_length=4096)]
_Sid = Annotated[str, Field(pattern=r"^AC[0-9a-fA-F]{32}$")]
_KeySid = Annotated[str, Field(pattern=r"^SK[0-9a-fA-F]{32}$")]


_Credentials = SecretModel


class WhatsAppCredentials(_Credentials):
    channel: Literal["whatsapp"]
    access_token: _Token = Field(description="System-user or business token (Bearer)")


class MessengerCredentials(_Credentials):
    channel: Literal["messenger"]
    page_access_token: _Token


class InstagramCredentials(_Credentials):
    channel: Literal["instagram"]
    page_access_token: _Token


class SmsCredentials(_Credentials):
    """Twilio: Account SID with either its Auth Token or an API key pair (recommended)."""

    channel: Literal["sms"]
    account_sid: _Sid
    auth_token: _Token | None = None
    api_key_sid: _KeySid | None = None
    api_key_secret: _Token | None = None

    @model_validator(mode="after")
    def _one_auth(self) -> SmsCredentials:
        pair = (self.api_key_sid is None, self.api_key_secret is None)
        if pair[0] != pair[1]:
            raise ValueError("api_key_sid and api_key_secret go together")
        if self.auth_token is None and self.api_key_sid is None:
            raise ValueError("give auth_token, or api_key_sid and api_key_secret")
        return self

    def basic_auth(self) -> tuple[str, str]:
        if self.api_key_sid is not None and self.api_key_secret is not None:
            return self.api_key_sid, self.api_key_secret.get_secret_value()
        assert self.auth_token is not None
        return self.account_sid, self.auth_token.get_secret_value()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _internal(host: str) -> bool:
    """An address literal no integrator on the internet has: private, loopback, link-local
    (cloud metadata), reserved. Names are not resolved here (see the README)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast


class CallbackCredentials(_Credentials):
    """Integrators (`chatgpt`, `phone`): replies are POSTed to `callback_url`, signed with
    `signing_secret` (generated when not given, shown once in the create answer)."""

    channel: Literal["chatgpt", "phone"]
    callback_url: str = Field(min_length=8, max_length=2000)
    signing_secret: Annotated[SecretStr, Field(min_length=16, max_length=256)] | None = None

    @field_validator("callback_url")
    @classmethod
    def _safe_url(cls, value: str, info: ValidationInfo) -> str:
        parts = urlsplit(value)
        host = parts.hostname or ""
        if not host or parts.username or parts.password or parts.fragment:
            raise ValueError("callback_url must be an absolute URL without credentials")
        allow_loopback = bool((info.context or {}).get("allow_loopback_http"))
        if allow_loopback and _loopback(host) and parts.scheme in ("http", "https"):
            return value
        if _internal(host):
            raise ValueError("callback_url must be a public address")
        if parts.scheme == "https":
            return value
        raise ValueError("callback_url must use https")


Credentials = Annotated[
    WhatsAppCredentials
    | MessengerCredentials
    | InstagramCredentials
    | SmsCredentials
    | CallbackCredentials,
    Field(discriminator="channel"),
]
AnyCredentials = (
    WhatsAppCredentials
    | MessengerCredentials
    | InstagramCredentials
    | SmsCredentials
    | CallbackCredentials
)
_ADAPTER: TypeAdapter[AnyCredentials] = TypeAdapter(Credentials)


def parse_credentials(data: dict[str, Any], *, allow_loopback_http: bool = False) -> AnyCredentials:
    return _ADAPTER.validate_python(data, context={"allow_loopback_http": allow_loopback_http})


def merge_credentials(
    current: AnyCredentials, changes: dict[str, Any], *, allow_loopback_http: bool = False
) -> AnyCredentials:
    """A partial update: fields not sent keep their (secret) values, and so does a secret
    sent back in the masked form a read showed; the channel is fixed."""
    return parse_credentials(
        current.merged(changes) | {"channel": current.channel},
        allow_loopback_http=allow_loopback_http,
    )
