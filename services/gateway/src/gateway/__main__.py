"""`python -m gateway`: serve the gateway service with uvicorn."""

import uvicorn

from gateway.main import create_app
from gateway.settings import Settings


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
