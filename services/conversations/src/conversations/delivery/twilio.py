"""Twilio Programmable Messaging: `POST {TWILIO}/2010-04-01/Accounts/{AccountSid}/Messages.json`.

Form-encoded `To`, `From` (our Twilio number, the channel account's id), `Body`,
`StatusCallback` (`{PUBLIC_BASE_URL}/api/v1/webhooks/twilio/status`, so each message reports
sent/delivered/undelivered/failed); HTTP Basic with the API key pair or Account SID + Auth
Token. 201 `{"sid": "SM...", "status": "queued"}`; errors `{"code", "message", "more_info",
"status"}`. A 429 / 20429 is never processed; a 500 may have been (creates are not
idempotent), so it is not repeated.
"""

from __future__ import annotations

import httpx

from conversations.delivery.base import (
    Attempt,
    Fields,
    OutboundMessage,
    SenderConfig,
    call,
    json_of,
    retry_after_seconds,
    safe_path,
    server_error,
)
from conversations.domain.credentials import AnyCredentials, SmsCredentials

STATUS_CALLBACK_PATH = "/api/v1/webhooks/twilio/status"
OPTED_OUT = 21610
NOT_PROCESSED = frozenset({20429})


def twilio_error(response: httpx.Response) -> Attempt:
    body = json_of(response)
    code = body.get("code")
    code = code if isinstance(code, int) else None
    reason = f"sms {code if code is not None else response.status_code}: "
    reason = (reason + str(body.get("message") or f"HTTP {response.status_code}"))[:500]
    if response.status_code == 429 or code in NOT_PROCESSED:
        return Attempt(
            "retry", error=reason, code=str(code), retry_after=retry_after_seconds(response)
        )
    if response.status_code >= 500:
        return server_error("sms", response, reason)
    if code == 20003 or response.status_code == 401:
        reason += "; update the channel account's Twilio credentials"
    return Attempt(
        "failed",
        error=reason,
        code=None if code is None else str(code),
        opted_out=code == OPTED_OUT,
    )


class TwilioSender:
    channels = ("sms",)

    def __init__(self, client: httpx.AsyncClient, config: SenderConfig) -> None:
        self.client = client
        self.config = config
        self.status_callback = config.public_base_url.rstrip("/") + STATUS_CALLBACK_PATH

    async def send(self, message: OutboundMessage, credentials: AnyCredentials) -> Attempt:
        assert isinstance(credentials, SmsCredentials)
        url = (
            f"{self.config.twilio_api_base_url.rstrip('/')}/2010-04-01/Accounts/"
            f"{safe_path(credentials.account_sid)}/Messages.json"
        )
        parts = Fields(
            data={
                "To": message.recipient,
                "From": message.account_id,
                "Body": message.content,
                "StatusCallback": self.status_callback,
            },
            auth=credentials.basic_auth(),
        )
        response = await call(self.client, "sms", url, parts, self.config.timeout_seconds)
        if isinstance(response, Attempt):
            return response
        if response.status_code >= 300:
            return twilio_error(response)
        sid = json_of(response).get("sid")
        if not sid:
            return Attempt("unknown", error="sms accepted the message without a sid")
        return Attempt("sent", external_id=str(sid))
