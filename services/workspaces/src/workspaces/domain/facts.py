"""Business facts visitors ask about: where the business is, how to reach it, how to pay,
its policies and its own answers to frequent questions.

Limits are here so the API, the database constraints and the messages agree. Each rule
returns the value to store or raises `InvalidFact` with a message the caller reads.
"""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers
from email_validator import EmailNotValidError, validate_email

ADDRESS_MAX_LENGTH = 300
MAP_URL_MAX_LENGTH = 2000
EMAIL_MAX_LENGTH = 254
PHONE_MAX_LENGTH = 16  # E.164: "+" and at most 15 digits
PAYMENT_METHODS_MAX = 20
PAYMENT_METHOD_MAX_LENGTH = 60
POLICY_MAX_LENGTH = 500
POLICIES = ("cancellation", "lateness", "deposit")
FAQ_MAX = 50
QUESTION_MAX_LENGTH = 300
ANSWER_MAX_LENGTH = 1000
FAQ_LANGUAGES = ("en", "es", "pt", "fr", "de", "it")

_PHONE_EXAMPLE = "+34 912 345 678"


class InvalidFact(ValueError):
    """A fact that cannot be stored; the message says why."""


def e164_phone(value: str, region: str | None = None) -> str:
    """The number in E.164 (`+34912345678`). Without a region (a workspace keeps no country
    yet) it must be written in international form, starting with + and the country code."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise InvalidFact(
                "Phone number must start with + and the country code, "
                f"for example '{_PHONE_EXAMPLE}'"
            ) from exc
        raise InvalidFact(f"'{value}' is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidFact(
            f"'{value}' is not a valid phone number; write it with + and the country code, "
            f"for example '{_PHONE_EXAMPLE}'"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def checked_email(value: str) -> str:
    """The address in its normalized form. Syntax only: no DNS lookup while saving."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidFact(f"Not a valid e-mail address: {exc}") from exc


def payment_methods(values: Iterable[str]) -> list[str]:
    """Trimmed, none blank, none too long; a repeat (ignoring case) is dropped, the first
    spelling kept."""
    kept: list[str] = []
    seen: set[str] = set()
    for raw in values:
        method = " ".join(raw.split())
        if not method:
            raise InvalidFact("A payment method cannot be blank")
        if len(method) > PAYMENT_METHOD_MAX_LENGTH:
            raise InvalidFact(
                f"A payment method has at most {PAYMENT_METHOD_MAX_LENGTH} characters: "
                f"'{method[:20]}...' is longer"
            )
        if method.casefold() not in seen:
            seen.add(method.casefold())
            kept.append(method)
    if len(kept) > PAYMENT_METHODS_MAX:
        raise InvalidFact(f"At most {PAYMENT_METHODS_MAX} payment methods")
    return kept
