"""Provider clients behind one interface; base URLs come only from operator settings."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from connectors.db.uow import ConnectorsUnitOfWork
from connectors.domain.config import (
    AgendaProConfig,
    AnyConfig,
    BuiltinConfig,
    CalendlyConfig,
    SquareConfig,
)
from connectors.domain.scheduling import ConnectorScope
from connectors.providers.agendapro import AgendaProProvider
from connectors.providers.base import RetryPolicy, SchedulingProvider
from connectors.providers.builtin import BuiltinProvider
from connectors.providers.calendly import CalendlyProvider
from connectors.providers.square import SquareProvider
from connectors.settings import Settings
from shared import telemetry


class ProviderFactory:
    """Builds a provider client for a connector's config on the app's shared httpx client;
    the built-in calendar gets the unit of work instead, since its records are ours."""

    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        uow_factory: Callable[[], ConnectorsUnitOfWork] | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.uow_factory = uow_factory
        self.policy = RetryPolicy(
            timeout_seconds=settings.provider_timeout_seconds,
            max_retries=settings.provider_max_retries,
            backoff_seconds=settings.provider_backoff_seconds,
            max_retry_after_seconds=settings.provider_max_retry_after_seconds,
        )

    def build(self, config: AnyConfig, scope: ConnectorScope | None = None) -> SchedulingProvider:
        s = self.settings
        if isinstance(config, BuiltinConfig):
            if self.uow_factory is None:
                raise TypeError("the built-in calendar needs a unit of work factory")
            return BuiltinProvider(config, self.uow_factory, scope)
        if isinstance(config, CalendlyConfig):
            return CalendlyProvider(config, self.client, s.calendly_api_base_url, self.policy)
        if isinstance(config, SquareConfig):
            base = (
                s.square_sandbox_api_base_url
                if config.environment == "sandbox"
                else s.square_api_base_url
            )
            return SquareProvider(config, self.client, base, s.square_api_version, self.policy)
        if isinstance(config, AgendaProConfig):
            return AgendaProProvider(config, self.client, s.agendapro_api_base_url, self.policy)
        raise TypeError(f"no provider for {type(config).__name__}")

    async def aclose(self) -> None:
        await self.client.aclose()


def http_client() -> httpx.AsyncClient:
    # Redirects are not followed: a provider answer must not send credentials elsewhere.
    client = httpx.AsyncClient(
        follow_redirects=False,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"User-Agent": "base-platform-connectors/1.0", "Accept": "application/json"},
        trust_env=False,
    )
    telemetry.instrument_client(client)  # a client span per provider call
    return client


__all__ = ["ProviderFactory", "SchedulingProvider", "http_client"]
