import pytest
from pydantic import ValidationError

from shared.settings import ServiceSettings, async_database_url


def test_short_secret_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        ServiceSettings(secret_key="too-short")


def test_plain_postgres_urls_use_asyncpg() -> None:
    assert async_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_database_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    settings = ServiceSettings(database_url="postgresql://postgres@db:5432/base")
    assert settings.database_url == "postgresql+asyncpg://postgres@db:5432/base"
