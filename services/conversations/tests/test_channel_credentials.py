"""Channel account credentials: typed per channel, encrypted at rest, masked on every read,
kept when a change does not send them, refused without echoing a secret, rotatable."""

import os
import subprocess
import sys
from uuid import uuid4

import pytest
from cryptography.fernet import Fernet

from shared.crypto import DEV_ENCRYPTION_KEY

from .fakes import TWILIO_SID

API = "/api/v1"
SECRET = "super-secret-token-value-9876"


async def create(client, owner, channel, credentials, account_id=None):
    return await client.post(
        f"{API}/channel-accounts/",
        json={
            "channel": channel,
            "account_id": account_id or f"acc-{uuid4().hex}",
            "credentials": credentials,
        },
        headers=owner.headers,
    )


async def test_credentials_are_encrypted_at_rest_and_masked_on_every_read(
    client, new_owner, query
) -> None:
    owner = await new_owner()
    created = await create(client, owner, "whatsapp", {"access_token": SECRET})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["credentials"] == {"access_token": "****9876"}
    assert body["can_send"] is True
    read = await client.get(f"{API}/channel-accounts/{body['id']}", headers=owner.headers)
    listed = await client.get(f"{API}/channel-accounts/", headers=owner.headers)
    for text in (created.text, read.text, listed.text):
        assert SECRET not in text
    (row,) = await query(
        "SELECT credentials_encrypted FROM conversations.channel_accounts WHERE id = :id",
        id=body["id"],
    )
    assert SECRET not in row.credentials_encrypted
    assert SECRET in Fernet(DEV_ENCRYPTION_KEY.encode()).decrypt(row[0].encode()).decode()


async def test_patch_keeps_secrets_not_sent_and_can_remove_credentials(
    client, new_owner, query
) -> None:
    owner = await new_owner()
    created = (
        await create(
            client, owner, "sms", {"account_sid": TWILIO_SID, "auth_token": SECRET}, "+15550001"
        )
    ).json()
    url = f"{API}/channel-accounts/{created['id']}"
    renamed = await client.patch(url, json={"name": "Front desk"}, headers=owner.headers)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["credentials"]["auth_token"] == "****9876"
    key_pair = {"api_key_sid": "SK" + "1" * 32, "api_key_secret": "key-secret-abcdef-1234"}
    changed = await client.patch(url, json={"credentials": key_pair}, headers=owner.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["credentials"] == {
        "account_sid": TWILIO_SID,
        "auth_token": "****9876",  # kept: not sent
        "api_key_sid": "SK" + "1" * 32,
        "api_key_secret": "****1234",
    }
    removed = await client.patch(url, json={"credentials": None}, headers=owner.headers)
    assert (removed.json()["credentials"], removed.json()["can_send"]) == (None, False)


@pytest.mark.parametrize(
    ("channel", "credentials", "field"),
    [
        ("whatsapp", {"access_token": SECRET, "extra": SECRET}, "credentials.extra"),
        ("whatsapp", {"page_access_token": SECRET}, "credentials.access_token"),
        ("sms", {"account_sid": "not-a-sid", "auth_token": SECRET}, "credentials.account_sid"),
        ("sms", {"account_sid": TWILIO_SID}, "auth_token"),
        ("chatgpt", {"callback_url": "ftp://example.com/" + SECRET}, "credentials.callback_url"),
        ("messenger", {"page_access_token": "short"}, "credentials.page_access_token"),
    ],
)
async def test_bad_credentials_are_a_422_naming_the_field_without_echoing_a_secret(
    client, new_owner, query, channel, credentials, field
) -> None:
    owner = await new_owner()
    account_id = f"acc-{uuid4().hex}"
    response = await create(client, owner, channel, credentials, account_id)
    assert response.status_code == 422
    assert field in response.json()["detail"]
    assert SECRET not in response.text
    rows = await query(
        "SELECT 1 FROM conversations.channel_accounts WHERE account_id = :a", a=account_id
    )
    assert rows == []  # nothing half-written


async def test_a_patch_with_bad_credentials_changes_nothing(client, new_owner) -> None:
    owner = await new_owner()
    created = (await create(client, owner, "whatsapp", {"access_token": SECRET})).json()
    url = f"{API}/channel-accounts/{created['id']}"
    response = await client.patch(
        url, json={"credentials": {"access_token": "x"}}, headers=owner.headers
    )
    assert response.status_code == 422
    assert "credentials.access_token" in response.json()["detail"]
    after = (await client.get(url, headers=owner.headers)).json()
    assert after["credentials"] == {"access_token": "****9876"}


async def test_another_owners_channel_account_is_404_for_patch(client, new_owner) -> None:
    owner, stranger = await new_owner(), await new_owner()
    created = (await create(client, owner, "whatsapp", {"access_token": SECRET})).json()
    response = await client.patch(
        f"{API}/channel-accounts/{created['id']}", json={"name": "mine"}, headers=stranger.headers
    )
    assert response.status_code == 404


async def test_reencrypt_command_moves_every_credential_to_the_newest_key(
    client, new_owner, query, settings
) -> None:
    owner = await new_owner()
    created = (await create(client, owner, "whatsapp", {"access_token": SECRET})).json()
    new_key = Fernet.generate_key().decode()
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "CONNECTOR_ENCRYPTION_KEYS": f"{new_key},{DEV_ENCRYPTION_KEY}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "conversations.reencrypt"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "re-encrypted" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    (row,) = await query(
        "SELECT credentials_encrypted FROM conversations.channel_accounts WHERE id = :id",
        id=created["id"],
    )
    assert SECRET in Fernet(new_key.encode()).decrypt(row[0].encode()).decode()
