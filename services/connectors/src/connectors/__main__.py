"""`python -m connectors`: serve the connectors service."""

from connectors.main import create_app
from connectors.settings import Settings
from shared.runtime import serve


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings.port)


if __name__ == "__main__":
    main()
