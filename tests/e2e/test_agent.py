"""The agent through the running system: a visitor's first message on a channel, the
built-in agent offering services and times from the built-in calendar, a booking that exists
in connectors, and the confirmation reaching the visitor (the web chat, or the provider's
loopback fake)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from conversations.domain.reminders import TOLD_AT_BOOKING
from shared.testing import wait_until

from .conftest import create_workspace, signup
from .test_replies import CREDENTIALS, Channel, server_for

MADRID = ZoneInfo("Europe/Madrid")  # the workspaces' zone (conftest.create_workspace)

API = "/api/v1"


async def _bookable_shop(
    api: httpx.AsyncClient, config: dict[str, Any] | None = None
) -> dict[str, Any]:
    owner = await signup(api)
    workspace = await create_workspace(api, owner)
    headers = owner["headers"]
    service = await api.post(
        f"{API}/workspace-services/",
        headers=headers,
        json={"name": "Consultation", "duration_minutes": 30},
    )
    assert service.status_code == 201, service.text

    async def created() -> httpx.Response | None:
        response = await api.post(
            f"{API}/connectors/",
            headers=headers,
            json={"name": "Calendar", "provider": "builtin", "config": config or {}},
        )
        return response if response.status_code == 201 else None

    calendar = (await wait_until(created)).json()
    activated = await api.post(f"{API}/connectors/{calendar['id']}/activate", headers=headers)
    assert activated.status_code == 200, activated.text
    return {"owner": owner, "workspace": workspace, "headers": headers, "service": service.json()}


async def _agent_knows(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """The agent's projections are fed by events: wait until its settings answer."""

    async def ready() -> bool:
        return (await api.get(f"{API}/agent/settings", headers=headers)).status_code == 200

    await wait_until(ready, timeout=20)


async def _bookings(api: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    listed = await api.get(
        f"{API}/connectors/active/bookings", headers=headers, params={"upcoming": "true"}
    )
    return listed.json()["data"]


@dataclass
class WebChat:
    """A visitor in the web chat widget, through the gateway's public API."""

    api: httpx.AsyncClient
    id: str
    headers: dict[str, str]

    @classmethod
    async def open(cls, api: httpx.AsyncClient, shop: dict[str, Any], name: str) -> WebChat:
        opened = await api.post(
            f"{API}/public/workspaces/{shop['workspace']['handle']}/conversations",
            json={"visitor_name": name},
        )
        assert opened.status_code == 201, opened.text
        body = opened.json()
        return cls(api, body["conversation_id"], {"X-Visitor-Token": body["visitor_token"]})

    async def say(self, text: str) -> None:
        sent = await self.api.post(
            f"{API}/public/conversations/{self.id}/messages",
            json={"content": text},
            headers=self.headers,
        )
        assert sent.status_code == 201, sent.text

    async def agent_says(self, after: int) -> str:
        """The agent's reply number `after` (from 0), once it is there."""

        async def nth() -> str | None:
            read = await self.api.get(
                f"{API}/public/conversations/{self.id}/messages", headers=self.headers
            )
            replies = [m["content"] for m in read.json()["data"] if m["role"] == "agent"]
            return replies[after] if len(replies) > after else None

        return await wait_until(nth, timeout=20)


async def test_a_web_chat_visitor_books_with_the_built_in_agent(api: httpx.AsyncClient) -> None:
    shop = await _bookable_shop(api)
    headers = shop["headers"]
    await _agent_knows(api, headers)
    chat = await WebChat.open(api, shop, "Ana Web")
    conversation_id, say, agent_says = chat.id, chat.say, chat.agent_says

    # One service: the agent greets and offers times straight away, as a numbered list.
    await say("hi")
    offer = await agent_says(0)
    assert "Welcome to Biz" in offer and "1. " in offer, offer
    await say("1")
    # The widget gave a name but no way to reach the visitor: the agent asks for one.
    ask = await agent_says(1)
    assert "phone number or an e-mail" in ask, ask
    await say("sure, it's ana.web@example.com")
    confirmation = await agent_says(2)
    assert "booked for Consultation" in confirmation, confirmation

    [booking] = await _bookings(api, headers)
    assert booking["event_type"] == shop["service"]["id"]
    assert (booking["visitor_name"], booking["visitor_email"]) == ("Ana Web", "ana.web@example.com")
    assert booking["contact_id"] is not None
    conversation = (await api.get(f"{API}/conversations/{conversation_id}", headers=headers)).json()
    assert conversation["agent_booking"]["id"] == booking["id"]
    assert conversation["resolved_by"] == "agent"

    async def delivered() -> Any:
        read = await api.get(
            f"{API}/messages/", params={"conversation_id": conversation_id}, headers=headers
        )
        agent = [m for m in read.json()["data"] if m["role"] == "agent"]
        return agent if agent and all(m["delivery_status"] == "sent" for m in agent) else None

    # The agent's three replies; a reminder of the booking would go a day (or the owner's
    # other offsets) before it, never right after it was made.
    sent = await wait_until(delivered, timeout=20)
    replies = [m for m in sent if "reminder" not in m["metadata"]]
    assert len(replies) == 3, [m["content"] for m in sent]


async def _channel_visitor(
    api: httpx.AsyncClient, system: Any, providers: Any, name: str, headers: dict[str, str]
) -> tuple[Channel, Any, Callable[[str], Awaitable[Any]]]:
    """A visitor on `name`, connected to the owner's account; `received(words)` waits for a
    message to the visitor at the provider's fake containing `words`."""
    channel = Channel(api, system.gateway, name)
    account = await api.post(
        f"{API}/channel-accounts/",
        json={"channel": name, "account_id": channel.account_id, "credentials": CREDENTIALS[name]},
        headers=headers,
    )
    assert account.status_code == 201, account.text
    channel.connected(account.json())
    server = server_for(providers, name)

    async def received(words: str, timeout: float = 30) -> Any:
        async def found() -> Any:
            return [r for r in server.state.to(channel.visitor) if words in json.dumps(r.body)]

        return await wait_until(found, timeout=timeout)

    return channel, server, received


@pytest.mark.parametrize("name", ["whatsapp", "sms"])
async def test_a_channel_visitor_books_and_the_provider_receives_the_confirmation(
    api: httpx.AsyncClient, system: Any, providers: Any, name: str
) -> None:
    shop = await _bookable_shop(api)
    headers = shop["headers"]
    channel, server, received = await _channel_visitor(api, system, providers, name, headers)

    await channel.visitor_writes("Hello!")
    await received("Welcome to Biz")
    await channel.visitor_writes("the first one")
    # The channel proves the phone but gave no name: the agent asks for it.
    await received("please send me your name")
    await channel.visitor_writes("Ana")
    await received("booked for Consultation")
    [booking] = await _bookings(api, headers)
    assert booking["event_type"] == shop["service"]["id"]
    assert booking["visitor_name"] == "Ana" and booking["visitor_phone"].startswith("+")
    if name == "sms":
        # Every agent reply fits the SMS cap (two segments).
        assert all(len(r.body["Body"]) <= 320 for r in server.state.to(channel.visitor))


async def test_a_whatsapp_visitor_cancels_in_answer_to_a_reminder_and_the_next_one_never_goes(
    api: httpx.AsyncClient, system: Any, providers: Any
) -> None:
    """Booked with the agent on WhatsApp a quarter of an hour ahead: the day-before reminder
    is not sent (the visitor was just told), the next one goes at its time, and the visitor
    answers it by cancelling: the booking is cancelled in connectors, the last reminder is
    cancelled, the owner's conversation is tagged and the stats count it."""
    day = [("00:00", "24:00")]
    always = {d: day for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    shop = await _bookable_shop(
        api, {"weekly_hours": always, "min_notice_minutes": 10, "slot_step_minutes": 5}
    )
    headers = shop["headers"]
    await _agent_knows(api, headers)
    # The first start on the five-minute grid eleven minutes away or more, and a reminder
    # `lead` minutes before it: due half a minute to a minute and a half from now, after the
    # booking is made (one due by then would be skipped) and soon enough for a test.
    now = datetime.now(UTC)
    grid = (now + timedelta(minutes=11)).replace(second=0, microsecond=0)
    start = grid + timedelta(minutes=-grid.minute % 5)
    lead = int((start - now).total_seconds() - 30) // 60
    settings = await api.patch(
        f"{API}/reminders/settings",
        headers=headers,
        json={"offsets_minutes": [1440, lead, lead - 5]},
    )
    assert settings.status_code == 200, settings.text
    channel, server, received = await _channel_visitor(api, system, providers, "whatsapp", headers)
    local, today = start.astimezone(MADRID), now.astimezone(MADRID).date()
    day_word = "today" if local.date() == today else "tomorrow"

    await channel.visitor_writes("Hello!")
    await received("Welcome to Biz")
    await channel.visitor_writes(f"{day_word} at {local:%H:%M}")

    # Among the times offered, it is picked; otherwise it is put to the visitor first.
    async def answered() -> str | None:
        said = json.dumps([r.body for r in server.state.to(channel.visitor)])
        return next((w for w in ("send me your name", "Shall I book it?") if w in said), None)

    if await wait_until(answered, timeout=30) == "Shall I book it?":
        await channel.visitor_writes("yes")
        await received("please send me your name")
    await channel.visitor_writes("Ana")
    await received("booked for Consultation")
    [booking] = await _bookings(api, headers)
    assert booking["start"].replace("Z", "+00:00") == start.isoformat()

    await received("reminder of your Consultation", timeout=120)
    await channel.visitor_writes("sorry, I can't make it. please cancel")
    await received("cancelled")

    async def listed(path: str, **params: str) -> list[dict[str, Any]]:
        response = await api.get(f"{API}/{path}", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    [cancelled] = await listed("connectors/active/bookings")
    assert (cancelled["id"], cancelled["status"]) == (booking["id"], "cancelled")
    jobs = {
        (j["kind"], j["offset_minutes"]): j
        for j in await listed("reminders/", booking_id=booking["id"])
    }
    assert (jobs[("reminder", 1440)]["status"], jobs[("reminder", 1440)]["reason"]) == (
        "skipped",
        TOLD_AT_BOOKING,
    )
    assert jobs[("reminder", lead)]["status"] == "sent"
    assert (jobs[("reminder", lead - 5)]["status"], jobs[("reminder", lead - 5)]["reason"]) == (
        "cancelled",
        "booking cancelled",
    )
    [conversation] = await listed("conversations/")
    assert "booking-cancelled" in conversation["tags"]

    async def counted() -> dict[str, Any] | None:
        stats = (await api.get(f"{API}/conversations/stats", headers=headers)).json()
        return stats if stats["reminders"]["cancelled_after_reminder"] == 1 else None

    stats = await wait_until(counted, timeout=20)
    assert stats["reminders"]["sent"] == 1


async def test_a_web_chat_visitor_proves_the_email_by_code_and_cancels_from_a_new_chat(
    api: httpx.AsyncClient, mailbox: Any
) -> None:
    """Booked in one web chat; days later, from another (nothing proves who writes there),
    the visitor asks to cancel: the agent mails a code to the e-mail on the booking (the
    gateway's SMTP), and cancels at the calendar once the code is typed."""
    shop = await _bookable_shop(api)
    headers = shop["headers"]
    await _agent_knows(api, headers)
    email = f"ana.{uuid.uuid4().hex[:8]}@example.com"
    first = await WebChat.open(api, shop, "Ana Web")
    await first.say("hi")
    await first.agent_says(0)
    await first.say("1")
    await first.agent_says(1)
    await first.say(email)
    assert "booked for Consultation" in await first.agent_says(2)
    [booking] = await _bookings(api, headers)

    later = await WebChat.open(api, shop, "Ana")
    await later.say("Hi, I need to cancel my appointment")
    assert "tell me the e-mail address you booked with" in await later.agent_says(0)
    await later.say(email)
    assert "a code is on its way" in await later.agent_says(1)

    async def code() -> str | None:
        for message in mailbox.to(email):
            found = re.search(r"Your code is (\d{6})", mailbox.html(message))
            if found:
                return found.group(1)
        return None

    typed = await wait_until(code, timeout=20)
    await later.say(typed)
    assert "is cancelled" in await later.agent_says(2)
    listed = await api.get(f"{API}/connectors/active/bookings", headers=headers)
    [cancelled] = listed.json()["data"]
    assert (cancelled["id"], cancelled["status"]) == (booking["id"], "cancelled")
