"""Owner replies leave on the visitor's channel through the real HTTP clients, against the
loopback fakes: the right request, the provider's id kept, errors classified, receipts
moving the state forward, and the channels' policies (windows, splitting, opt-out)."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from shared.events import InboundMessageAcceptedV1
from shared.testing import wait_until

from .fakes import (
    PAGE_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    WHATSAPP_TOKEN,
    callback_signature_ok,
    graph_error,
    twilio_error,
)

API = "/api/v1"
CREDENTIALS = {
    "whatsapp": {"access_token": WHATSAPP_TOKEN},
    "messenger": {"page_access_token": PAGE_TOKEN},
    "instagram": {"page_access_token": PAGE_TOKEN},
    "sms": {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN},
}


@pytest.fixture(autouse=True)
def _fresh(providers):
    providers.reset()


async def connect(client, owner, channel, credentials=None, providers=None):
    account_id = f"+1555{uuid4().int % 10**7:07d}" if channel == "sms" else f"acc-{uuid4().hex}"
    if credentials is None and channel in CREDENTIALS:
        credentials = CREDENTIALS[channel]
    if credentials is None and channel in ("chatgpt", "phone"):
        credentials = {"callback_url": f"{providers.callback.url}/replies"}
    response = await client.post(
        f"{API}/channel-accounts/",
        json={"channel": channel, "account_id": account_id, "credentials": credentials},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def visitor_writes(publish, query, account, text="hello", at=None, visitor=None):
    visitor = visitor or (
        f"+1444{uuid4().int % 10**7:07d}" if account["channel"] == "sms" else f"v{uuid4().hex[:10]}"
    )
    await publish(
        InboundMessageAcceptedV1(
            channel=account["channel"],
            account_id=account["account_id"],
            visitor_id=visitor,
            external_id=f"in-{uuid4().hex}",
            content=text,
            sent_at=at or datetime.now(UTC),
        )
    )
    rows = await wait_until(
        lambda: query(
            "SELECT c.id FROM conversations.conversations c "
            "JOIN conversations.messages m ON m.conversation_id = c.id "
            "WHERE c.channel_account_id = :a AND c.visitor_id = :v AND m.content = :t",
            a=account["id"],
            v=visitor,
            t=text,
        )
    )
    return str(rows[0].id), visitor


async def reply(client, owner, conversation_id, content="Thanks, see you then!", **extra):
    return await client.post(
        f"{API}/messages/",
        json={"conversation_id": conversation_id, "content": content} | extra,
        headers=owner.headers,
    )


async def settled(client, owner, message_id, *states):
    async def check():
        body = (await client.get(f"{API}/messages/{message_id}", headers=owner.headers)).json()
        return body if body["delivery_status"] in states else None

    return await wait_until(check)


async def test_an_owner_reply_on_whatsapp_reaches_the_cloud_api_once_and_keeps_its_wamid(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "whatsapp")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    response = await reply(client, owner, conversation_id)
    assert response.status_code == 201, response.text
    assert response.json()["delivery_status"] == "pending"

    sent = await settled(client, owner, response.json()["id"], "sent")
    [request] = providers.graph.state.to(visitor)
    assert request.path == f"/v24.0/{account['account_id']}/messages"
    assert request.headers["authorization"] == f"Bearer {WHATSAPP_TOKEN}"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": visitor,
        "type": "text",
        "text": {"body": "Thanks, see you then!"},
        "biz_opaque_callback_data": sent["id"],
    }
    assert sent["external_id"].startswith("wamid.")
    assert sent["delivery_error"] is None


async def test_whatsapp_status_receipts_move_the_reply_forward_only_and_keep_failures(
    client, new_owner, publish, query
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "whatsapp")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    message = (await reply(client, owner, conversation_id)).json()
    wamid = (await settled(client, owner, message["id"], "sent"))["external_id"]

    def receipt(status, **metadata):
        return InboundMessageAcceptedV1(
            kind="status",
            channel="whatsapp",
            account_id=account["account_id"],
            visitor_id=visitor,
            external_id=wamid,
            status=status,
            sent_at=datetime.now(UTC),
            metadata=metadata,
        )

    await publish(receipt("read"))
    await settled(client, owner, message["id"], "read")
    await publish(receipt("delivered"))  # late and out of order: ignored
    await publish(
        receipt(
            "failed",
            errors=[{"code": 131047, "title": "Re-engagement message", "message": "x"}],
        )
    )
    failed = await settled(client, owner, message["id"], "failed")
    assert failed["delivery_error"] == "whatsapp 131047: Re-engagement message"
    events = await query(
        "SELECT envelope->'payload'->>'delivery_status' AS s FROM conversations.outbox "
        "WHERE event_type = 'message.delivery_updated' "
        "AND envelope->'payload'->>'message_id' = :id ORDER BY created_at",
        id=message["id"],
    )
    assert [e.s for e in events] == ["sent", "read", "failed"]


async def test_messenger_and_instagram_replies_use_the_send_api_with_the_page_token(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    for channel in ("messenger", "instagram"):
        account = await connect(client, owner, channel)
        conversation_id, visitor = await visitor_writes(publish, query, account)
        message = (await reply(client, owner, conversation_id, "On our way")).json()
        sent = await settled(client, owner, message["id"], "sent")
        [request] = providers.graph.state.to(visitor)
        assert request.path == f"/v24.0/{account['account_id']}/messages"
        assert request.query == {"access_token": PAGE_TOKEN}
        assert request.body == {
            "recipient": {"id": visitor},
            "messaging_type": "RESPONSE",
            "message": {"text": "On our way"},
        }
        assert sent["external_id"].startswith("m_")


async def test_a_messenger_read_watermark_marks_every_earlier_reply_read(
    client, new_owner, publish, query
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "messenger")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    first = (await reply(client, owner, conversation_id, "one")).json()
    await settled(client, owner, first["id"], "sent")
    watermark = int(datetime.now(UTC).timestamp() * 1000)
    await publish(
        InboundMessageAcceptedV1(
            kind="status",
            channel="messenger",
            account_id=account["account_id"],
            visitor_id=visitor,
            external_id=f"read:{watermark}",
            status="read",
            sent_at=datetime.now(UTC),
            metadata={"watermark": watermark},
        )
    )
    await settled(client, owner, first["id"], "read")


async def test_an_sms_reply_is_form_encoded_with_basic_auth_and_a_status_callback(
    client, new_owner, publish, query, providers, settings
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "sms")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    message = (await reply(client, owner, conversation_id)).json()
    sent = await settled(client, owner, message["id"], "sent")
    [request] = providers.twilio.state.to(visitor)
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.body == {
        "To": visitor,
        "From": account["account_id"],
        "Body": "Thanks, see you then!",
        "StatusCallback": f"{settings.public_base_url}/api/v1/webhooks/twilio/status",
    }
    assert sent["external_id"].startswith("SM")


async def test_stop_opts_the_visitor_out_and_start_lets_replies_through_again(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "sms")
    conversation_id, visitor = await visitor_writes(publish, query, account, "STOP")
    blocked = (await reply(client, owner, conversation_id)).json()
    failed = await settled(client, owner, blocked["id"], "failed")
    assert "opted out" in failed["delivery_error"]
    assert providers.twilio.state.to(visitor) == []

    await visitor_writes(publish, query, account, "START", visitor=visitor)
    again = (await reply(client, owner, conversation_id)).json()
    await settled(client, owner, again["id"], "sent")


async def test_twilio_21610_fails_the_reply_and_opts_the_conversation_out(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "sms")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    providers.twilio.state.opted_out.add(visitor)
    first = (await reply(client, owner, conversation_id)).json()
    failed = await settled(client, owner, first["id"], "failed")
    assert failed["delivery_error"].startswith("sms 21610:")
    second = (await reply(client, owner, conversation_id)).json()
    assert "opted out" in (await settled(client, owner, second["id"], "failed"))["delivery_error"]
    assert len(providers.twilio.state.to(visitor)) == 1  # the second never reached Twilio


async def test_integrator_replies_are_posted_signed_to_the_callback_url(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "chatgpt", providers=providers)
    secret = account["signing_secret"]
    assert secret and account["credentials"]["signing_secret"].startswith("****")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    message = (await reply(client, owner, conversation_id, "Booked for 10:00")).json()
    await settled(client, owner, message["id"], "sent")
    [request] = providers.callback.state.to(visitor)
    assert callback_signature_ok(secret, request)
    assert request.body["content"] == "Booked for 10:00"
    assert request.body["message_id"] == message["id"]


async def test_throttling_is_retried_after_retry_after_and_sent_once(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "whatsapp")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    providers.graph.state.answer_next(
        429,
        graph_error(130429, "Rate limit hit"),
        headers={"Retry-After": "0.2"},
    )
    message = (await reply(client, owner, conversation_id)).json()
    await settled(client, owner, message["id"], "sent")
    requests = providers.graph.state.to(visitor)
    assert len(requests) == 2
    assert requests[1].at - requests[0].at >= 0.2


async def test_an_invalid_token_fails_at_once_and_says_so(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "whatsapp")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    expired = await client.patch(
        f"{API}/channel-accounts/{account['id']}",
        json={"credentials": {"access_token": "expired-token-1234"}},
        headers=owner.headers,
    )
    assert expired.json()["verification"] == "failed"  # no new conversations route to it
    message = (await reply(client, owner, conversation_id)).json()
    failed = await settled(client, owner, message["id"], "failed")
    assert failed["delivery_error"].startswith("whatsapp 190: Invalid OAuth access token")
    assert "update the channel account" in failed["delivery_error"]
    assert len(providers.graph.state.to(visitor)) == 1


@pytest.mark.parametrize("how", ["server_error", "timeout"])
async def test_an_ambiguous_answer_is_unknown_and_never_resent_automatically(
    client, new_owner, publish, query, providers, how
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "sms")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    if how == "server_error":
        providers.twilio.state.answer_next(500, twilio_error(20500, "Internal Server Error", 500))
    else:
        providers.twilio.state.answer_next(201, {"sid": "SMlate"}, delay=1.5)  # > 1 s timeout
    message = (await reply(client, owner, conversation_id)).json()
    unknown = await settled(client, owner, message["id"], "unknown")
    assert "not resent automatically" in unknown["delivery_error"]
    assert len(providers.twilio.state.to(visitor)) == 1

    retried = await client.post(f"{API}/messages/{message['id']}/retry", headers=owner.headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["delivery_status"] == "pending"
    await settled(client, owner, message["id"], "sent")
    assert len(providers.twilio.state.to(visitor)) == 2
    again = await client.post(f"{API}/messages/{message['id']}/retry", headers=owner.headers)
    assert again.status_code == 409
    assert "this one is sent" in again.json()["detail"]


async def test_a_reply_on_an_account_without_credentials_fails_with_the_reason(
    client, new_owner, publish, query
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "whatsapp")
    conversation_id, _ = await visitor_writes(publish, query, account)
    response = await client.patch(
        f"{API}/channel-accounts/{account['id']}", json={"credentials": None}, headers=owner.headers
    )
    account = response.json()
    assert (account["credentials"], account["can_send"]) == (None, False)
    # Without credentials it no longer proves it is the owner's: it routes nothing new.
    assert account["verification"] == "unverified"
    message = (await reply(client, owner, conversation_id)).json()
    failed = await settled(client, owner, message["id"], "failed")
    assert "has no credentials for sending" in failed["delivery_error"]


async def test_outside_the_window_whatsapp_refuses_text_and_accepts_a_template(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "whatsapp")
    old = datetime.now(UTC) - timedelta(hours=30)
    conversation_id, visitor = await visitor_writes(publish, query, account, at=old)
    refused = await reply(client, owner, conversation_id)
    assert refused.status_code == 409
    assert "24 h" in refused.json()["detail"]
    template = {"name": "appointment_reminder", "language": "en_US", "parameters": ["Ada", "10:00"]}
    response = await client.post(
        f"{API}/messages/",
        json={"conversation_id": conversation_id, "template": template},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["content"] == "[template appointment_reminder (en_US)] Ada, 10:00"
    await settled(client, owner, response.json()["id"], "sent")
    [request] = providers.graph.state.to(visitor)
    assert request.body["type"] == "template"
    assert request.body["template"] == {
        "name": "appointment_reminder",
        "language": {"policy": "deterministic", "code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "10:00"}],
            }
        ],
    }


async def test_an_owner_messenger_reply_after_a_day_goes_with_the_human_agent_tag(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "messenger")
    old = datetime.now(UTC) - timedelta(days=2)
    conversation_id, visitor = await visitor_writes(publish, query, account, at=old)
    message = (await reply(client, owner, conversation_id)).json()
    await settled(client, owner, message["id"], "sent")
    [request] = providers.graph.state.to(visitor)
    assert (request.body["messaging_type"], request.body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


async def test_a_long_sms_reply_is_split_into_ordered_messages_each_sent(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "sms")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    text = " ".join(f"part{i:03d}" for i in range(500))  # 3,999 characters
    first = (await reply(client, owner, conversation_id, text)).json()
    assert first["metadata"]["parts"] == 3
    listed = await client.get(
        f"{API}/messages/", params={"conversation_id": conversation_id}, headers=owner.headers
    )
    parts = [m for m in listed.json()["data"] if m["role"] == "owner"]
    assert [p["metadata"]["part"] for p in parts] == [1, 2, 3]
    assert " ".join(p["content"] for p in parts) == text
    for part in parts:
        await settled(client, owner, part["id"], "sent")
    bodies = [r.body["Body"] for r in providers.twilio.state.to(visitor)]
    assert bodies == [p["content"] for p in parts]  # in order


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"content": ""}, "at least 1 character"),
        ({"content": "   "}, "at least 1 character"),
        ({"content": "x" * 4001}, "at most 4000"),
        ({"content": "hi", "role": "agent"}, "'owner'"),
        ({"content": "hi", "sent_at": "2026-01-01T00:00:00Z"}, "Extra inputs"),
    ],
)
async def test_bad_replies_are_refused_with_a_422_and_nothing_stored(
    client, new_owner, publish, query, body, expected
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "whatsapp")
    conversation_id, _ = await visitor_writes(publish, query, account)
    response = await client.post(
        f"{API}/messages/", json={"conversation_id": conversation_id} | body, headers=owner.headers
    )
    assert response.status_code == 422
    assert expected in str(response.json()["detail"])
    rows = await query(
        "SELECT count(*) AS n FROM conversations.messages WHERE conversation_id = :c",
        c=conversation_id,
    )
    assert rows[0].n == 1  # only the visitor's


async def test_replies_to_another_owners_or_a_deleted_conversation_are_404(
    client, new_owner, publish, query
) -> None:
    owner, stranger = await new_owner(), await new_owner()
    account = await connect(client, owner, "whatsapp")
    conversation_id, _ = await visitor_writes(publish, query, account)
    assert (await reply(client, stranger, conversation_id)).status_code == 404
    deleted = await client.delete(f"{API}/conversations/{conversation_id}", headers=owner.headers)
    assert deleted.status_code == 204
    assert (await reply(client, owner, conversation_id)).status_code == 404
    assert (
        await client.post(f"{API}/messages/{uuid4()}/retry", headers=owner.headers)
    ).status_code == 404


async def test_a_whatsapp_receipt_carrying_our_id_resolves_a_reply_whose_outcome_was_unknown(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "whatsapp")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    providers.graph.state.answer_next(200, {"messages": [{"id": "wamid.late"}]}, delay=1.5)
    message = (await reply(client, owner, conversation_id)).json()
    await settled(client, owner, message["id"], "unknown")
    wamid = f"wamid.{uuid4().hex}"
    await publish(
        InboundMessageAcceptedV1(
            kind="status",
            channel="whatsapp",
            account_id=account["account_id"],
            visitor_id=visitor,
            external_id=wamid,
            status="delivered",
            sent_at=datetime.now(UTC),
            metadata={"callback_data": message["id"]},
        )
    )
    delivered = await settled(client, owner, message["id"], "delivered")
    assert (delivered["external_id"], delivered["delivery_error"]) == (wamid, None)


async def test_a_receipt_arriving_before_the_send_is_recorded_is_applied_afterwards(
    client, new_owner, publish, query, providers, bus
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "sms")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    sid = f"SM{uuid4().hex}"
    # Twilio calls back "delivered" before our consumer has recorded its own answer.
    receipt = InboundMessageAcceptedV1(
        kind="status",
        channel="sms",
        account_id=account["account_id"],
        visitor_id=visitor,
        external_id=sid,
        status="delivered",
        sent_at=datetime.now(UTC),
    )
    await publish(receipt)
    await wait_until(
        lambda: query("SELECT 1 FROM conversations.early_receipts WHERE external_id = :e", e=sid)
    )
    providers.twilio.state.answer_next(201, {"sid": sid, "status": "queued"})
    message = (await reply(client, owner, conversation_id)).json()
    delivered = await settled(client, owner, message["id"], "delivered")
    assert delivered["external_id"] == sid
    assert (
        await query("SELECT 1 FROM conversations.early_receipts WHERE external_id = :e", e=sid)
        == []
    )
