"""`python -m conversations`: serve the conversations service."""

from conversations.main import create_app
from conversations.settings import Settings
from shared.runtime import serve


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings.port)


if __name__ == "__main__":
    main()
