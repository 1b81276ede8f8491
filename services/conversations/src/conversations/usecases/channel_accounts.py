"""Channel accounts: which provider account routes inbound messages to which workspace, and
the credentials replies leave with (typed per channel, encrypted, masked on every read)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr, ValidationError

from conversations.db.models import ChannelAccount
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain.credentials import (
    AnyCredentials,
    CallbackCredentials,
    merge_credentials,
    parse_credentials,
)
from conversations.domain.errors import (
    ChannelAccountNotFound,
    ChannelAccountTaken,
    InvalidCredentials,
)
from conversations.usecases.access import owner_workspace
from shared.crypto import UnreadableSecret, Vault
from shared.tokens import Principal


@dataclass(frozen=True)
class ChannelAccountView:
    """An account as an answer may show it: credentials masked; a signing secret we
    generated is shown in full once, in the answer that created it."""

    account: ChannelAccount
    credentials: dict[str, Any] | None
    signing_secret: str | None = None


@dataclass(frozen=True)
class CredentialPolicy:
    vault: Vault
    allow_loopback_http: bool


def view(account: ChannelAccount, vault: Vault) -> ChannelAccountView:
    return ChannelAccountView(account, _masked(account, vault))


def _masked(account: ChannelAccount, vault: Vault) -> dict[str, Any] | None:
    if account.credentials_encrypted is None:
        return None
    try:
        data = vault.decrypt(account.credentials_encrypted)
        masked = parse_credentials(data, allow_loopback_http=True).masked()
    except (UnreadableSecret, ValidationError):
        return {"unreadable": True}
    masked.pop("channel", None)
    return masked


def _readable(exc: ValidationError) -> str:
    # Where and why only: the input (possibly a token) is never echoed. The first location
    # element of a tagged union is the channel tag; the field name follows it.
    parts = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        if len(loc) > 1:
            loc = loc[1:]
        field = ".".join(["credentials", *loc]) if loc else "credentials"
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


def _parse(
    channel: str, data: dict[str, Any], policy: CredentialPolicy, current: AnyCredentials | None
) -> AnyCredentials:
    if data.get("channel", channel) != channel:
        raise InvalidCredentials("credentials.channel: must be the account's channel")
    try:
        if current is not None:
            return merge_credentials(current, data, allow_loopback_http=policy.allow_loopback_http)
        return parse_credentials(
            data | {"channel": channel}, allow_loopback_http=policy.allow_loopback_http
        )
    except ValidationError as exc:
        raise InvalidCredentials(_readable(exc)) from None


def _with_signing_secret(credentials: AnyCredentials) -> tuple[AnyCredentials, str | None]:
    """Integrators verify our callbacks with a secret; make one if the owner gave none."""
    if not isinstance(credentials, CallbackCredentials) or credentials.signing_secret:
        return credentials, None
    secret = secrets.token_urlsafe(32)
    return credentials.model_copy(update={"signing_secret": SecretStr(secret)}), secret


async def add_channel_account(
    uow: ConversationsUnitOfWork,
    principal: Principal,
    channel: str,
    account_id: str,
    name: str | None,
    credentials: dict[str, Any] | None = None,
    policy: CredentialPolicy | None = None,
) -> ChannelAccountView:
    parsed: AnyCredentials | None = None
    revealed = None
    if credentials is not None:
        assert policy is not None
        parsed, revealed = _with_signing_secret(_parse(channel, credentials, policy, None))
    async with uow:
        workspace = await owner_workspace(uow, principal)
        account = ChannelAccount(
            id=uuid.uuid4(),
            workspace_id=workspace.id,
            channel=channel,
            account_id=account_id,
            name=name,
            credentials_encrypted=(
                policy.vault.encrypt(parsed.plain()) if parsed and policy else None
            ),
        )
        if not await uow.channel_accounts.add(account):
            raise ChannelAccountTaken(
                f"The {channel} account {account_id!r} is already connected to a workspace"
            )
        await uow.commit()
        masked = _masked(account, policy.vault) if policy else None
        return ChannelAccountView(account, masked, revealed)


async def update_channel_account(
    uow: ConversationsUnitOfWork,
    principal: Principal,
    account_id: uuid.UUID,
    changes: dict[str, Any],
    policy: CredentialPolicy,
) -> ChannelAccountView:
    """`name`, and `credentials` as a partial change: fields not sent keep their values
    (secrets included); `"credentials": null` removes them (the account then only
    receives)."""
    async with uow:
        workspace = await owner_workspace(uow, principal)
        account = await uow.channel_accounts.get(workspace.id, account_id, lock=True)
        if account is None:
            raise ChannelAccountNotFound("Channel account not found")
        revealed = None
        if "name" in changes:
            account.name = changes["name"]
        if "credentials" in changes:
            data = changes["credentials"]
            if data is None:
                account.credentials_encrypted = None
            else:
                current = None
                if account.credentials_encrypted is not None:
                    try:
                        current = parse_credentials(
                            policy.vault.decrypt(account.credentials_encrypted),
                            allow_loopback_http=True,
                        )
                    except (UnreadableSecret, ValidationError):
                        current = None  # unreadable: the new ones must stand on their own
                parsed, revealed = _with_signing_secret(
                    _parse(account.channel, data, policy, current)
                )
                account.credentials_encrypted = policy.vault.encrypt(parsed.plain())
        await uow.commit()
        return ChannelAccountView(account, _masked(account, policy.vault), revealed)


async def remove_channel_account(
    uow: ConversationsUnitOfWork, principal: Principal, account_id: uuid.UUID
) -> None:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        account = await uow.channel_accounts.get(workspace.id, account_id)
        if account is None:
            raise ChannelAccountNotFound("Channel account not found")
        await uow.channel_accounts.delete(account)
        await uow.commit()
