"""`python -m workspaces`: serve the workspaces service."""

from fastapi import FastAPI

from shared.runtime import serve, served
from workspaces.main import create_app
from workspaces.settings import Settings


def served_app(settings: Settings | None = None) -> FastAPI:
    """The app one server process serves (each of the `WEB_CONCURRENCY` uvicorn workers
    calls this with no settings and builds its own)."""
    return served(create_app(settings))


def main() -> None:
    settings = Settings()
    serve("workspaces.__main__:served_app", settings, settings.port)


if __name__ == "__main__":
    main()
