"""Pure signature checks and payload parsing, with signatures built as providers document."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from gateway.webhooks import generic, meta, twilio
from gateway.webhooks.common import MalformedPayload, Verdict


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def whatsapp_payload(messages=(), statuses=(), phone_number_id="106540352242922"):
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": phone_number_id,
                            },
                            "contacts": [{"profile": {"name": "Sheena"}, "wa_id": "16505551234"}],
                            "messages": list(messages),
                            "statuses": list(statuses),
                        },
                    }
                ],
            }
        ],
    }


def test_meta_signature_of_the_raw_body_is_accepted() -> None:
    body = b'{"object":"page","entry":[]}'
    assert meta.signature_verdict("s3cret", body, meta_signature("s3cret", body)) is Verdict.OK


@pytest.mark.parametrize(
    ("header", "verdict"),
    [
        (None, Verdict.MISSING),
        ("", Verdict.MISSING),
        ("sha256=" + "0" * 64, Verdict.INVALID),
        ("sha1=abc", Verdict.INVALID),
        ("sha256=ünïcode", Verdict.INVALID),
    ],
)
def test_meta_signature_missing_or_forged_is_refused(header, verdict) -> None:
    assert meta.signature_verdict("s3cret", b"{}", header) is verdict


def test_meta_signature_over_a_reformatted_body_is_refused() -> None:
    body = b'{"a": 1}'
    assert meta.signature_verdict("s3cret", b'{"a":1}', meta_signature("s3cret", body)) is (
        Verdict.INVALID
    )


def test_meta_handshake_echoes_the_challenge_only_for_our_token() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert meta.verification_challenge(params, "tok") == "1158201444"
    assert meta.verification_challenge(params | {"hub.verify_token": "nope"}, "tok") is None
    assert meta.verification_challenge(params | {"hub.mode": "unsubscribe"}, "tok") is None
    assert meta.verification_challenge({"hub.mode": "subscribe"}, "tok") is None


def test_whatsapp_messages_and_statuses_are_parsed() -> None:
    payload = whatsapp_payload(
        messages=[
            {
                "from": "16505551234",
                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                "timestamp": "1749416383",
                "type": "text",
                "text": {"body": "Does it come in another color?"},
            },
            {
                "from": "16505551234",
                "id": "wamid.image",
                "timestamp": "1749416384",
                "type": "image",
                "image": {"id": "1003383421387256", "caption": "this one", "mime_type": "x"},
            },
        ],
        statuses=[
            {
                "id": "wamid.outbound",
                "status": "read",
                "timestamp": "1749416390",
                "recipient_id": "16505551234",
            }
        ],
    )
    text, image, status = meta.parse_whatsapp(payload)
    assert (text.kind, text.channel, text.account_id) == ("message", "whatsapp", "106540352242922")
    assert (text.visitor_id, text.visitor_name, text.visitor_contact) == (
        "16505551234",
        "Sheena",
        "+16505551234",
    )
    assert text.content == "Does it come in another color?"
    assert text.sent_at == datetime.fromtimestamp(1749416383, UTC)
    assert (image.content, image.metadata) == (
        "this one",
        {"type": "image", "media_id": "1003383421387256"},
    )
    assert (status.kind, status.external_id, status.status) == ("status", "wamid.outbound", "read")
    assert status.account_id == "106540352242922"


def test_a_whatsapp_template_button_answer_keeps_its_payload() -> None:
    payload = whatsapp_payload(
        messages=[
            {
                "from": "16505551234",
                "id": "wamid.button",
                "timestamp": "1749416385",
                "type": "button",
                "context": {"from": "15550783881", "id": "wamid.reminder"},
                "button": {"text": "Confirm", "payload": "reminder:confirm:bk-42"},
            }
        ]
    )
    [answer] = meta.parse_whatsapp(payload)
    assert (answer.content, answer.metadata) == (
        "Confirm",
        {"type": "button", "payload": "reminder:confirm:bk-42"},
    )


def test_whatsapp_changes_other_than_messages_are_ignored() -> None:
    payload = whatsapp_payload()
    payload["entry"][0]["changes"][0]["field"] = "account_update"
    assert meta.parse_whatsapp(payload) == []


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account", "entry": "nope"},
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]},
        whatsapp_payload(messages=[{"from": "1", "id": "x", "timestamp": "soon"}]),
    ],
)
def test_malformed_whatsapp_payloads_are_refused(payload) -> None:
    with pytest.raises(MalformedPayload):
        meta.parse_whatsapp(payload)


def messaging_payload(obj: str, account: str, *events):
    return {
        "object": obj,
        "entry": [{"id": account, "time": 1458692752478, "messaging": list(events)}],
    }


def test_messenger_messages_are_routed_by_page_id() -> None:
    payload = messaging_payload(
        "page",
        "PAGE_ID",
        {
            "sender": {"id": "PSID"},
            "recipient": {"id": "PAGE_ID"},
            "timestamp": 1458692752478,
            "message": {"mid": "m_1", "text": "hello, world!"},
        },
        {  # a delivery receipt: not a visitor message, a receipt of our sends
            "sender": {"id": "PSID"},
            "recipient": {"id": "PAGE_ID"},
            "delivery": {"mids": ["m_0"], "watermark": 1458668856253},
        },
    )
    item, receipt = meta.parse_messaging(payload, "messenger")
    assert (item.channel, item.account_id, item.visitor_id) == ("messenger", "PAGE_ID", "PSID")
    assert (item.kind, item.external_id, item.content) == ("message", "m_1", "hello, world!")
    assert item.sent_at == datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC)
    assert (receipt.kind, receipt.status, receipt.visitor_id) == ("status", "delivered", "PSID")
    assert receipt.metadata == {"watermark": 1458668856253, "mids": ["m_0"]}
    assert receipt.sent_at == datetime(2016, 3, 22, 17, 47, 36, 253000, tzinfo=UTC)


def test_instagram_echoes_are_skipped_and_attachments_described() -> None:
    payload = messaging_payload(
        "instagram",
        "IG_ID",
        {
            "sender": {"id": "IG_ID"},
            "recipient": {"id": "IGSID"},
            "timestamp": 1700000000000,
            "message": {"mid": "echo", "text": "our own reply", "is_echo": True},
        },
        {
            "sender": {"id": "IGSID"},
            "recipient": {"id": "IG_ID"},
            "timestamp": 1700000001000,
            "message": {
                "mid": "aWdfZAG1",
                "attachments": [{"type": "image", "payload": {"url": "https://cdn/x.jpg"}}],
            },
        },
    )
    [item] = meta.parse_messaging(payload, "instagram")
    assert (item.channel, item.account_id, item.visitor_id) == ("instagram", "IG_ID", "IGSID")
    assert item.content == "[image]"
    assert item.metadata == {"attachments": [{"type": "image", "url": "https://cdn/x.jpg"}]}


def test_a_messenger_payload_is_not_an_instagram_one() -> None:
    with pytest.raises(MalformedPayload):
        meta.parse_messaging(messaging_payload("page", "P"), "instagram")


def test_twilio_signature_matches_the_documented_example() -> None:
    # The worked example of Twilio's request validation documentation.
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio.expected_signature("12345", url, params.items()) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_twilio_signature_accepted_forged_and_missing() -> None:
    url = "https://hooks.example.com/api/v1/webhooks/twilio/sms"
    params = [("Body", "hi"), ("From", "+15551230000"), ("To", "+15559870000")]
    data = url + "Body" + "hi" + "From" + "+15551230000" + "To" + "+15559870000"
    good = base64.b64encode(hmac.new(b"tok", data.encode(), hashlib.sha1).digest()).decode()
    assert twilio.signature_verdict("tok", url, params, good) is Verdict.OK
    assert twilio.signature_verdict("tok", url, params[:2], good) is Verdict.INVALID
    assert twilio.signature_verdict("other", url, params, good) is Verdict.INVALID
    assert twilio.signature_verdict("tok", url + "?x=1", params, good) is Verdict.INVALID
    assert twilio.signature_verdict("tok", url, params, None) is Verdict.MISSING


def test_twilio_sms_is_routed_by_to_with_media_described() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    item = twilio.parse_sms(
        [
            ("MessageSid", "SM123"),
            ("From", "+15551230000"),
            ("To", "+15559870000"),
            ("Body", ""),
            ("NumMedia", "1"),
            ("MediaUrl0", "https://api.twilio.com/media/1"),
            ("MediaContentType0", "image/jpeg"),
        ],
        now,
    )
    assert (item.channel, item.account_id, item.visitor_id, item.external_id) == (
        "sms",
        "+15559870000",
        "+15551230000",
        "SM123",
    )
    assert item.content == "[media]"
    assert item.sent_at == now
    with pytest.raises(MalformedPayload):
        twilio.parse_sms([("From", "+1"), ("To", "+2")], now)


def generic_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {"X-Base-Timestamp": str(timestamp), "X-Base-Signature": "sha256=" + digest.hexdigest()}


def test_generic_signature_binds_the_timestamp_and_expires() -> None:
    body = b'{"messages": []}'
    headers = generic_headers("k", body, 1_000_000)
    ts, sig = headers["X-Base-Timestamp"], headers["X-Base-Signature"]
    assert generic.signature_verdict("k", body, ts, sig, now=1_000_100) is Verdict.OK
    assert generic.signature_verdict("k", body, ts, sig, now=1_000_301) is Verdict.INVALID
    assert generic.signature_verdict("k", body, "1000001", sig, now=1_000_100) is Verdict.INVALID
    assert generic.signature_verdict("k", body, "soon", sig, now=1_000_100) is Verdict.INVALID
    assert generic.signature_verdict("k", body, None, sig, now=1_000_100) is Verdict.MISSING
    assert generic.signature_verdict("k", body, ts, None, now=1_000_100) is Verdict.MISSING


def test_generic_batch_becomes_one_item_per_message() -> None:
    workspace_id = uuid4()
    body = json.dumps(
        {
            "workspace_id": str(workspace_id),
            "messages": [
                {
                    "external_id": "call-1",
                    "visitor_id": "+15551234567",
                    "content": "I'd like to book",
                    "sent_at": "2026-05-01T10:00:00Z",
                }
            ],
        }
    ).encode()
    [item] = generic.parse_inbound("phone", body)
    assert (item.channel, item.workspace_id, item.account_id) == ("phone", workspace_id, None)
    assert item.sent_at == datetime(2026, 5, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"messages": []}',
        b'{"workspace_id": "00000000-0000-0000-0000-000000000001", "account_id": "a", '
        b'"messages": [{"external_id": "x", "visitor_id": "v", "content": "c", '
        b'"sent_at": "2026-05-01T10:00:00Z"}]}',
        b'{"account_id": "a", "messages": [{"external_id": "x", "visitor_id": "v", '
        b'"content": "c", "sent_at": "2026-05-01T10:00:00"}]}',
    ],
)
def test_generic_malformed_batches_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        generic.parse_inbound("chatgpt", body)
