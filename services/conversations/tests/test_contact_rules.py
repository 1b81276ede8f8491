"""Contacts' pure rules: phones, e-mails, what a change resets, what a merge keeps."""

from datetime import UTC, datetime, timedelta

import pytest

from conversations.domain.contacts import (
    Claimed,
    ContactMergeRefused,
    Details,
    InvalidEmail,
    InvalidName,
    InvalidPhone,
    Side,
    change_details,
    channel_phone,
    check_merge,
    merged_details,
    normalize_email,
    normalize_name,
    normalize_phone,
    read_typed_contact,
    region_of,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+34 612 34 56 78", None, "+34612345678"),
        ("612 34 56 78", "ES", "+34612345678"),
        ("612-34-56-78", "es", "+34612345678"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("+1 415 555 0100", "ES", "+14155550100"),  # an international number keeps its country
        ("0034 612 345 678", "ES", "+34612345678"),
    ],
)
def test_phones_are_stored_in_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


def test_a_national_number_without_a_region_asks_for_the_country_code() -> None:
    with pytest.raises(InvalidPhone, match="country code"):
        normalize_phone("612 34 56 78")


@pytest.mark.parametrize("raw", ["", "   ", "hello", "+1 555 123 4567", "12"])
def test_what_is_no_phone_number_is_refused(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw, "US")


def test_the_workspace_phone_gives_the_default_region() -> None:
    assert region_of("+34612345678") == "ES"
    assert region_of("+14155550100") == "US"
    assert region_of(None) is None
    assert region_of("nonsense") is None


def test_whatsapp_and_sms_ids_are_the_verified_phone() -> None:
    assert channel_phone("whatsapp", "34612345678") == "+34612345678"  # WhatsApp: no '+'
    assert channel_phone("sms", "+14155550100") == "+14155550100"
    assert channel_phone("sms", "22395") is None  # a short code is no person's phone
    # A number the channel delivers to, though libphonenumber calls the range unassigned
    # (US 555 numbers; new ranges before its data catches up): still the visitor's phone.
    assert channel_phone("whatsapp", "15551230002") == "+15551230002"
    assert channel_phone("sms", "+999123") is None  # no country code 999
    assert channel_phone("messenger", "34612345678") is None  # a PSID, not a phone
    assert channel_phone("web", "+34612345678") is None


def test_emails_are_normalised_without_a_dns_lookup() -> None:
    assert normalize_email("  Ana.Lopez@Example.COM ") == "Ana.Lopez@example.com"
    assert normalize_email("ana@no-such-domain.invalid-tld-xyz") == (
        "ana@no-such-domain.invalid-tld-xyz"
    )
    with pytest.raises(InvalidEmail, match="not an e-mail"):
        normalize_email("ana@")
    with pytest.raises(InvalidEmail):
        normalize_email("ana example.com")


def test_names_are_tidied_and_bounded() -> None:
    assert normalize_name("  Ana   María ") == "Ana María"
    assert normalize_name("   ") is None
    with pytest.raises(InvalidName):
        normalize_name("x" * 201)


def test_a_typed_contact_is_an_email_or_a_phone_or_nothing() -> None:
    assert read_typed_contact("Ana@Example.com") == Claimed(email="Ana@example.com")
    assert read_typed_contact("612 345 678", "ES") == Claimed(phone="+34612345678")
    assert read_typed_contact("call me after 5") == Claimed()
    assert read_typed_contact("ana@") == Claimed()
    assert read_typed_contact(None) == Claimed()


def test_a_changed_phone_or_email_is_a_claim_again() -> None:
    current = Details(
        name="Ana",
        phone="+34612345678",
        email="ana@example.com",
        phone_verified_at=T0,
        email_verified_at=T0,
    )
    now = T0 + timedelta(days=1)
    after, changed = change_details(current, now, phone="+34699999999")
    assert changed == ("phone",)
    assert after.phone == "+34699999999" and after.phone_verified_at is None
    assert after.email_verified_at == T0  # untouched fields keep their proof

    same, changed = change_details(current, now, phone="+34612345678", name="Ana")
    assert changed == () and same == current  # the same value typed again keeps its proof

    cleared, changed = change_details(current, now, email=None)
    assert changed == ("email",) and cleared.email is None and cleared.email_verified_at is None


def test_a_proven_value_is_stamped_verified() -> None:
    current = Details(name="Ana", email="ana@example.com")
    now = T0 + timedelta(hours=1)
    after, changed = change_details(current, now, email="ana@example.com", verified=True)
    assert changed == ("email",) and after.email_verified_at == now
    after, changed = change_details(current, now, phone="+34612345678", verified=True)
    assert after.phone_verified_at == now and after.email_verified_at is None


def test_merge_prefers_verified_then_any_value_then_the_newer() -> None:
    older, newer = T0, T0 + timedelta(days=1)
    keep = Side(
        Details(name=None, phone="+34611111111", email="old@example.com"),
        updated_at=older,
    )
    other = Side(
        Details(
            name="Ana",
            phone="+34622222222",
            email="new@example.com",
            phone_verified_at=T0,
        ),
        updated_at=newer,
    )
    result = merged_details(keep, other)
    assert result.name == "Ana"  # a value beats none
    assert (result.phone, result.phone_verified_at) == ("+34622222222", T0)  # verified wins
    assert result.email == "new@example.com"  # same standing: the newer contact's

    # A verified value of the kept contact beats a newer unverified one.
    keep = Side(Details(phone="+34611111111", phone_verified_at=T0), updated_at=older)
    other = Side(Details(phone="+34622222222"), updated_at=newer)
    assert merged_details(keep, other).phone == "+34611111111"

    # Nothing on the other side changes nothing; a tie keeps the kept contact's.
    keep = Side(Details(name="Ana", email="a@example.com"), updated_at=older)
    assert merged_details(keep, Side(Details(), updated_at=newer)) == keep.details
    other = Side(Details(name="Anna"), updated_at=older)
    assert merged_details(keep, other).name == "Ana"


def test_a_contact_is_not_merged_with_itself() -> None:
    with pytest.raises(ContactMergeRefused):
        check_merge("a", "a")
    check_merge("a", "b")
