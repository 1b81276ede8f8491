"""`python -m conversations`: serve the conversations service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conversations.settings import Settings
from shared.serving import serve

if TYPE_CHECKING:
    from fastapi import FastAPI


def served_app(settings: Settings | None = None) -> FastAPI:
    """The app one server process serves (each of the `WEB_CONCURRENCY` uvicorn workers
    calls this with no settings and builds its own). Imported here, not above: a supervisor
    of several workers never builds an app, and should not carry one."""
    from conversations.main import create_app
    from shared.runtime import served

    return served(create_app(settings))


def main() -> None:
    settings = Settings()
    serve("conversations.__main__:served_app", settings, settings.port)


if __name__ == "__main__":
    main()
