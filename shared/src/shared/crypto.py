"""Secrets at rest: MultiFernet over a comma-separated key list, newest first.

The newest key encrypts; every listed key decrypts, so a key can be added in front, rows
re-encrypted, and the old key removed afterwards. Connector configurations and channel
account credentials both use it, under the same `CONNECTOR_ENCRYPTION_KEYS` setting.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)

# A fixed key so a fresh checkout runs; startup logs a warning while it is in use.
DEV_ENCRYPTION_KEY = "x0QdNfYtVbq6Vt7k3XxY9w7m8H3u0P2yKc8gQh1sZ6E="


class UnreadableSecret(Exception):
    """No configured key decrypts this value (a key was removed before re-encrypting)."""


def parse_keys(value: str) -> list[str]:
    """`CONNECTOR_ENCRYPTION_KEYS` as a list, blanks dropped."""
    return [k.strip() for k in value.split(",") if k.strip()]


class Vault:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:  # never echo the key itself
            raise ValueError("CONNECTOR_ENCRYPTION_KEYS holds an invalid Fernet key") from exc
        self.uses_dev_key = DEV_ENCRYPTION_KEY in keys

    def warn_if_dev_key(self) -> None:
        if self.uses_dev_key:
            log.warning(
                "CONNECTOR_ENCRYPTION_KEYS contains the development key; set real keys in "
                "production"
            )

    def encrypt(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data, sort_keys=True).encode()).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            value: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise UnreadableSecret("stored secret cannot be decrypted") from exc
        return value

    def rotate(self, token: str) -> str:
        """The same plaintext under the newest key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise UnreadableSecret("stored secret cannot be decrypted") from exc
