"""One OpenAPI document for the whole API: the gateway's routes plus every service's."""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.proxy.forward import Forwarder
from gateway.proxy.routes import match
from shared.tokens import ANONYMOUS

log = logging.getLogger(__name__)
SECURITY = [{"OAuth2PasswordBearer": []}]


class MergedOpenAPI:
    def __init__(self, app: FastAPI, forwarder: Forwarder, ttl: float = 30.0) -> None:
        self.app = app
        self.forwarder = forwarder
        self.ttl = ttl
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def document(self) -> dict[str, Any]:
        async with self._lock:
            if self._cached and self._cached[0] > time.monotonic():
                return self._cached[1]
            doc = await self._build()
            # Cache a complete document for longer than a partial one.
            ttl = self.ttl if not doc.get("x-unavailable-services") else 2.0
            self._cached = (time.monotonic() + ttl, doc)
            return doc

    async def _build(self) -> dict[str, Any]:
        doc = get_openapi(
            title="Base Platform API",
            version="1.0.0",
            description=(
                "One API for the web and mobile frontends, channel webhooks and integrators. "
                "Authenticate with `POST /api/v1/login/access-token` and send "
                "`Authorization: Bearer <token>`. Lists answer `{data, count}` and take "
                "`skip` and `limit`; errors answer `{detail}`."
            ),
            routes=self.app.routes,
        )
        doc.setdefault("components", {}).setdefault("schemas", {})
        results = await asyncio.gather(
            *(self._fetch(s) for s in self.forwarder.targets), return_exceptions=True
        )
        missing = []
        for service, result in zip(self.forwarder.targets, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("openapi of %s unavailable: %s", service, result)
                missing.append(service)
                continue
            self._merge(doc, service, result)
        if missing:
            doc["x-unavailable-services"] = missing
        return doc

    async def _fetch(self, service: str) -> dict[str, Any]:
        url = f"{self.forwarder.targets[service]}/api/v1/openapi.json"
        headers = {"authorization": f"Bearer {self.forwarder.token(service, ANONYMOUS)}"}
        response = await self.forwarder.client.get(url, headers=headers, timeout=3.0)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    @staticmethod
    def _merge(doc: dict[str, Any], service: str, other: dict[str, Any]) -> None:
        for path, operations in other.get("paths", {}).items():
            route = match(path)
            if route is None or route.service != service:
                continue  # only what the gateway actually forwards to this service
            ops = copy.deepcopy(operations)
            for operation in ops.values():
                if isinstance(operation, dict) and not route.public:
                    operation.setdefault("security", SECURITY)
            doc["paths"][path] = ops
        schemas = doc["components"]["schemas"]
        for name, schema in other.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(name, schema)
