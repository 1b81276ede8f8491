"""Pure rules: no database, broker or network."""

import email.utils
import time

import httpx
import pytest

from connectors.domain.config import merge_config, parse_config
from connectors.domain.errors import InvalidSignature
from connectors.domain.webhooks import (
    read_square,
    square_signature,
    verify_calendly,
    verify_square,
)
from connectors.providers.base import retry_after_seconds
from shared.secrets import mask


def test_mask_shows_at_most_the_last_four_characters() -> None:
    assert mask("abcdefghijklmnop") == "****mnop"
    assert mask("short-token") == "****"  # too short to show any of it


def test_secrets_never_appear_in_reprs_or_dumps() -> None:
    config = parse_config({"provider": "calendly", "access_token": "super-secret-token"})
    assert "super-secret-token" not in repr(config)
    assert "super-secret-token" not in str(config.model_dump())
    assert config.plain()["access_token"] == "super-secret-token"


def test_a_partial_update_keeps_secrets_and_cannot_change_provider() -> None:
    config = parse_config(
        {"provider": "square", "access_token": "EAAA-token-1234", "location_id": "L1"}
    )
    merged = merge_config(config, {"location_id": "L2"})
    assert merged.plain()["access_token"] == "EAAA-token-1234"
    assert merged.plain()["location_id"] == "L2"
    with pytest.raises(ValueError, match="provider"):
        merge_config(config, {"provider": "calendly"})


def test_a_secret_sent_back_masked_as_read_keeps_its_value_and_a_new_one_replaces_it() -> None:
    config = parse_config(
        {"provider": "square", "access_token": "EAAA-token-1234", "location_id": "L1"}
    )
    read = config.masked()
    assert read["access_token"] == "****1234"
    echoed = merge_config(config, read | {"location_id": "L2"})
    assert echoed.plain()["access_token"] == "EAAA-token-1234"
    assert echoed.plain()["location_id"] == "L2"
    replaced = merge_config(config, {"access_token": "EAAA-token-5678"})
    assert replaced.plain()["access_token"] == "EAAA-token-5678"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    def response(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after_seconds(response("3")) == 3.0
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after_seconds(response(future)) or 0) <= 31
    assert retry_after_seconds(response("soon")) is None
    assert retry_after_seconds(httpx.Response(429)) is None


def test_calendly_signature_accepts_any_matching_v1_and_refuses_old_or_future_times() -> None:
    import hashlib
    import hmac

    body = b'{"event":"invitee.created"}'
    now = int(time.time())
    good = hmac.new(b"k", f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    verify_calendly(f"t={now},v1=deadbeef,v1={good}", body, "k", now, 300)
    for header, at in (
        (f"t={now},v1={good}", now + 301),
        (f"t={now},v1={good}", now - 301),
        (f"t={now},v1={'0' * 64}", now),
        ("v1=abc", now),
        (None, now),
    ):
        with pytest.raises(InvalidSignature):
            verify_calendly(header, body, "k", at, 300)


def test_square_signature_covers_the_notification_url_and_the_body() -> None:
    url, body = "https://base.example/api/v1/webhooks/square", b'{"type":"booking.created"}'
    signature = square_signature(url, body, "key")
    verify_square(signature, url, body, "key")
    with pytest.raises(InvalidSignature):
        verify_square(signature, "http://other/api/v1/webhooks/square", body, "key")
    with pytest.raises(InvalidSignature):
        verify_square(signature, url, body + b" ", "key")


def test_square_booking_updates_other_than_cancellations_are_ignored() -> None:
    def event(type_: str, status: str) -> dict:
        return {
            "type": type_,
            "event_id": "e1",
            "merchant_id": "M",
            "data": {"object": {"booking": {"id": "B", "status": status, "location_id": "L"}}},
        }

    assert read_square(event("booking.updated", "ACCEPTED")).kind == "ignored"
    assert read_square(event("booking.updated", "CANCELLED_BY_SELLER")).kind == "cancelled"
    assert read_square(event("booking.updated", "DECLINED")).kind == "cancelled"
    assert read_square(event("booking.created", "PENDING")).kind == "created"
