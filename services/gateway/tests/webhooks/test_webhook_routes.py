"""The webhook router against a real RabbitMQ: verified, published with a confirm, then 200."""

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode
from uuid import uuid4

import pytest

from gateway.settings import Settings
from shared.bus import Bus
from shared.testing import delete_bus_names
from shared.testing import test_names as private_names

API = "/api/v1/webhooks"
META_APP_SECRET = "meta-app-secret-for-tests"
META_VERIFY_TOKEN = "meta-verify-token-for-tests"
TWILIO_AUTH_TOKEN = "twilio-auth-token-for-tests"
INBOUND_SECRET = "inbound-signing-secret-for-tests"
PUBLIC_BASE_URL = "https://hooks.example.com"


def meta_headers(body: bytes, secret: str = META_APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def whatsapp_body(external_id: str, phone_number_id: str = "pn-1", text: str = "hi") -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "waba",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550001111",
                                    "phone_number_id": phone_number_id,
                                },
                                "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5511999"}],
                                "messages": [
                                    {
                                        "from": "5511999",
                                        "id": external_id,
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": text},
                                    }
                                ],
                                "statuses": [
                                    {
                                        "id": f"{external_id}.status",
                                        "status": "delivered",
                                        "timestamp": str(int(time.time())),
                                        "recipient_id": "5511999",
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def messaging_body(obj: str, account: str, external_id: str, echo: bool = False) -> bytes:
    return json.dumps(
        {
            "object": obj,
            "entry": [
                {
                    "id": account,
                    "time": 1700000000000,
                    "messaging": [
                        {
                            "sender": {"id": account if echo else "visitor-1"},
                            "recipient": {"id": "visitor-1" if echo else account},
                            "timestamp": 1700000000000,
                            "message": {"mid": external_id, "text": "hola", "is_echo": echo},
                        }
                    ],
                }
            ],
        }
    ).encode()


def twilio_signature(url: str, params: dict[str, str], token: str = TWILIO_AUTH_TOKEN) -> str:
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def sms_params(sid: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC123",
        "From": "+15551230000",
        "To": "+15559870000",
        "Body": "Can I book for Friday?",
        "NumMedia": "0",
    }


def generic_headers(body: bytes, timestamp: int | None = None, secret: str = INBOUND_SECRET):
    ts = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "X-Base-Timestamp": ts,
        "X-Base-Signature": f"sha256={digest}",
        "Content-Type": "application/json",
    }


def generic_body(external_id: str, workspace_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "workspace_id": workspace_id or str(uuid4()),
            "messages": [
                {
                    "external_id": external_id,
                    "visitor_id": "+15551234567",
                    "visitor_name": "Caller",
                    "content": "I'd like to book",
                    "sent_at": "2026-05-01T10:00:00Z",
                }
            ],
        }
    ).encode()


# -- Meta verification handshake -----------------------------------------------------------


@pytest.mark.parametrize("channel", ["whatsapp", "messenger", "instagram"])
async def test_meta_handshake_echoes_the_challenge_for_our_verify_token(webhooks, channel) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": META_VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    response = await webhooks.get(f"{API}/{channel}", params=params)
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")

    wrong = await webhooks.get(f"{API}/{channel}", params=params | {"hub.verify_token": "guess"})
    assert wrong.status_code == 403


# -- WhatsApp ---------------------------------------------------------------------------------


async def test_signed_whatsapp_message_and_status_are_published_before_200(
    webhooks, received
) -> None:
    external_id = f"wamid.{uuid4().hex}"
    body = whatsapp_body(external_id, phone_number_id="pn-routes")
    response = await webhooks.post(f"{API}/whatsapp", content=body, headers=meta_headers(body))
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2}

    [message] = await received.wait_for(external_id)
    assert (message.kind, message.channel, message.account_id) == (
        "message",
        "whatsapp",
        "pn-routes",
    )
    assert (message.visitor_id, message.visitor_name, message.content) == ("5511999", "Ana", "hi")
    [status] = await received.wait_for(f"{external_id}.status")
    assert (status.kind, status.status) == ("status", "delivered")
    envelope = next(e for e in received.envelopes if e.payload["external_id"] == external_id)
    assert (envelope.type, envelope.producer) == ("inbound_message.accepted", "gateway")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        "signed with another secret",
        "signed over other bytes",
    ],
)
async def test_forged_or_missing_meta_signature_is_refused_and_nothing_published(
    webhooks, received, headers
) -> None:
    forged_id = f"wamid.forged.{uuid4().hex}"
    body = whatsapp_body(forged_id)
    if headers == "signed with another secret":
        headers = meta_headers(body, secret="not-the-app-secret")
    elif headers == "signed over other bytes":
        headers = meta_headers(body.replace(b'"hi"', b'"HI"'))
    response = await webhooks.post(f"{API}/whatsapp", content=body, headers=headers)
    assert response.status_code == (401 if not headers else 403)

    # A genuine notification sent afterwards arrives; the forged one never did.
    genuine_id = f"wamid.genuine.{uuid4().hex}"
    genuine = whatsapp_body(genuine_id)
    ok = await webhooks.post(f"{API}/whatsapp", content=genuine, headers=meta_headers(genuine))
    assert ok.status_code == 200
    await received.wait_for(genuine_id)
    assert received.items(lambda i: i.external_id.startswith(forged_id)) == []


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'{"object": "whatsapp_business_account", "entry": [{"changes": 1}]}'],
)
async def test_malformed_signed_meta_body_is_400(webhooks, body) -> None:
    response = await webhooks.post(f"{API}/whatsapp", content=body, headers=meta_headers(body))
    assert response.status_code == 400
    assert response.json()["detail"]


# -- Messenger and Instagram ------------------------------------------------------------------


async def test_signed_messenger_message_is_published_routed_by_page_id(webhooks, received) -> None:
    mid = f"m_{uuid4().hex}"
    body = messaging_body("page", "PAGE-42", mid)
    response = await webhooks.post(f"{API}/messenger", content=body, headers=meta_headers(body))
    assert response.status_code == 200
    [item] = await received.wait_for(mid)
    assert (item.channel, item.account_id, item.visitor_id, item.content) == (
        "messenger",
        "PAGE-42",
        "visitor-1",
        "hola",
    )


async def test_instagram_echo_is_acknowledged_but_not_published(webhooks, received) -> None:
    echo_id, real_id = f"ig_echo_{uuid4().hex}", f"ig_{uuid4().hex}"
    echo = messaging_body("instagram", "IG-7", echo_id, echo=True)
    response = await webhooks.post(f"{API}/instagram", content=echo, headers=meta_headers(echo))
    assert response.status_code == 200
    assert response.json() == {"accepted": 0}
    real = messaging_body("instagram", "IG-7", real_id)
    response = await webhooks.post(f"{API}/instagram", content=real, headers=meta_headers(real))
    assert response.json() == {"accepted": 1}
    [item] = await received.wait_for(real_id)
    assert (item.channel, item.account_id) == ("instagram", "IG-7")
    assert received.items(lambda i: i.external_id == echo_id) == []


async def test_instagram_endpoint_refuses_a_signed_messenger_payload(webhooks) -> None:
    body = messaging_body("page", "PAGE", "m_x")
    response = await webhooks.post(f"{API}/instagram", content=body, headers=meta_headers(body))
    assert response.status_code == 400


# -- Twilio -----------------------------------------------------------------------------------


async def test_signed_twilio_sms_is_published_and_answered_with_empty_twiml(
    webhooks, received
) -> None:
    sid = f"SM{uuid4().hex}"
    params = sms_params(sid)
    url = f"{PUBLIC_BASE_URL}{API}/twilio/sms"
    response = await webhooks.post(
        f"{API}/twilio/sms",
        content=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(url, params),
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    [item] = await received.wait_for(sid)
    assert (item.channel, item.account_id, item.visitor_id, item.content) == (
        "sms",
        "+15559870000",
        "+15551230000",
        "Can I book for Friday?",
    )


@pytest.mark.parametrize("case", ["missing", "other token", "other url", "tampered body"])
async def test_forged_twilio_signature_is_refused_and_nothing_published(
    webhooks, received, case
) -> None:
    sid = f"SMforged{uuid4().hex}"
    params = sms_params(sid)
    url = f"{PUBLIC_BASE_URL}{API}/twilio/sms"
    signature = {
        "missing": None,
        "other token": twilio_signature(url, params, token="not-the-token"),
        "other url": twilio_signature(f"http://evil.example.com{API}/twilio/sms", params),
        "tampered body": twilio_signature(url, params),
    }[case]
    sent = params | ({"Body": "Send me your money"} if case == "tampered body" else {})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature:
        headers["X-Twilio-Signature"] = signature
    response = await webhooks.post(f"{API}/twilio/sms", content=urlencode(sent), headers=headers)
    assert response.status_code == (401 if case == "missing" else 403)

    genuine = sms_params(f"SMgenuine{uuid4().hex}")
    ok = await webhooks.post(
        f"{API}/twilio/sms",
        content=urlencode(genuine),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(url, genuine),
        },
    )
    assert ok.status_code == 200
    await received.wait_for(genuine["MessageSid"])
    assert received.items(lambda i: i.external_id == sid) == []


async def test_signed_twilio_request_without_message_sid_is_400(webhooks) -> None:
    params = {"From": "+1555", "To": "+1666", "Body": "x"}
    url = f"{PUBLIC_BASE_URL}{API}/twilio/sms"
    response = await webhooks.post(
        f"{API}/twilio/sms",
        content=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(url, params),
        },
    )
    assert response.status_code == 400


# -- Signed integrator endpoint -------------------------------------------------------------


@pytest.mark.parametrize("channel", ["chatgpt", "phone"])
async def test_signed_integrator_message_is_published(webhooks, received, channel) -> None:
    external_id = f"{channel}-{uuid4().hex}"
    workspace_id = str(uuid4())
    body = generic_body(external_id, workspace_id)
    response = await webhooks.post(
        f"{API}/inbound/{channel}", content=body, headers=generic_headers(body)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1}
    [item] = await received.wait_for(external_id)
    assert (item.channel, str(item.workspace_id), item.visitor_name) == (
        channel,
        workspace_id,
        "Caller",
    )


@pytest.mark.parametrize("case", ["missing", "forged", "stale timestamp", "swapped timestamp"])
async def test_forged_or_replayed_integrator_request_is_refused(webhooks, received, case) -> None:
    external_id = f"refused-{uuid4().hex}"
    body = generic_body(external_id)
    now = int(time.time())
    headers = {
        "missing": {"Content-Type": "application/json"},
        "forged": generic_headers(body, secret="not-the-secret"),
        "stale timestamp": generic_headers(body, timestamp=now - 3600),
        "swapped timestamp": generic_headers(body, timestamp=now - 10)
        | {"X-Base-Timestamp": str(now)},
    }[case]
    response = await webhooks.post(f"{API}/inbound/phone", content=body, headers=headers)
    assert response.status_code == (401 if case == "missing" else 403)
    marker = f"marker-{uuid4().hex}"
    genuine = generic_body(marker)
    ok = await webhooks.post(
        f"{API}/inbound/phone", content=genuine, headers=generic_headers(genuine)
    )
    assert ok.status_code == 200
    await received.wait_for(marker)
    assert received.items(lambda i: i.external_id == external_id) == []


async def test_malformed_signed_integrator_body_is_400(webhooks) -> None:
    body = b'{"messages": [{"content": "no ids"}]}'
    response = await webhooks.post(
        f"{API}/inbound/chatgpt", content=body, headers=generic_headers(body)
    )
    assert response.status_code == 400


async def test_unknown_integrator_channel_is_refused(webhooks) -> None:
    body = generic_body("x")
    response = await webhooks.post(
        f"{API}/inbound/whatsapp", content=body, headers=generic_headers(body)
    )
    assert response.status_code == 422


# -- The broker cannot take it ----------------------------------------------------------------


async def test_unroutable_message_answers_503_so_the_provider_retries(
    webhook_settings: Settings, webhook_client
) -> None:
    # A real exchange with no queue bound: the mandatory publish comes back.
    lonely = Settings(
        **(private_names("gateway") | {"rabbitmq_url": webhook_settings.rabbitmq_url}),
        meta_app_secret=META_APP_SECRET,
    )
    bus = Bus(lonely, "gateway")
    await bus.start()
    try:
        body = whatsapp_body(f"wamid.{uuid4().hex}")
        async with webhook_client(bus) as client:
            response = await client.post(
                f"{API}/whatsapp", content=body, headers=meta_headers(body)
            )
        assert response.status_code == 503
        assert response.headers["Retry-After"]
    finally:
        await bus.stop()
        await delete_bus_names(lonely.rabbitmq_url, lonely.events_exchange, [])


async def test_broker_down_answers_503(webhook_client) -> None:
    class DownBus:
        async def publish(self, envelope, mandatory: bool = False) -> None:
            raise ConnectionError("broker unreachable")

    body = whatsapp_body(f"wamid.{uuid4().hex}")
    async with webhook_client(DownBus()) as client:
        response = await client.post(f"{API}/whatsapp", content=body, headers=meta_headers(body))
    assert response.status_code == 503
