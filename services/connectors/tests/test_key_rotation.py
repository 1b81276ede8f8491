import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet, InvalidToken

from shared.crypto import UnreadableSecret, Vault

from .conftest import KEY_A, KEY_B
from .fakes import SQUARE_TOKEN
from .support import BASE, create, square_config


def test_a_value_written_with_an_old_key_is_read_after_a_new_key_is_added() -> None:
    old = Vault([KEY_B])
    token = old.encrypt({"access_token": "secret-value"})
    rotated = Vault([KEY_A, KEY_B])
    assert rotated.decrypt(token) == {"access_token": "secret-value"}
    with pytest.raises(UnreadableSecret):
        Vault([Fernet.generate_key().decode()]).decrypt(token)


async def test_reencrypt_command_moves_every_row_to_the_newest_key(
    client, owner, query, settings
) -> None:
    me = await owner()
    body = await create(client, me.headers, square_config())
    (before,) = (
        await query(
            "SELECT config_encrypted FROM connectors.connectors WHERE id = :id", id=body["id"]
        )
    )[0]
    Fernet(KEY_A.encode()).decrypt(before.encode())  # written with the app's newest key

    # The operator puts KEY_B first and runs the command; the app still knows both keys.
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "CONNECTOR_ENCRYPTION_KEYS": f"{KEY_B},{KEY_A}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "connectors.reencrypt"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "re-encrypted" in result.stdout
    assert SQUARE_TOKEN not in result.stdout + result.stderr

    (after,) = (
        await query(
            "SELECT config_encrypted FROM connectors.connectors WHERE id = :id", id=body["id"]
        )
    )[0]
    assert after != before
    assert SQUARE_TOKEN in Fernet(KEY_B.encode()).decrypt(after.encode()).decode()
    with pytest.raises(InvalidToken):
        Fernet(KEY_A.encode()).decrypt(after.encode())
    # And the service still answers with the masked config.
    got = await client.get(f"{BASE}/{body['id']}", headers=me.headers)
    assert got.status_code == 200
    assert got.json()["config"]["access_token"] == "****" + SQUARE_TOKEN[-4:]
