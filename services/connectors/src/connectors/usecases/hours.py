"""The active connector's opening hours, for visitor pages and the agent."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from connectors.domain.hours import OpeningHours, opening_hours
from connectors.usecases.connectors import UowFactory, active_connector, config_of
from shared.crypto import Vault
from shared.tokens import Principal


async def read_opening_hours(
    uow_factory: UowFactory, vault: Vault, principal: Principal, now: datetime | None = None
) -> OpeningHours:
    """Read from the connector's own configuration: no provider is called."""
    async with uow_factory() as uow:
        workspace, connector = await active_connector(uow, principal)
        config = config_of(connector, vault)
        timezone = workspace.timezone
    today = (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()
    return opening_hours(config, timezone, today)
