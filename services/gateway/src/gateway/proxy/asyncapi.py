"""One AsyncAPI document for every event on the bus: `/api/v1/asyncapi.json` and its page.

Built from the event catalogue and each service's own document (its subscribers), fetched
with an internal token like the OpenAPI documents, so producers and consumers are the ones
actually running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.proxy.forward import Forwarder
from shared.asyncapi import html, merged_document, service_document
from shared.bus import Bus
from shared.tokens import ANONYMOUS

log = logging.getLogger(__name__)


class MergedAsyncAPI:
    def __init__(self, bus: Bus, forwarder: Forwarder, ttl: float = 30.0) -> None:
        self.bus = bus
        self.forwarder = forwarder
        self.ttl = ttl
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._own: dict[str, Any] | None = None
        self._lock = asyncio.Lock()

    async def document(self) -> dict[str, Any]:
        async with self._lock:
            if self._cached and self._cached[0] > time.monotonic():
                return self._cached[1]
            doc = await self._build()
            ttl = self.ttl if not doc.get("x-unavailable-services") else 2.0
            self._cached = (time.monotonic() + ttl, doc)
            return doc

    async def _build(self) -> dict[str, Any]:
        services = list(self.forwarder.targets)
        results = await asyncio.gather(*(self._fetch(s) for s in services), return_exceptions=True)
        if self._own is None:
            self._own = service_document(self.bus)
        documents: dict[str, dict[str, Any]] = {"gateway": self._own}
        missing = []
        for service, result in zip(services, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("asyncapi of %s unavailable: %s", service, result)
                missing.append(service)
            else:
                documents[service] = result
        return merged_document(documents, self.bus.exchange.name, missing)

    async def _fetch(self, service: str) -> dict[str, Any]:
        url = f"{self.forwarder.targets[service]}/api/v1/asyncapi.json"
        headers = {"authorization": f"Bearer {self.forwarder.token(service, ANONYMOUS)}"}
        # A service builds its document on the first request, which is slow on a busy host.
        response = await self.forwarder.client.get(url, headers=headers, timeout=10.0)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def router(docs: MergedAsyncAPI) -> APIRouter:
    routes = APIRouter()

    @routes.get("/api/v1/asyncapi.json", include_in_schema=False)
    async def asyncapi_json(_: Request) -> JSONResponse:
        return JSONResponse(await docs.document())

    @routes.get("/api/v1/asyncapi", include_in_schema=False)
    async def asyncapi_page() -> HTMLResponse:
        return HTMLResponse(html(await docs.document()))

    return routes
