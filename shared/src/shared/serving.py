"""`serve()`: how a service process runs its app with uvicorn.

Kept apart from `shared.runtime` on purpose: with `WEB_CONCURRENCY` above 1 the process that
calls it is only uvicorn's supervisor, and importing the whole stack there (FastAPI,
FastStream, SQLAlchemy, the service's app) would cost it some 60 MB it never uses.
"""

from __future__ import annotations

import importlib
from typing import Any

from shared.logging import configure_logging
from shared.settings import ServiceSettings


def serve(app_factory: str, settings: ServiceSettings, port: int) -> None:
    """Run one service with uvicorn: our JSON logging, and time to drain on SIGTERM.

    `app_factory` names the service's server factory, `"<service>.__main__:served_app"`:
    called with `settings` it builds the app this process serves; called with nothing (as
    uvicorn's workers call it) it reads the settings from the environment itself.

    On SIGTERM uvicorn stops accepting, lets requests in flight finish (up to 20 s), then
    the lifespan stops the relay after its batch and the consumers after their messages.
    Forwarded headers are believed only from `TRUSTED_PROXIES` (the ingress in front of the
    gateway; the gateway in front of a service), never from uvicorn's own environment default.

    `WEB_CONCURRENCY=1` (the default): this process builds the app and serves it. Above 1,
    uvicorn's own supervisor binds the port once and spawns that many workers, each a fresh
    interpreter that imports `app_factory` and builds its own app, engine, broker connection,
    consumers and relay; it replaces a worker that dies, and on SIGTERM (or SIGINT) sends
    SIGTERM to every worker and waits until all have drained as above. Several workers of one
    service are as safe as several replicas: consumers of a queue compete (RabbitMQ gives each
    message to one of them, the inbox skips a redelivered one), and relays claim outbox rows
    `FOR UPDATE SKIP LOCKED` and hold back an aggregate's later rows while an earlier one is
    unpublished, so no two relays publish one row and an aggregate's events keep their order.
    What is per process becomes per worker: the DB pool, `/metrics` (a scrape sees one
    worker), in-process rate limits and stream caps.
    """
    import uvicorn

    options: dict[str, Any] = {
        "host": "0.0.0.0",
        "port": port,
        "log_config": None,
        "timeout_graceful_shutdown": 20,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.trusted_proxies,
    }
    if settings.web_concurrency == 1:
        module, _, name = app_factory.partition(":")
        factory = getattr(importlib.import_module(module), name)
        uvicorn.run(factory(settings), **options)
        return
    # The supervisor logs too (workers starting, dying, stopping): in our format.
    configure_logging(
        app_factory.split(".", 1)[0], settings.log_level, settings.resolved_log_format
    )
    uvicorn.run(app_factory, factory=True, workers=settings.web_concurrency, **options)
