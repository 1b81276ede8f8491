"""`python -m gateway`: serve the gateway service."""

from gateway.main import create_app
from gateway.settings import Settings
from shared.runtime import serve


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings.port)


if __name__ == "__main__":
    main()
