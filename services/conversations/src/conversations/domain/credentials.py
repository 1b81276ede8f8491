"""Typed credentials of a channel account, one model per channel, told apart by `channel`.

Secrets are `SecretStr`, so they never show in reprs or logs; `masked()` is what an answer
may show. Nothing here chooses a provider's address (base URLs are settings) except the
integrator's own `callback_url`, which must be https to a public host (domain/addresses.py;
loopback, http included, only where a setting allows it, for tests).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit, urlunsplit

from pydantic import (
    Field,
    SecretStr,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from conversations.domain.addresses import (
    UnsafeHost,
    check_callback_host,
    host_address,
    is_loopback,
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


def _with_host(parts: SplitResult, host: str) -> str:
    """The URL with its host replaced by the normalised one (IDNA), everything else kept."""
    if host == parts.hostname:
        return urlunsplit(parts)
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class CallbackCredentials(_Credentials):
    """Integrators (`chatgpt`, `phone`): replies are POSTed to `callback_url`, signed with
    `signing_secret` (generated when not given, shown once in the create answer)."""

    channel: Literal["chatgpt", "phone"]
    callback_url: str = Field(min_length=8, max_length=2000)
    signing_secret: Annotated[SecretStr, Field(min_length=16, max_length=256)] | None = None

    @field_validator("callback_url")
    @classmethod
    def _safe_url(cls, value: str, info: ValidationInfo) -> str:
        # Parsers disagree on whitespace, backslashes and control characters: refuse them
        # rather than guess which host an HTTP client would see.
        if any(c.isspace() or not c.isprintable() or c == "\\" for c in value):
            raise ValueError("callback_url must not contain spaces, control characters or \\")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (raises on a port that is not a number)
        except ValueError:
            raise ValueError("callback_url is not a valid URL") from None
        host = parts.hostname or ""
        if not host or parts.username or parts.password or parts.fragment:
            raise ValueError("callback_url must be an absolute URL without credentials")
        context = info.context or {}
        if context.get("stored"):
            return value  # read back as it was saved: the send checks it again
        allow_loopback = bool(context.get("allow_loopback_http"))
        try:
            host = check_callback_host(host, allow_loopback=allow_loopback)
        except UnsafeHost as exc:
            raise ValueError(str(exc)) from None
        if parts.scheme == "https":
            return _with_host(parts, host)
        if allow_loopback and parts.scheme == "http":
            address = host_address(host)
            if host.rstrip(".") == "localhost" or (address is not None and is_loopback(address)):
                return _with_host(parts, host)
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


def parse_credentials(
    data: dict[str, Any], *, allow_loopback_http: bool = False, stored: bool = False
) -> AnyCredentials:
    """`stored=True` reads back what was saved (to mask it, or as the base of a change)
    without judging its callback URL again; sending checks it with the current rules."""
    return _ADAPTER.validate_python(
        data, context={"allow_loopback_http": allow_loopback_http, "stored": stored}
    )


def merge_credentials(
    current: AnyCredentials, changes: dict[str, Any], *, allow_loopback_http: bool = False
) -> AnyCredentials:
    """A partial update: fields not sent keep their (secret) values, and so does a secret
    sent back in the masked form a read showed; the channel is fixed."""
    return parse_credentials(
        current.merged(changes) | {"channel": current.channel},
        allow_loopback_http=allow_loopback_http,
    )
