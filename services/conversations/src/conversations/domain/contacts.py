"""Contacts: the person behind conversations, one per workspace. Pure rules only.

A contact's phone is kept in E.164 and its e-mail in email-validator's normalised form. Each
carries when it was verified: a WhatsApp or SMS number is verified by the channel (the
person wrote from it); anything typed (in the web chat, by the owner, told to the agent) is
a claim, unverified until a one-time code proves it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# The channels whose visitor id is the person's phone number, as the channel proved it.
PHONE_CHANNELS: frozenset[str] = frozenset({"whatsapp", "sms"})

Field = Literal["name", "phone", "email"]
FIELDS: tuple[Field, ...] = ("name", "phone", "email")
NAME_MAX = 200


class InvalidContactDetail(ValueError):
    """A name, phone or e-mail that cannot be stored (the message says why)."""


class InvalidPhone(InvalidContactDetail):
    """Not a phone number we can store in E.164."""


class InvalidEmail(InvalidContactDetail):
    """Not an e-mail address."""


class InvalidName(InvalidContactDetail):
    pass


class ContactMergeRefused(ValueError):
    """A contact cannot be merged with itself."""


def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """E.164 (`+14155550100`) of a number written any usual way. Without a leading `+` the
    number is read in `default_region` (ISO 3166 alpha-2, e.g. the workspace's own); with no
    region it must be international."""
    text = raw.strip()
    if not text:
        raise InvalidPhone("A phone number cannot be empty")
    try:
        number = phonenumbers.parse(text, (default_region or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        hint = "" if default_region else " (write it with its country code, e.g. +1 415...)"
        raise InvalidPhone(f"{raw!r} is not a phone number{hint}") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(phone: str | None) -> str | None:
    """The country (ISO alpha-2) of an E.164 number, the default for numbers typed near it."""
    if not phone:
        return None
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return None
    return region if region and region != "ZZ" else None


def channel_phone(channel: str, visitor_id: str) -> str | None:
    """The verified phone a WhatsApp or SMS visitor id is (WhatsApp sends it without `+`);
    None for other channels and for senders that are no phone number (short codes)."""
    if channel not in PHONE_CHANNELS:
        return None
    digits = visitor_id.strip().removeprefix("whatsapp:")
    if not digits.startswith("+"):
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, None)
    except phonenumbers.NumberParseException:
        return None
    # The channel proves the number reaches someone: a number the provider delivers to is
    # taken even where libphonenumber's validity data lags (new ranges, test numbers) and
    # `normalize_phone`, meant for typed numbers, would refuse it. A short code is not a
    # possible number, so it stays no phone.
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """email-validator's normalised form (domain lowercased, IDNA), without a DNS lookup."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmail(f"{raw.strip()!r} is not an e-mail address: {exc}") from exc


def normalize_name(raw: str) -> str | None:
    """Whitespace collapsed; None when nothing is left."""
    name = " ".join(raw.split())
    if len(name) > NAME_MAX:
        raise InvalidName(f"A name has at most {NAME_MAX} characters")
    return name or None


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a visitor typed as a way to reach them: an e-mail, a phone, or neither."""

    email: str | None = None
    phone: str | None = None


def read_typed_contact(raw: str | None, default_region: str | None = None) -> Claimed:
    """A web chat's free "contact" field: an e-mail if it is one, else a phone if it is one;
    anything else is not kept as either (it stays on the conversation as typed)."""
    if not raw or not raw.strip():
        return Claimed()
    if "@" in raw:
        try:
            return Claimed(email=normalize_email(raw))
        except InvalidEmail:
            return Claimed()
    try:
        return Claimed(phone=normalize_phone(raw, default_region))
    except InvalidPhone:
        return Claimed()


@dataclass(frozen=True, slots=True)
class Details:
    """A contact's reachable details and when each was verified (None: a claim)."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    phone_verified_at: datetime | None = None
    email_verified_at: datetime | None = None


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


# "Not given", as opposed to None ("clear it").
UNSET: Any = _Unset()


def change_details(
    current: Details,
    now: datetime,
    *,
    name: Any = UNSET,
    phone: Any = UNSET,
    email: Any = UNSET,
    verified: bool = False,
) -> tuple[Details, tuple[Field, ...]]:
    """Apply new (already normalised) values; returns the details and the fields changed.

    A different phone or e-mail is a new claim: its verification is reset, unless `verified`
    says the new values are proven now (a one-time code). The same value typed again keeps
    its verification; `verified` on an unchanged value verifies it.
    """
    result = current
    changed: list[Field] = []
    if name is not UNSET and name != current.name:
        result = replace(result, name=name)
        changed.append("name")
    verifiable: tuple[tuple[Field, Any], ...] = (("phone", phone), ("email", email))
    for field, value in verifiable:
        if value is UNSET:
            continue
        stamp_name = f"{field}_verified_at"
        stamp = now if verified and value is not None else None
        values: dict[str, Any]
        if value == getattr(current, field):
            if stamp is not None and getattr(current, stamp_name) is None:
                values = {stamp_name: stamp}
                result = replace(result, **values)
                changed.append(field)
            continue
        values = {field: value, stamp_name: stamp}
        result = replace(result, **values)
        changed.append(field)
    return result, tuple(changed)


@dataclass(frozen=True, slots=True)
class Side:
    """One contact's details in a merge, with when the contact last changed."""

    details: Details
    updated_at: datetime


def merged_details(keep: Side, other: Side) -> Details:
    """What the kept contact ends with, field by field.

    A verified phone or e-mail beats an unverified one; otherwise a value beats none; between
    two values of the same standing the more recently updated contact's wins, and on a tie
    the kept contact's.
    """
    newer_other = other.updated_at > keep.updated_at

    def pick(field: str) -> tuple[str | None, datetime | None]:
        stamp = f"{field}_verified_at"
        mine = (getattr(keep.details, field), getattr(keep.details, stamp, None))
        theirs = (getattr(other.details, field), getattr(other.details, stamp, None))
        if not theirs[0]:
            return mine
        if not mine[0]:
            return theirs
        if (mine[1] is None) != (theirs[1] is None):
            return mine if mine[1] is not None else theirs
        return theirs if newer_other else mine

    name, _ = pick("name")
    phone, phone_at = pick("phone")
    email, email_at = pick("email")
    return Details(
        name=name,
        phone=phone,
        email=email,
        phone_verified_at=phone_at,
        email_verified_at=email_at,
    )


def check_merge(keep_id: object, other_id: object) -> None:
    if keep_id == other_id:
        raise ContactMergeRefused("A contact cannot be merged with itself")
