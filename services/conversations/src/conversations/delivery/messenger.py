"""Messenger Send API and Instagram messaging (Page-linked): `POST {GRAPH}/{version}/
{page or Instagram account id}/messages?access_token=<page access token>`.

Body `{"recipient": {"id": PSID|IGSID}, "messaging_type": "RESPONSE", "message": {"text"}}`;
a reply typed by a person between 24 h and 7 days after the visitor's last message goes as
`messaging_type: "MESSAGE_TAG", tag: "HUMAN_AGENT"` (never an automated one). Success:
`{"recipient_id", "message_id"}`; `message_id` reappears in delivery/read webhooks.
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
from conversations.domain.credentials import (
    AnyCredentials,
    InstagramCredentials,
    MessengerCredentials,
)


def messaging_body(message: OutboundMessage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipient": {"id": message.recipient},
        "messaging_type": "RESPONSE",
        "message": {"text": message.content},
    }
    if message.tag is not None:
        body |= {"messaging_type": "MESSAGE_TAG", "tag": message.tag}
    return body


class MessagingSender:
    channels = ("messenger", "instagram")

    def __init__(self, client: httpx.AsyncClient, config: SenderConfig) -> None:
        self.client = client
        self.config = config

    async def send(self, message: OutboundMessage, credentials: AnyCredentials) -> Attempt:
        assert isinstance(credentials, MessengerCredentials | InstagramCredentials)
        url = graph_url(
            self.config.graph_api_base_url,
            self.config.graph_api_version,
            safe_path(message.account_id),
        )
        parts = Fields(
            json=messaging_body(message),
            params={"access_token": credentials.page_access_token.get_secret_value()},
        )
        channel = message.channel
        response = await call(self.client, channel, url, parts, self.config.timeout_seconds)
        if isinstance(response, Attempt):
            return response
        if response.status_code >= 300:
            return graph_error(channel, response)
        mid = json_of(response).get("message_id")
        if not mid:
            return Attempt("unknown", error=f"{channel} accepted the message without an id")
        return Attempt("sent", external_id=str(mid))
