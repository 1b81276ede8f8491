"""`python -m workspaces`: serve the workspaces service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.serving import serve
from workspaces.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def served_app(settings: Settings | None = None) -> FastAPI:
    """The app one server process serves (each of the `WEB_CONCURRENCY` uvicorn workers
    calls this with no settings and builds its own). Imported here, not above: a supervisor
    of several workers never builds an app, and should not carry one."""
    from shared.runtime import served
    from workspaces.main import create_app

    return served(create_app(settings))


def main() -> None:
    settings = Settings()
    serve("workspaces.__main__:served_app", settings, settings.port)


if __name__ == "__main__":
    main()
