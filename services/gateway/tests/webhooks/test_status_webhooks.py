"""Status webhooks for the replies we send: Twilio's StatusCallback (signed like inbound
SMS) and Messenger/Instagram delivery and read receipts, published as `kind="status"`."""

import json
from urllib.parse import urlencode
from uuid import uuid4

import pytest

from .test_webhook_routes import API, PUBLIC_BASE_URL, meta_headers, twilio_signature


def status_params(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "MessageStatus": status,
        "AccountSid": "AC123",
        "From": "+15559870000",
        "To": "+15551230000",
        **extra,
    }


async def test_signed_twilio_status_callback_is_published_with_its_error(
    webhooks, received
) -> None:
    sid = f"SM{uuid4().hex}"
    params = status_params(sid, "undelivered", ErrorCode="30003", ErrorMessage="Unreachable")
    url = f"{PUBLIC_BASE_URL}{API}/twilio/status"
    response = await webhooks.post(
        f"{API}/twilio/status",
        content=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(url, params),
        },
    )
    assert response.status_code == 204, response.text
    [item] = await received.wait_for(sid)
    assert (item.kind, item.channel, item.account_id, item.visitor_id, item.status) == (
        "status",
        "sms",
        "+15559870000",
        "+15551230000",
        "undelivered",
    )
    assert item.metadata == {"error_code": "30003", "error_message": "Unreachable"}


@pytest.mark.parametrize("case", ["missing", "forged", "sms url"])
async def test_unsigned_or_forged_status_callback_is_refused_and_nothing_published(
    webhooks, received, case
) -> None:
    sid = f"SM{uuid4().hex}"
    params = status_params(sid, "failed", ErrorCode="30006")
    signatures = {
        "forged": twilio_signature(f"{PUBLIC_BASE_URL}{API}/twilio/status", params, "nope"),
        "sms url": twilio_signature(f"{PUBLIC_BASE_URL}{API}/twilio/sms", params),
    }
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if case in signatures:
        headers["X-Twilio-Signature"] = signatures[case]
    response = await webhooks.post(
        f"{API}/twilio/status", content=urlencode(params), headers=headers
    )
    assert response.status_code == (401 if case == "missing" else 403)
    assert received.items(lambda i: i.external_id == sid) == []


async def test_signed_status_callback_without_a_status_is_400(webhooks) -> None:
    params = {"MessageSid": "SM1", "From": "+1", "To": "+2"}
    url = f"{PUBLIC_BASE_URL}{API}/twilio/status"
    response = await webhooks.post(
        f"{API}/twilio/status",
        content=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(url, params),
        },
    )
    assert response.status_code == 400
    assert "MessageStatus" in response.json()["detail"]


@pytest.mark.parametrize(
    ("channel", "obj", "key", "status"),
    [
        ("messenger", "page", "delivery", "delivered"),
        ("messenger", "page", "read", "read"),
        ("instagram", "instagram", "read", "read"),
    ],
)
async def test_meta_delivery_and_read_watermarks_are_published_as_receipts(
    webhooks, received, channel, obj, key, status
) -> None:
    visitor = f"psid-{uuid4().hex[:8]}"
    watermark = 1_780_000_000_123
    body = json.dumps(
        {
            "object": obj,
            "entry": [
                {
                    "id": "PAGE-9",
                    "time": watermark,
                    "messaging": [
                        {
                            "sender": {"id": visitor},
                            "recipient": {"id": "PAGE-9"},
                            "timestamp": watermark + 5,
                            key: {"watermark": watermark, "mids": ["m_1"]},
                        }
                    ],
                }
            ],
        }
    ).encode()
    response = await webhooks.post(f"{API}/{channel}", content=body, headers=meta_headers(body))
    assert response.json() == {"accepted": 1}
    [item] = await received.wait_for(f"{key}:{visitor}:{watermark}")
    assert (item.kind, item.channel, item.account_id, item.status) == (
        "status",
        channel,
        "PAGE-9",
        status,
    )
    assert item.metadata["watermark"] == watermark
