"""Typed settings that hold secrets (connector configurations, channel credentials).

Secrets are `SecretStr`, so they never show in reprs or logs; `masked()` is what an answer
may show, `plain()` what encryption and provider calls need, and `merged()` a partial
update that never loses or overwrites a secret by accident.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr


def mask(secret: str) -> str:
    """`****abcd`: enough to recognise a key, never enough to use it."""
    return "****" + (secret[-4:] if len(secret) >= 12 else "")


class SecretModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def secret_fields(self) -> list[str]:
        return [k for k, v in self if isinstance(v, SecretStr)]

    def plain(self) -> dict[str, Any]:
        """Everything, secrets revealed: only for encryption and provider calls."""
        out = self.model_dump(mode="json")
        for name in self.secret_fields():
            value = getattr(self, name)
            out[name] = value.get_secret_value() if value is not None else None
        return out

    def masked(self) -> dict[str, Any]:
        out = self.model_dump(mode="json")
        for name in self.secret_fields():
            value = getattr(self, name)
            out[name] = mask(value.get_secret_value()) if value is not None else None
        return out

    def merged(self, changes: dict[str, Any]) -> dict[str, Any]:
        """The plain values after a partial update, to validate again.

        A field not sent keeps its value; so does a secret sent back exactly in the masked
        form a read showed, since a frontend may send back what it read.
        """
        plain = self.plain()
        echoed = {
            name
            for name in self.secret_fields()
            if plain.get(name) is not None and changes.get(name) == mask(plain[name])
        }
        return plain | {k: v for k, v in changes.items() if k not in echoed}
