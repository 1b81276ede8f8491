"""`python -m workspaces`: serve the workspaces service."""

from shared.runtime import serve
from workspaces.main import create_app
from workspaces.settings import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings.port)


if __name__ == "__main__":
    main()
