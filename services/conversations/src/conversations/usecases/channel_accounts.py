"""Channel accounts: which provider account routes inbound messages to which workspace, and
the credentials replies leave with (typed per channel, encrypted, masked on every read).

A claim routes nothing until it is proved (see `delivery.ownership`): the provider answers,
with the account's own credentials, that they reach it. Integrator accounts (chatgpt, phone)
are proved by their inbound signing secret instead: generated here, shown once, rotatable.
Provider calls are made outside any transaction.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr, ValidationError
from sqlalchemy.exc import IntegrityError

from conversations.db.models import ChannelAccount
from conversations.db.uow import ConversationsUnitOfWork
from conversations.delivery.ownership import INTEGRATOR_CHANNELS, OwnershipChecker
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
    NoInboundSecret,
)
from conversations.domain.ownership import DISPLACED, NO_CREDENTIALS, SIGNED, Proof, after_check
from conversations.usecases.access import owner_workspace
from shared.crypto import UnreadableSecret, Vault
from shared.tokens import Principal

# Names nothing about who holds it.
TAKEN = "The {channel} account {account_id!r} is already connected to another workspace"


@dataclass(frozen=True)
class ChannelAccountView:
    """An account as an answer may show it: credentials masked; a signing secret we
    generated is shown in full once, in the answer that created (or rotated) it."""

    account: ChannelAccount
    credentials: dict[str, Any] | None
    signing_secret: str | None = None
    inbound_signing_secret: str | None = None


@dataclass(frozen=True)
class CredentialPolicy:
    vault: Vault
    allow_loopback_http: bool
    # None: nobody to ask (in-process tests), so provider claims stay unverified.
    ownership: OwnershipChecker | None = None

    async def prove(
        self, channel: str, account_id: str, credentials: AnyCredentials | None
    ) -> Proof:
        if channel in INTEGRATOR_CHANNELS:
            return SIGNED
        if self.ownership is None:
            return NO_CREDENTIALS if credentials is None else Proof("unverified", "Not checked")
        return await self.ownership.check(channel, account_id, credentials)


@dataclass(frozen=True)
class InboundSecret:
    """What the gateway needs to check an integrator's X-Base-Signature and route it."""

    id: uuid.UUID
    workspace_id: uuid.UUID
    channel: str
    account_id: str
    secret: str


def view(account: ChannelAccount, vault: Vault) -> ChannelAccountView:
    return ChannelAccountView(account, _masked(account, vault))


def _new_inbound_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _apply(account: ChannelAccount, proof: Proof) -> None:
    proof = after_check(account.verification, proof)
    if proof.verification == "verified" and account.verification != "verified":
        account.verified_at = datetime.now(UTC)
    elif proof.verification != "verified":
        account.verified_at = None
    account.verification = proof.verification
    account.verification_reason = proof.reason


def _credentials_of(account: ChannelAccount, vault: Vault) -> AnyCredentials | None:
    if account.credentials_encrypted is None:
        return None
    try:
        return parse_credentials(
            vault.decrypt(account.credentials_encrypted), allow_loopback_http=True
        )
    except (UnreadableSecret, ValidationError):
        return None


def _masked(account: ChannelAccount, vault: Vault) -> dict[str, Any] | None:
    if account.credentials_encrypted is None:
        return None
    try:
        data = vault.decrypt(account.credentials_encrypted)
        masked = parse_credentials(data, stored=True).masked()
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
    """Store the claim with the provider's verdict on it. Only a verified claim routes; a
    verified claim on an account another workspace has verified is a 409 (naming nobody),
    and it displaces claims on the same account that are not verified."""
    assert policy is not None
    parsed: AnyCredentials | None = None
    revealed = None
    if credentials is not None:
        parsed, revealed = _with_signing_secret(_parse(channel, credentials, policy, None))
    async with uow:
        workspace = await owner_workspace(uow, principal)
        if await uow.channel_accounts.claimed_by(workspace.id, channel, account_id):
            raise ChannelAccountTaken(
                f"This workspace already has the {channel} account {account_id!r}"
            )
    proof = await policy.prove(channel, account_id, parsed)
    inbound_secret = _new_inbound_secret() if channel in INTEGRATOR_CHANNELS else None
    async with uow:
        workspace = await owner_workspace(uow, principal)
        account = ChannelAccount(
            id=uuid.uuid4(),
            workspace_id=workspace.id,
            channel=channel,
            account_id=account_id,
            name=name,
            credentials_encrypted=policy.vault.encrypt(parsed.plain()) if parsed else None,
            verification="unverified",
            verification_reason=None,
            verified_at=None,
            inbound_secret_encrypted=(
                policy.vault.encrypt({"secret": inbound_secret}) if inbound_secret else None
            ),
        )
        _apply(account, proof)
        taken = (
            account.verification == "verified"
            and await uow.channel_accounts.verified_elsewhere(account.id, channel, account_id)
        )
        if taken or not await uow.channel_accounts.add(account):
            raise ChannelAccountTaken(TAKEN.format(channel=channel, account_id=account_id))
        if account.verification == "verified":
            await uow.channel_accounts.displace(account, DISPLACED)
        await uow.commit()
        return ChannelAccountView(account, _masked(account, policy.vault), revealed, inbound_secret)


async def update_channel_account(
    uow: ConversationsUnitOfWork,
    principal: Principal,
    account_id: uuid.UUID,
    changes: dict[str, Any],
    policy: CredentialPolicy,
) -> ChannelAccountView:
    """`name`, and `credentials` as a partial change: fields not sent keep their values
    (secrets included); `"credentials": null` removes them (a provider account then routes
    nothing: credentials are its proof). New credentials are checked with the provider."""
    async with uow:
        workspace = await owner_workspace(uow, principal)
        account = await uow.channel_accounts.get(workspace.id, account_id)
        if account is None:
            raise ChannelAccountNotFound("Channel account not found")
        revealed = None
        parsed: AnyCredentials | None = None
        if changes.get("credentials") is not None:
            current = _credentials_of(account, policy.vault)  # unreadable: stand on their own
            parsed, revealed = _with_signing_secret(
                _parse(account.channel, changes["credentials"], policy, current)
            )
    proof = None
    if "credentials" in changes:
        proof = await policy.prove(account.channel, account.account_id, parsed)
    async with uow:
        account = await uow.channel_accounts.get(workspace.id, account_id, lock=True)
        if account is None:
            raise ChannelAccountNotFound("Channel account not found")
        if "name" in changes:
            account.name = changes["name"]
        if "credentials" in changes:
            account.credentials_encrypted = (
                policy.vault.encrypt(parsed.plain()) if parsed is not None else None
            )
            assert proof is not None
            await _record_proof(uow, account, proof)
        await _commit(uow, account)
        return ChannelAccountView(account, _masked(account, policy.vault), revealed)


async def verify_channel_account(
    uow: ConversationsUnitOfWork,
    principal: Principal,
    account_id: uuid.UUID,
    policy: CredentialPolicy,
) -> ChannelAccountView:
    """Ask the provider again with the stored credentials (after an outage, or once the
    credentials are fixed)."""
    async with uow:
        workspace = await owner_workspace(uow, principal)
        account = await uow.channel_accounts.get(workspace.id, account_id)
        if account is None:
            raise ChannelAccountNotFound("Channel account not found")
        credentials = _credentials_of(account, policy.vault)
    proof = await policy.prove(account.channel, account.account_id, credentials)
    async with uow:
        account = await uow.channel_accounts.get(workspace.id, account_id, lock=True)
        if account is None:
            raise ChannelAccountNotFound("Channel account not found")
        await _record_proof(uow, account, proof)
        await _commit(uow, account)
        return view(account, policy.vault)


async def rotate_inbound_secret(
    uow: ConversationsUnitOfWork,
    principal: Principal,
    account_id: uuid.UUID,
    policy: CredentialPolicy,
) -> ChannelAccountView:
    """A new inbound signing secret, shown once; the old one stops working (the gateway
    holds a looked-up secret for at most INBOUND_SECRET_CACHE_SECONDS)."""
    async with uow:
        workspace = await owner_workspace(uow, principal)
        account = await uow.channel_accounts.get(workspace.id, account_id, lock=True)
        if account is None:
            raise ChannelAccountNotFound("Channel account not found")
        if account.channel not in INTEGRATOR_CHANNELS:
            raise NoInboundSecret(
                f"A {account.channel} account has no signing secret of ours: the provider "
                "signs its webhooks"
            )
        secret = _new_inbound_secret()
        account.inbound_secret_encrypted = policy.vault.encrypt({"secret": secret})
        await uow.commit()
        return ChannelAccountView(account, _masked(account, policy.vault), None, secret)


async def inbound_secret(
    uow: ConversationsUnitOfWork, account_id: uuid.UUID, vault: Vault
) -> InboundSecret | None:
    """For the gateway only (internal route): a verified integrator account of a live
    workspace, with its signing secret; None for anything else."""
    async with uow:
        account = await uow.channel_accounts.get_any(account_id)
        if (
            account is None
            or account.channel not in INTEGRATOR_CHANNELS
            or account.verification != "verified"
            or account.inbound_secret_encrypted is None
            or await uow.workspaces.get(account.workspace_id) is None
        ):
            return None
        try:
            secret = str(vault.decrypt(account.inbound_secret_encrypted)["secret"])
        except (UnreadableSecret, KeyError, TypeError):
            return None
        return InboundSecret(
            account.id, account.workspace_id, account.channel, account.account_id, secret
        )


async def _record_proof(
    uow: ConversationsUnitOfWork, account: ChannelAccount, proof: Proof
) -> None:
    was = account.verification
    _apply(account, proof)
    if account.verification == "verified" and was != "verified":
        if await uow.channel_accounts.verified_elsewhere(
            account.id, account.channel, account.account_id
        ):
            raise ChannelAccountTaken(
                TAKEN.format(channel=account.channel, account_id=account.account_id)
            )
        await uow.channel_accounts.displace(account, DISPLACED)


async def _commit(uow: ConversationsUnitOfWork, account: ChannelAccount) -> None:
    try:
        await uow.commit()
    except IntegrityError:  # another workspace's claim was verified at the same moment
        raise ChannelAccountTaken(
            TAKEN.format(channel=account.channel, account_id=account.account_id)
        ) from None


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
