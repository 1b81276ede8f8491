"""Whether a channel account has proved it is its claimant's: the rules, without the calls.

Only a verified account routes inbound messages, and one provider account has at most one
verified claim (the database holds that too). A provider that does not answer leaves an
earlier proof standing, so an outage never unroutes an account; a refusal, or credentials
taken away, ends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verification = Literal["verified", "unverified", "failed"]


@dataclass(frozen=True, slots=True)
class Proof:
    verification: Verification
    reason: str | None = None
    answered: bool = True  # False: the provider could not be asked (timeout, 5xx, 429)


NO_CREDENTIALS = Proof(
    "unverified",
    "Add credentials: an account receives messages only once the provider confirms they reach it",
)
SIGNED = Proof("verified")
DISPLACED = (
    "Another workspace proved this account is its own; add credentials that reach it and "
    "verify again if it is yours"
)


def after_check(current: str, proof: Proof) -> Proof:
    """The account's verification once `proof` comes back."""
    if current == "verified" and not proof.answered:
        return Proof("verified", proof.reason, answered=False)
    return proof
