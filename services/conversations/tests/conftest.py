from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from conversations.main import create_app
from conversations.settings import Settings
from shared.testing import internal_headers, migrated_database, running, test_names

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(**test_names("conversations"), secret_key="test-secret", relay_poll_seconds=0.5)


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[str]:
    async with migrated_database(settings.database_url, [ALEMBIC_INI]) as url:
        yield url


@pytest.fixture(scope="session")
async def client(settings: Settings, database: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(settings)) as client:
        yield client


@pytest.fixture
def as_user(settings: Settings):
    """Headers the gateway would send for this user."""

    def headers(user_id: UUID | None, is_superuser: bool = False) -> dict[str, str]:
        return internal_headers(settings.secret_key, "conversations", user_id, is_superuser)

    return headers
