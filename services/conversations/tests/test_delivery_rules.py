"""Pure rules of the way back: windows, splitting, opt-out words, typed credentials."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from conversations.domain.credentials import (
    SmsCredentials,
    merge_credentials,
    parse_credentials,
)
from conversations.domain.delivery import (
    ReplyTooLong,
    ReplyWindowClosed,
    opt_out_change,
    reply_policy,
    split_reply,
)
from conversations.domain.rules import delivery_advances

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_free_form_replies_are_allowed_within_24_hours_of_the_visitors_last_message() -> None:
    for channel in ("whatsapp", "messenger", "instagram"):
        assert reply_policy(channel, "agent", NOW - timedelta(hours=23), NOW).tag is None


def test_whatsapp_outside_the_window_needs_a_template() -> None:
    with pytest.raises(ReplyWindowClosed, match="template"):
        reply_policy("whatsapp", "owner", NOW - timedelta(hours=25), NOW)
    assert reply_policy("whatsapp", "owner", NOW - timedelta(days=30), NOW, template=True)
    with pytest.raises(ReplyWindowClosed):
        reply_policy("whatsapp", "owner", None, NOW)


def test_owner_replies_on_messenger_get_human_agent_up_to_7_days_agent_replies_never() -> None:
    three_days = NOW - timedelta(days=3)
    assert reply_policy("messenger", "owner", three_days, NOW).tag == "HUMAN_AGENT"
    assert reply_policy("instagram", "owner", three_days, NOW).tag == "HUMAN_AGENT"
    with pytest.raises(ReplyWindowClosed, match="automated"):
        reply_policy("messenger", "agent", three_days, NOW)
    with pytest.raises(ReplyWindowClosed, match="7 days"):
        reply_policy("instagram", "owner", NOW - timedelta(days=8), NOW)


def test_the_window_closes_a_little_early_to_absorb_clock_skew() -> None:
    with pytest.raises(ReplyWindowClosed):
        reply_policy("whatsapp", "agent", NOW - timedelta(hours=23, minutes=58), NOW)


def test_channels_without_a_window_always_accept_replies() -> None:
    for channel in ("sms", "web", "chatgpt", "phone"):
        assert reply_policy(channel, "agent", None, NOW).tag is None


def test_long_replies_split_at_word_boundaries_within_each_channels_limit() -> None:
    words = " ".join(f"word{i:04d}" for i in range(500))  # 4,499 characters
    parts = split_reply("sms", words)
    assert len(parts) == 3
    assert all(len(p) <= 1600 for p in parts)
    assert " ".join(parts) == words  # nothing lost, nothing cut inside a word
    assert split_reply("whatsapp", words[:4000]) == [words[:4000]]


def test_instagram_counts_bytes_not_characters() -> None:
    text = " ".join(["café"] * 300)  # 1,499 characters, 1,799 bytes
    parts = split_reply("instagram", text)
    assert len(parts) == 2
    assert all(len(p.encode()) <= 1000 for p in parts)
    assert " ".join(parts) == text


def test_a_word_longer_than_the_limit_is_refused_rather_than_cut() -> None:
    with pytest.raises(ReplyTooLong, match="word or link"):
        split_reply("instagram", "see https://example.com/" + "a" * 1200)


def test_stop_and_start_words_are_recognised_whole_and_case_insensitive() -> None:
    assert opt_out_change(" Stop ") is True
    assert opt_out_change("UNSUBSCRIBE") is True
    assert opt_out_change("start") is False
    assert opt_out_change("please stop by tomorrow") is None


def test_receipts_move_unknown_and_pending_replies_forward_but_never_undo_failed() -> None:
    assert delivery_advances("unknown", "sent")
    assert delivery_advances("sending", "delivered")
    assert not delivery_advances("failed", "delivered")


def test_credentials_refuse_unknown_fields_and_need_one_twilio_auth() -> None:
    with pytest.raises(ValidationError, match="extra"):
        parse_credentials({"channel": "whatsapp", "access_token": "x" * 20, "token2": "y"})
    with pytest.raises(ValidationError, match="auth_token"):
        parse_credentials({"channel": "sms", "account_sid": "AC" + "a" * 32})
    key_pair = parse_credentials(
        {
            "channel": "sms",
            "account_sid": "AC" + "a" * 32,
            "api_key_sid": "SK" + "b" * 32,
            "api_key_secret": "s" * 20,
        }
    )
    assert isinstance(key_pair, SmsCredentials)
    assert key_pair.basic_auth() == ("SK" + "b" * 32, "s" * 20)


def test_callback_urls_must_be_https_unless_loopback_is_allowed() -> None:
    data = {"channel": "chatgpt", "callback_url": "http://127.0.0.1:9/replies"}
    with pytest.raises(ValidationError, match="https"):
        parse_credentials(data)
    assert parse_credentials(data, allow_loopback_http=True)
    with pytest.raises(ValidationError, match="https"):
        parse_credentials(data | {"callback_url": "http://example.com/x"}, allow_loopback_http=True)


def test_a_partial_change_keeps_the_secrets_not_sent_and_masks_them() -> None:
    current = parse_credentials(
        {"channel": "sms", "account_sid": "AC" + "a" * 32, "auth_token": "token-123456789"}
    )
    merged = merge_credentials(current, {"account_sid": "AC" + "c" * 32})
    assert merged.plain()["auth_token"] == "token-123456789"
    assert merged.masked()["auth_token"] == "****6789"
    assert "token-123456789" not in repr(merged)


def test_credentials_sent_back_as_read_keep_the_stored_secret() -> None:
    current = parse_credentials(
        {"channel": "sms", "account_sid": "AC" + "a" * 32, "auth_token": "token-123456789"}
    )
    echoed = merge_credentials(current, current.masked())
    assert echoed.plain()["auth_token"] == "token-123456789"


async def test_a_burst_on_one_account_is_paced_while_other_accounts_go_at_once() -> None:
    import asyncio
    import time

    from conversations.delivery.pacing import Pacer

    pacer = Pacer()
    started = time.monotonic()
    waits = await asyncio.gather(*(pacer.wait_turn("sms:+1555", 20.0) for _ in range(5)))
    assert time.monotonic() - started >= 0.19  # 5 sends at 20/s: the last one 0.2 s later
    assert sorted(waits)[0] == 0
    assert await pacer.wait_turn("sms:+1666", 20.0) == 0  # another number is not held up


def test_callback_urls_to_internal_addresses_are_refused() -> None:
    for url in (
        "https://10.0.0.5/replies",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://localhost/x",
    ):
        with pytest.raises(ValidationError, match="public address"):
            parse_credentials({"channel": "phone", "callback_url": url})
    assert parse_credentials({"channel": "phone", "callback_url": "https://hooks.example.com/r"})
