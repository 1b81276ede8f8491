"""Proof that a channel account's credentials reach the provider account it claims.

Anyone can type a WhatsApp phone number id, a Page id or a Twilio number; only its owner
holds credentials the provider answers for it. So before an account routes inbound messages,
the provider is asked, with the account's own credentials:
- Graph API (WhatsApp, Messenger, Instagram): `GET {GRAPH}/{version}/{id}?fields=id` must
  answer that very id (the token can read the node);
- Twilio: `GET {TWILIO}/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json
  ?PhoneNumber=...` must list the number (it belongs to that Twilio account).
A refusal (bad token, node not readable, number not in the account) is `failed`; no answer
(timeout, 5xx, throttling) leaves the claim `unverified`, to be checked again later.
Integrator accounts (chatgpt, phone) have nothing to ask: what they receive must be signed
with the account's own secret, which only its owner was shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from conversations.delivery.base import json_of, safe_path
from conversations.domain.credentials import (
    AnyCredentials,
    InstagramCredentials,
    MessengerCredentials,
    SmsCredentials,
    WhatsAppCredentials,
)
from conversations.domain.ownership import NO_CREDENTIALS, SIGNED, Proof

INTEGRATOR_CHANNELS = ("chatgpt", "phone")


@dataclass(frozen=True, slots=True)
class ProviderAddresses:
    graph_api_base_url: str
    graph_api_version: str
    twilio_api_base_url: str
    timeout_seconds: float


class OwnershipChecker:
    def __init__(self, client: httpx.AsyncClient, addresses: ProviderAddresses) -> None:
        self.client = client
        self.addresses = addresses

    async def check(
        self, channel: str, account_id: str, credentials: AnyCredentials | None
    ) -> Proof:
        if channel in INTEGRATOR_CHANNELS:
            return SIGNED
        if credentials is None:
            return NO_CREDENTIALS
        if account_id.strip(".") == "":
            return Proof("failed", "This is not an account id")
        try:
            if isinstance(credentials, SmsCredentials):
                return await self._twilio(account_id, credentials)
            if isinstance(
                credentials, WhatsAppCredentials | MessengerCredentials | InstagramCredentials
            ):
                return await self._graph(channel, account_id, credentials)
        except httpx.HTTPError as exc:
            return Proof(
                "unverified",
                f"{_provider(channel)} could not be reached ({type(exc).__name__}); "
                "verify again later",
                answered=False,
            )
        return Proof("failed", "These credentials are not for this channel")

    async def _graph(
        self,
        channel: str,
        account_id: str,
        credentials: WhatsAppCredentials | MessengerCredentials | InstagramCredentials,
    ) -> Proof:
        a = self.addresses
        url = f"{a.graph_api_base_url.rstrip('/')}/{a.graph_api_version}/{safe_path(account_id)}"
        params = {"fields": "id"}
        headers = {}
        # The same way the senders authenticate: WhatsApp Cloud API takes a Bearer token,
        # Page tokens go as `access_token`.
        if isinstance(credentials, WhatsAppCredentials):
            headers["authorization"] = f"Bearer {credentials.access_token.get_secret_value()}"
        else:
            params["access_token"] = credentials.page_access_token.get_secret_value()
        response = await self.client.get(
            url, params=params, headers=headers, timeout=a.timeout_seconds
        )
        if _no_answer(response):
            return _unanswered(channel, response)
        body = json_of(response)
        if response.is_success:
            if str(body.get("id", "")) == account_id:
                return Proof("verified")
            return Proof("failed", f"Meta answered for another id than {account_id!r}")
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        code = error.get("code") if error else None
        message = str(error.get("message") or f"HTTP {response.status_code}")[:200]
        return Proof(
            "failed",
            f"Meta refused: {code if code is not None else response.status_code} {message}; "
            f"the token must be able to read {account_id!r}",
        )

    async def _twilio(self, number: str, credentials: SmsCredentials) -> Proof:
        a = self.addresses
        url = (
            f"{a.twilio_api_base_url.rstrip('/')}/2010-04-01/Accounts/"
            f"{safe_path(credentials.account_sid)}/IncomingPhoneNumbers.json"
        )
        response = await self.client.get(
            url,
            params={"PhoneNumber": number},
            auth=credentials.basic_auth(),
            timeout=a.timeout_seconds,
        )
        if _no_answer(response):
            return _unanswered("sms", response)
        body = json_of(response)
        if response.is_success:
            numbers = body.get("incoming_phone_numbers")
            listed = {
                str(n.get("phone_number"))
                for n in (numbers if isinstance(numbers, list) else [])
                if isinstance(n, dict)
            }
            if number in listed:
                return Proof("verified")
            return Proof("failed", f"{number} is not a phone number of this Twilio account")
        code = body.get("code")
        message = str(body.get("message") or f"HTTP {response.status_code}")[:200]
        return Proof(
            "failed",
            f"Twilio refused: {code if code is not None else response.status_code} {message}",
        )


def _no_answer(response: httpx.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


def _unanswered(channel: str, response: httpx.Response) -> Proof:
    return Proof(
        "unverified",
        f"{_provider(channel)} did not answer (HTTP {response.status_code}); verify again later",
        answered=False,
    )


def _provider(channel: str) -> str:
    return "Twilio" if channel == "sms" else "Meta"
