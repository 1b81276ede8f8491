"""Connector records: create, change, delete, activate, deactivate, check credentials."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from connectors.db.models import Connector, Workspace
from connectors.db.uow import ConnectorsUnitOfWork
from connectors.domain.config import PROVIDERS, AnyConfig, merge_config, parse_config
from connectors.domain.errors import (
    ConcurrentChange,
    ConnectorNotFound,
    InvalidConnectorInput,
    NoActiveConnector,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    WorkspaceMissing,
)
from connectors.domain.scheduling import AccountInfo
from connectors.providers import ProviderFactory
from shared import workspace_lookup
from shared.crypto import Vault
from shared.events import ConnectorActivatedV1, ConnectorDeactivatedV1
from shared.tokens import Principal

log = logging.getLogger(__name__)
UowFactory = Callable[[], ConnectorsUnitOfWork]


@dataclass(frozen=True)
class ConnectorView:
    """A connector with its config decrypted and masked: what an answer may show."""

    connector: Connector
    config: dict[str, Any]


def view(connector: Connector, vault: Vault) -> ConnectorView:
    return ConnectorView(connector, config_of(connector, vault).masked())


def config_of(connector: Connector, vault: Vault) -> AnyConfig:
    return config_from(vault, connector.config_encrypted)


@lru_cache(maxsize=512)
def config_from(vault: Vault, ciphertext: str) -> AnyConfig:
    """Decrypted and validated once per stored value: every availability answer and booking
    reads the active connector's configuration, and decrypting and validating it was a
    sixteenth of an availability call's CPU. A changed configuration is a new ciphertext (a
    fresh IV each time), so an entry never goes stale; the configs are frozen models."""
    return parse_config(vault.decrypt(ciphertext))


async def workspace_of(
    uow: ConnectorsUnitOfWork, principal: Principal, *, lock: bool = False
) -> Workspace | None:
    if principal.user_id is None:
        return None
    workspace = await uow.workspaces.of_owner(principal.user_id, lock=lock)
    if workspace is None and (found := await workspace_lookup.for_owner(principal.user_id)):
        # Read your writes: the workspace.created event may still be on its way. Written the
        # way the event consumer writes it (newest wins, deleted stays deleted).
        await uow.workspaces.upsert(
            found.id, found.owner_id, found.handle, found.timezone, found.updated_at
        )
        workspace = await uow.workspaces.of_owner(principal.user_id, lock=lock)
    return workspace


async def owned(
    uow: ConnectorsUnitOfWork, principal: Principal, connector_id: uuid.UUID, *, lock: bool = False
) -> tuple[Workspace, Connector]:
    """The caller's connector, or ConnectorNotFound (also for another user's connector)."""
    workspace = await workspace_of(uow, principal, lock=lock)
    if workspace is None:
        raise ConnectorNotFound()
    connector = await uow.connectors.get(connector_id, workspace.workspace_id, lock=lock)
    if connector is None:
        raise ConnectorNotFound()
    return workspace, connector


def _state(connector: Connector) -> dict[str, Any]:
    return {
        "connector_id": connector.id,
        "workspace_id": connector.workspace_id,
        "provider": connector.provider,
        "name": connector.name,
    }


def _location_ref(config: AnyConfig) -> str | None:
    location = getattr(config, "location_id", None)
    return str(location) if location is not None else None


async def create_connector(
    uow: ConnectorsUnitOfWork, vault: Vault, principal: Principal, name: str, config: AnyConfig
) -> ConnectorView:
    workspace = await workspace_of(uow, principal)
    if workspace is None:
        raise WorkspaceMissing()
    now = datetime.now(UTC)
    connector = Connector(
        id=uuid.uuid4(),
        created_at=now,
        updated_at=now,
        workspace_id=workspace.workspace_id,
        provider=config.provider,
        name=name,
        config_encrypted=vault.encrypt(config.plain()),
        is_active=False,
        status="unchecked",
        location_ref=_location_ref(config),
    )
    uow.connectors.add(connector)
    await uow.commit()
    return ConnectorView(connector, config.masked())


async def update_connector(
    uow: ConnectorsUnitOfWork,
    vault: Vault,
    principal: Principal,
    connector_id: uuid.UUID,
    name: str | None,
    config_changes: dict[str, Any] | None,
) -> ConnectorView:
    _, connector = await owned(uow, principal, connector_id, lock=True)
    config = config_of(connector, vault)
    if name is not None:
        connector.name = name
    if config_changes:
        try:
            config = merge_config(config, config_changes)
        except ValidationError as exc:
            raise InvalidConnectorInput(_readable(exc)) from None
        except ValueError as exc:
            raise InvalidConnectorInput(str(exc)) from None
        connector.config_encrypted = vault.encrypt(config.plain())
        connector.location_ref = _location_ref(config)
        # New credentials are unproven until checked again.
        connector.status = "unchecked"
        connector.last_error = None
        connector.checked_at = None
        connector.account_ref = None
        connector.organization_ref = None
        connector.verified_at = None
    connector.updated_at = datetime.now(UTC)
    await uow.commit()
    return ConnectorView(connector, config.masked())


def _readable(exc: ValidationError) -> str:
    # Field names and messages only: the input (possibly a token) is never echoed. The
    # union's tag (`builtin`, `square`...) leads each location; the field path follows it.
    def path(loc: tuple[int | str, ...]) -> str:
        parts = loc[1:] if loc and loc[0] in PROVIDERS else loc
        return ".".join(str(p) for p in parts)

    return "; ".join(f"config.{path(e['loc'])}: {e['msg']}" for e in exc.errors())


async def delete_connector(
    uow: ConnectorsUnitOfWork, principal: Principal, connector_id: uuid.UUID
) -> None:
    _, connector = await owned(uow, principal, connector_id, lock=True)
    if connector.is_active:
        await uow.emit(ConnectorDeactivatedV1(**_state(connector)))
    await uow.connectors.delete(connector)
    await uow.commit()


def needs_location_proof(connector: Connector) -> bool:
    """Square routes a location's webhooks by the location id the owner typed: before they
    reach this connector, its token must be shown to see that location."""
    return connector.provider == "square" and connector.verified_at is None


async def prove_location(providers: ProviderFactory, config: AnyConfig) -> AccountInfo:
    """Ask the provider for the configured location with the connector's own credentials."""
    location = str(getattr(config, "location_id", ""))
    try:
        info = await providers.build(config).check()
    except ProviderNotFound:
        raise ProviderRejected(
            config.provider, f"location {location} is not visible to this access token"
        ) from None
    # Square also answers an alias ("main"); webhooks name the real id, so ask for that.
    if info.details.get("location_id") != location:
        raise ProviderRejected(
            config.provider, f"use the location's own id ({info.details.get('location_id')})"
        )
    return info


def _mark_verified(connector: Connector, info: AccountInfo) -> None:
    connector.verified_at = connector.checked_at = datetime.now(UTC)
    connector.status = "ok"
    connector.last_error = None
    connector.account_ref = info.account_ref
    connector.organization_ref = info.organization_ref


async def activate_connector(
    uow_factory: UowFactory,
    vault: Vault,
    providers: ProviderFactory,
    principal: Principal,
    connector_id: uuid.UUID,
) -> ConnectorView:
    """Make this the workspace's one active connector, deactivating the previous one.

    A Square connector not yet proven to see its location is proven first, with no
    transaction held while Square answers; a failure leaves everything as it was. The
    workspace's projection row is then locked, so concurrent activations in one workspace
    run one after the other; the partial unique index is the last line.
    """
    proof: AccountInfo | None = None
    proven_config: str | None = None
    async with uow_factory() as uow:
        _, connector = await owned(uow, principal, connector_id)
        if needs_location_proof(connector):
            proven_config = connector.config_encrypted
            config = config_of(connector, vault)
    if proven_config is not None:
        proof = await prove_location(providers, config)
    async with uow_factory() as uow:
        return await _activate(uow, vault, principal, connector_id, proof, proven_config)


async def _activate(
    uow: ConnectorsUnitOfWork,
    vault: Vault,
    principal: Principal,
    connector_id: uuid.UUID,
    proof: AccountInfo | None,
    proven_config: str | None,
) -> ConnectorView:
    workspace, connector = await owned(uow, principal, connector_id, lock=True)
    if proof is not None:
        # Fernet ciphertext differs on every write: equal means the very config proven.
        if connector.config_encrypted != proven_config:
            raise ConcurrentChange()
        _mark_verified(connector, proof)
        connector.updated_at = datetime.now(UTC)
    elif needs_location_proof(connector):  # verification was reset meanwhile
        raise ConcurrentChange()
    if not connector.is_active:
        previous = await uow.connectors.active(workspace.workspace_id)
        if previous is not None:
            previous.is_active = False
            previous.updated_at = datetime.now(UTC)
            await uow.session.flush()
            await uow.emit(ConnectorDeactivatedV1(**_state(previous)))
        connector.is_active = True
        connector.updated_at = datetime.now(UTC)
        try:
            await uow.session.flush()
        except IntegrityError:
            raise ConcurrentChange() from None
        await uow.emit(ConnectorActivatedV1(**_state(connector)))
    await uow.commit()
    return view(connector, vault)


async def deactivate_connector(
    uow: ConnectorsUnitOfWork, vault: Vault, principal: Principal, connector_id: uuid.UUID
) -> ConnectorView:
    _, connector = await owned(uow, principal, connector_id, lock=True)
    if connector.is_active:
        connector.is_active = False
        connector.updated_at = datetime.now(UTC)
        await uow.emit(ConnectorDeactivatedV1(**_state(connector)))
        await uow.commit()
    return view(connector, vault)


async def active_connector(
    uow: ConnectorsUnitOfWork, principal: Principal
) -> tuple[Workspace, Connector]:
    if principal.user_id is not None:
        found = await uow.connectors.active_of_owner(principal.user_id)
        if found is not None:
            return found
    # Not found in one statement: the workspace may not have arrived yet (read your writes).
    workspace = await workspace_of(uow, principal)
    if workspace is None:
        raise NoActiveConnector()
    connector = await uow.connectors.active(workspace.workspace_id)
    if connector is None:
        raise NoActiveConnector()
    return workspace, connector


async def check_connector(
    uow_factory: UowFactory,
    vault: Vault,
    providers: ProviderFactory,
    principal: Principal,
    connector_id: uuid.UUID,
) -> ConnectorView:
    """Ask the provider whether the credentials work; the outcome is stored either way.

    No transaction is held while the provider answers. A provider failure is re-raised
    after the error status is committed, so the caller gets the mapped 4xx/5xx.
    """
    async with uow_factory() as uow:
        _, connector = await owned(uow, principal, connector_id)
        config = config_of(connector, vault)
        checked_config = connector.config_encrypted
    failure: ProviderError | None = None
    try:
        info = await providers.build(config).check()
    except ProviderNotFound as exc:  # e.g. a location id the account does not have
        failure = ProviderRejected(exc.provider, exc.reason)
    except ProviderError as exc:
        failure = exc
    async with uow_factory() as uow:
        _, connector = await owned(uow, principal, connector_id, lock=True)
        connector.checked_at = datetime.now(UTC)
        connector.updated_at = connector.checked_at
        if failure is None:
            connector.status = "ok"
            connector.last_error = None
            connector.account_ref = info.account_ref
            connector.organization_ref = info.organization_ref
            # A check asks for the configured location too (Square), so it proves it, as
            # long as the config is still the one checked.
            if connector.config_encrypted == checked_config:
                connector.verified_at = connector.checked_at
        else:
            connector.status = "error"
            connector.last_error = str(failure)[:1000]
        await uow.commit()
        result = ConnectorView(connector, config.masked())
    if failure is not None:
        log.info(
            "connector check failed",
            extra={"connector_id": str(connector_id), "provider": config.provider},
        )
        raise failure
    return result
