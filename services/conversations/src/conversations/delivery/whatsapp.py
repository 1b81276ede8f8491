"""WhatsApp Cloud API: `POST {GRAPH}/{version}/{phone_number_id}/messages`, Bearer token.

A template may carry body parameters and quick-reply button payloads (`template["buttons"]`).

Success: `{"messaging_product": "whatsapp", "contacts": [...], "messages": [{"id": "wamid..."}]}`;
the wamid comes back as `statuses[].id` in status webhooks. Our message id rides along in
`biz_opaque_callback_data`, which Meta echoes in those statuses.
"""

from __future__ import annotations

from typing import Any

import httpx

from conversations.delivery.base import (
    Attempt,
    Fields,
    OutboundMessage,
    SenderConfig,
    call,
    json_of,
    safe_path,
)
from conversations.delivery.graph import graph_error, graph_url
from conversations.domain.credentials import AnyCredentials, WhatsAppCredentials


def whatsapp_body(message: OutboundMessage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.recipient,
        "biz_opaque_callback_data": str(message.message_id),
    }
    if message.template is None:
        body |= {"type": "text", "text": {"body": message.content}}
        return body
    template: dict[str, Any] = {
        "name": message.template["name"],
        "language": {"policy": "deterministic", "code": message.template["language"]},
    }
    components: list[dict[str, Any]] = []
    parameters = message.template.get("parameters") or []
    if parameters:
        components.append(
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}
        )
    # Quick-reply buttons the template defines, in order: each answers with its payload
    # (reminders: `reminder:confirm:<booking id>`...), which comes back on the inbound message.
    for index, payload in enumerate(message.template.get("buttons") or []):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    if components:
        template["components"] = components
    return body | {"type": "template", "template": template}


class WhatsAppSender:
    channels = ("whatsapp",)

    def __init__(self, client: httpx.AsyncClient, config: SenderConfig) -> None:
        self.client = client
        self.config = config

    async def send(self, message: OutboundMessage, credentials: AnyCredentials) -> Attempt:
        assert isinstance(credentials, WhatsAppCredentials)
        url = graph_url(
            self.config.graph_api_base_url,
            self.config.graph_api_version,
            safe_path(message.account_id),
        )
        token = credentials.access_token.get_secret_value()
        parts = Fields(json=whatsapp_body(message), headers={"Authorization": f"Bearer {token}"})
        response = await call(self.client, "whatsapp", url, parts, self.config.timeout_seconds)
        if isinstance(response, Attempt):
            return response
        if response.status_code >= 300:
            return graph_error("whatsapp", response)
        messages = json_of(response).get("messages") or [{}]
        wamid = messages[0].get("id") if isinstance(messages[0], dict) else None
        if not wamid:
            return Attempt("unknown", error="whatsapp accepted the message without an id")
        return Attempt("sent", external_id=str(wamid))
