"""`python -m workspaces`: serve the workspaces service with uvicorn."""

import uvicorn

from workspaces.main import create_app
from workspaces.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host="0.0.0.0",
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
