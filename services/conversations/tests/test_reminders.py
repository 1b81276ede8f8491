"""Reminders end to end on the real broker and database: booking events plan durable jobs,
the scheduler writes each due one exactly once through the delivery path (to the loopback
Graph and Twilio fakes), cancellations and moves follow the booking, and the channels'
rules decide what may go."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from conversations.domain.reminders import MOVED, TOLD_AT_BOOKING
from conversations.reminders.models import ReminderJob
from conversations.reminders.scheduler import ReminderScheduler
from shared.events import BookingCancelledV1, BookingCreatedV1, BookingMarkedV1, Envelope
from shared.testing import wait_until

from .test_replies import connect, visitor_writes

API = "/api/v1"
TEMPLATE = {"name": "appointment_reminder", "language": "en_US"}


@pytest.fixture(autouse=True)
def _fresh(providers):
    providers.reset()


@pytest.fixture
async def own_scheduler(app, client):
    """The app's own scheduler off for the test, so the test's schedulers are the only ones;
    back on afterwards."""
    scheduler: ReminderScheduler = app.state.reminders
    await scheduler.stop()
    yield lambda **kw: ReminderScheduler(app.state.runtime.sessionmaker, **kw)
    scheduler.start()


async def settings(client, owner, **values: Any) -> dict[str, Any]:
    response = await client.patch(f"{API}/reminders/settings", json=values, headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def booked(
    publish,
    owner,
    start: datetime,
    *,
    conversation_id: str | None = None,
    booking_id: str | None = None,
    source: str = "platform",
    **extra: Any,
) -> str:
    booking_id = booking_id or f"bk-{uuid4().hex[:12]}"
    await publish(
        BookingCreatedV1(
            workspace_id=owner.workspace_id,
            connector_id=uuid4(),
            provider="builtin",
            booking_id=booking_id,
            event_type="Haircut",
            start=start,
            end=start + timedelta(minutes=30),
            source=source,  # type: ignore[arg-type]
            conversation_id=UUID(conversation_id) if conversation_id else None,
            **({"visitor_name": "Ana"} | extra),
        ),
        producer="connectors",
    )
    return booking_id


async def cancelled(publish, owner, booking_id: str, reason: str | None = None) -> None:
    await publish(
        BookingCancelledV1(
            workspace_id=owner.workspace_id,
            connector_id=uuid4(),
            provider="builtin",
            booking_id=booking_id,
            reason=reason,
            source="platform",
        ),
        producer="connectors",
    )


async def marked(publish, owner, booking_id: str, attendance: str | None) -> None:
    await publish(
        BookingMarkedV1(
            workspace_id=owner.workspace_id,
            connector_id=uuid4(),
            provider="builtin",
            booking_id=booking_id,
            attendance=attendance,  # type: ignore[arg-type]
        ),
        producer="connectors",
    )


async def jobs(query, booking_id: str, **where: str) -> list[Any]:
    extra = "".join(f" AND {k} = :{k}" for k in where)
    return await query(
        "SELECT * FROM conversations.reminder_jobs WHERE booking_id = :b"
        + extra
        + " ORDER BY kind, offset_minutes DESC",
        b=booking_id,
        **where,
    )


async def job_is(query, booking_id: str, status: str, kind: str = "reminder") -> Any:
    async def check():
        rows = await jobs(query, booking_id, kind=kind)
        return rows[0] if rows and all(r.status == status for r in rows) else None

    return await wait_until(check, timeout=15)


def soon(seconds: float, offset_minutes: int = 1) -> datetime:
    """An appointment whose reminder `offset_minutes` before it is due in `seconds`. A
    reminder already due when the agent's booking is planned is skipped (the visitor was just
    told), so a reminder that should go is due a few seconds after its booking."""
    return datetime.now(UTC) + timedelta(minutes=offset_minutes, seconds=seconds)


async def test_a_whatsapp_reminder_outside_the_window_goes_as_the_owners_template(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner("Europe/Madrid")
    await settings(client, owner, offsets_minutes=[1], whatsapp_template=TEMPLATE)
    account = await connect(client, owner, "whatsapp")
    long_ago = datetime.now(UTC) - timedelta(days=2)
    conversation_id, visitor = await visitor_writes(publish, query, account, at=long_ago)
    start = soon(2)
    booking_id = await booked(publish, owner, start, conversation_id=conversation_id)

    job = await job_is(query, booking_id, "sent")
    assert job.message_id is not None and job.reason is None
    requests = await wait_until(lambda: _sent_to(providers.graph.state, visitor))
    [request] = requests
    template = request.body["template"]
    assert request.body["type"] == "template"
    assert template["name"] == "appointment_reminder"
    assert template["language"] == {"policy": "deterministic", "code": "en_US"}
    body, *buttons = template["components"]
    name, service, when, business = [p["text"] for p in body["parameters"]]
    assert (name, service, business) == ("Ana", "Haircut", "Acme")
    local = start.astimezone(ZoneInfo("Europe/Madrid"))
    assert when.endswith(local.strftime("%H:%M"))
    assert [(b["sub_type"], b["index"], b["parameters"][0]["payload"]) for b in buttons] == [
        ("quick_reply", "0", f"reminder:confirm:{booking_id}"),
        ("quick_reply", "1", f"reminder:cancel:{booking_id}"),
        ("quick_reply", "2", f"reminder:change:{booking_id}"),
    ]

    # Written in the conversation as the agent's message, tracked like any reply.
    async def delivered() -> dict | None:
        # The fake records the request before the sender has stored the provider's answer.
        url = f"{API}/messages/{job.message_id}"
        message = (await client.get(url, headers=owner.headers)).json()
        return message if message["delivery_status"] != "sending" else None

    message = await wait_until(delivered)
    assert message["role"] == "agent" and message["content"].startswith("Hi Ana, this is a")
    assert message["delivery_status"] in ("sent", "delivered")
    # The agent booked it in the conversation: no confirmation goes besides its own reply.
    assert await jobs(query, booking_id, kind="confirmation") == []


async def _sent_to(state, visitor):
    found = state.to(visitor)
    return found or None


async def test_without_a_template_outside_the_window_the_reminder_fails_with_the_reason(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    await settings(client, owner, offsets_minutes=[60])
    account = await connect(client, owner, "whatsapp")
    long_ago = datetime.now(UTC) - timedelta(days=2)
    conversation_id, visitor = await visitor_writes(publish, query, account, at=long_ago)
    booking_id = await booked(
        publish, owner, soon(2, 60), conversation_id=conversation_id
    )  # an hour before is 2 s from now

    job = await job_is(query, booking_id, "failed")
    assert job.reason == "WhatsApp needs an approved template outside the 24 h window"
    assert job.message_id is None and providers.graph.state.to(visitor) == []


async def test_inside_the_window_a_whatsapp_reminder_is_text_that_says_how_to_answer(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    await settings(
        client, owner, offsets_minutes=[60], texts={"en": "See you {time}, {name}! {business}"}
    )
    account = await connect(client, owner, "whatsapp")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    booking_id = await booked(publish, owner, soon(2, 60), conversation_id=conversation_id)

    await job_is(query, booking_id, "sent")
    [request] = await wait_until(lambda: _sent_to(providers.graph.state, visitor))
    text = request.body["text"]["body"]
    assert text.startswith("See you ") and "Ana! Acme" in text
    assert text.endswith("Reply 'confirm', 'cancel' or 'change'.")


async def test_a_booking_cancelled_before_its_reminder_is_due_never_sends_it(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    await settings(client, owner, offsets_minutes=[1])
    account = await connect(client, owner, "sms")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    other_id, other_visitor = await visitor_writes(publish, query, account)
    start = soon(3)
    booking_id = await booked(publish, owner, start, conversation_id=conversation_id)
    await job_is(query, booking_id, "scheduled")
    # The visitor cancelled by talking to the agent, whose reply said so: nothing else goes.
    await cancelled(publish, owner, booking_id, reason="visitor")
    job = await job_is(query, booking_id, "cancelled")
    assert job.reason == "booking cancelled"

    # A booking due at the same moment is sent: the scheduler has been past that time.
    control = await booked(publish, owner, start, conversation_id=other_id)
    await job_is(query, control, "sent")
    await wait_until(lambda: _sent_to(providers.twilio.state, other_visitor))
    assert providers.twilio.state.to(visitor) == []
    [job] = await jobs(query, booking_id)
    assert (job.status, job.message_id) == ("cancelled", None)


async def test_a_providers_booking_for_a_number_that_chats_on_whatsapp_is_confirmed_there(
    client, new_owner, publish, query, providers
) -> None:
    """Booked on the provider's own page (no conversation): the number given is a WhatsApp
    chat's, proven by the channel, so the confirmation goes to that chat."""
    owner = await new_owner()
    await settings(client, owner, offsets_minutes=[1])  # only the confirmation is due now
    account = await connect(client, owner, "whatsapp")
    number = f"346{uuid4().int % 10**8:08d}"
    conversation_id, _ = await visitor_writes(publish, query, account, visitor=number)
    booking_id = await booked(
        publish, owner, soon(3600), source="provider", visitor_phone=f"+{number}"
    )

    job = await job_is(query, booking_id, "sent", kind="confirmation")
    [message] = await query(
        "SELECT conversation_id, content FROM conversations.messages WHERE id = :id",
        id=job.message_id,
    )
    assert str(message.conversation_id) == conversation_id
    assert "is booked" in message.content
    [request] = await wait_until(lambda: _sent_to(providers.graph.state, number))
    assert "is booked" in request.body["text"]["body"]

    # A number that never wrote, or one only typed in a chat, gets no chat message.
    stranger = await booked(
        publish, owner, soon(3600), source="provider", visitor_phone="+34699999999"
    )
    assert (await job_is(query, stranger, "skipped", kind="confirmation")).reason == (
        "no conversation or e-mail to reach the visitor"
    )


async def test_a_booking_inside_a_reminders_window_is_told_once_not_reminded_seconds_later(
    client, new_owner, publish, query, providers
) -> None:
    """Booked three hours ahead: the day-before reminder's time has passed. The visitor who
    just read "Done! You're booked" (the agent) or a confirmation (a provider's booking) gets
    no reminder at once; the two-hours-before one still goes at its time."""
    owner = await new_owner()
    await settings(client, owner, offsets_minutes=[1440, 120])
    account = await connect(client, owner, "whatsapp")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    start = datetime.now(UTC) + timedelta(hours=3)
    by_agent = await booked(publish, owner, start, conversation_id=conversation_id)
    by_provider = await booked(
        publish, owner, start, source="provider", conversation_id=conversation_id
    )

    await job_is(query, by_provider, "sent", kind="confirmation")
    for booking_id in (by_agent, by_provider):
        day_before, two_hours = await jobs(query, booking_id, kind="reminder")
        assert (day_before.status, day_before.reason) == ("skipped", TOLD_AT_BOOKING)
        assert two_hours.status == "scheduled"
        assert two_hours.due_at == start - timedelta(minutes=120)
    assert [j.status for j in await jobs(query, by_agent, kind="confirmation")] in (
        [],
        ["cancelled"],
    )
    [request] = await wait_until(lambda: _sent_to(providers.graph.state, visitor))
    assert "is booked" in request.body["text"]["body"]  # the one message: the confirmation


async def test_a_booking_the_owner_cancels_is_told_to_the_visitor_once_instead_of_reminded(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner("Europe/Madrid")
    await settings(client, owner, offsets_minutes=[1])
    account = await connect(client, owner, "sms")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    start = soon(600)
    booking_id = await booked(publish, owner, start, conversation_id=conversation_id)
    await job_is(query, booking_id, "scheduled")
    await cancelled(publish, owner, booking_id, reason="the stylist is ill")
    await cancelled(publish, owner, booking_id, reason="the stylist is ill")  # told twice

    notice = await job_is(query, booking_id, "sent", kind="cancellation")
    [request] = await wait_until(lambda: _sent_to(providers.twilio.state, visitor))
    local = start.astimezone(ZoneInfo("Europe/Madrid")).strftime("%H:%M")
    assert request.body["Body"].startswith("Hi Ana, your Haircut on ")
    assert request.body["Body"].endswith(f"{local} at Acme has been cancelled.")
    assert (await job_is(query, booking_id, "cancelled")).reason == "booking cancelled"
    assert [j.kind for j in await jobs(query, booking_id)] == ["cancellation", "reminder"]
    assert notice.message_id is not None


async def test_a_cancellation_notice_held_by_quiet_hours_does_not_go_once_rebooked(
    client, new_owner, publish, query, execute, app
) -> None:
    owner = await new_owner()  # UTC
    now = datetime.now(UTC)
    quiet = {"start": (now - timedelta(hours=1)).strftime("%H:%M")}
    quiet["end"] = (now + timedelta(hours=1)).strftime("%H:%M")
    await settings(client, owner, offsets_minutes=[1], quiet_hours=quiet)
    account = await connect(client, owner, "sms")
    conversation_id, _ = await visitor_writes(publish, query, account)
    start = (now + timedelta(hours=3)).replace(second=0, microsecond=0)
    booking_id = await booked(publish, owner, start, conversation_id=conversation_id)
    await job_is(query, booking_id, "scheduled")
    await cancelled(publish, owner, booking_id)
    held = await job_is(query, booking_id, "scheduled", kind="cancellation")
    assert held.due_at > now + timedelta(minutes=30)  # the end of quiet hours

    await booked(publish, owner, start, conversation_id=conversation_id, booking_id=booking_id)
    await wait_until(lambda: _status(query, booking_id, "confirmed"))
    await execute(
        "UPDATE conversations.reminder_jobs SET due_at = now() WHERE id = :id", id=held.id
    )
    app.state.reminders.wake()
    notice = await job_is(query, booking_id, "cancelled", kind="cancellation")
    assert (notice.reason, notice.message_id) == ("booking no longer cancelled", None)


async def _status(query, booking_id: str, status: str) -> bool:
    rows = await query(
        "SELECT status FROM conversations.reminder_bookings WHERE booking_id = :b", b=booking_id
    )
    return bool(rows) and rows[0].status == status


async def test_a_moved_booking_is_reminded_of_its_new_time_only(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    await settings(client, owner, offsets_minutes=[1])
    account = await connect(client, owner, "sms")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    # Connectors moves a booking as a cancellation (reason "moved") and a new booking: the
    # visitor is reminded of the new time, never told of a cancellation.
    old = await booked(publish, owner, soon(600), conversation_id=conversation_id)
    await job_is(query, old, "scheduled")
    await cancelled(publish, owner, old, reason=MOVED)
    new_start = soon(2)
    new = await booked(publish, owner, new_start, conversation_id=conversation_id)

    await job_is(query, old, "cancelled")
    await job_is(query, new, "sent")
    [request] = await wait_until(lambda: _sent_to(providers.twilio.state, visitor))
    assert new_start.strftime("%H:%M") in request.body["Body"]
    assert request.body["Body"].endswith("Reply C to confirm, X to cancel.")

    # The same booking seen again with another start is planned afresh, in one transaction:
    # a job for the new start, the old start's job cancelled beside it.
    again = await booked(publish, owner, soon(900), conversation_id=conversation_id)
    first = await job_is(query, again, "scheduled")
    later = soon(1800)
    await booked(publish, owner, later, conversation_id=conversation_id, booking_id=again)

    async def replanned():
        rows = await jobs(query, again)
        return rows if len(rows) == 2 else None

    rows = {row.id: row for row in await wait_until(replanned)}
    old_job = rows.pop(first.id)
    [new_job] = rows.values()
    assert (old_job.status, old_job.reason) == (
        "cancelled",
        "booking moved or reminder settings changed",
    )
    assert (new_job.status, new_job.due_at, new_job.start_at) == (
        "scheduled",
        later - timedelta(minutes=1),
        later,
    )


async def test_a_cancellation_overtaking_its_creation_leaves_nothing_to_send(
    client, new_owner, publish, query, bus
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "sms")
    conversation_id, _ = await visitor_writes(publish, query, account)
    booking_id = f"bk-{uuid4().hex[:12]}"
    await cancelled(publish, owner, booking_id)
    await wait_until(
        lambda: query(
            "SELECT 1 FROM conversations.reminder_bookings WHERE booking_id = :b AND "
            "status = 'cancelled'",
            b=booking_id,
        )
    )
    # The creation was published first (older occurred_at) but arrives after.
    event = BookingCreatedV1(
        workspace_id=owner.workspace_id,
        connector_id=uuid4(),
        provider="builtin",
        booking_id=booking_id,
        start=soon(0, 60),
        source="platform",
        conversation_id=UUID(conversation_id),
    )
    envelope = Envelope.wrap(event, producer="connectors")
    envelope = envelope.model_copy(update={"occurred_at": datetime.now(UTC) - timedelta(minutes=5)})
    await bus.publish(envelope, mandatory=True)
    await wait_until(
        lambda: query("SELECT 1 FROM conversations.inbox WHERE event_id = :e", e=envelope.event_id)
    )
    assert await jobs(query, booking_id) == []


async def test_sms_opted_out_web_without_email_and_messenger_out_of_window_are_skipped(
    client, new_owner, publish, query, execute
) -> None:
    owner = await new_owner()
    await settings(client, owner, offsets_minutes=[60])
    sms = await connect(client, owner, "sms")
    sms_conversation, _ = await visitor_writes(publish, query, sms)
    await execute(
        "UPDATE conversations.conversations SET opted_out_at = now() WHERE id = :id",
        id=UUID(sms_conversation),
    )
    messenger = await connect(client, owner, "messenger")
    long_ago = datetime.now(UTC) - timedelta(days=3)
    fb_conversation, _ = await visitor_writes(publish, query, messenger, at=long_ago)
    web = await client.post(
        f"{API}/public/workspaces/{owner.handle}/conversations",
        json={"visitor_name": "Wes"},
        headers=_public(owner),
    )
    assert web.status_code == 201, web.text
    web_conversation = web.json()["conversation_id"]

    reasons = {}
    for conversation_id in (sms_conversation, fb_conversation, web_conversation):
        booking_id = await booked(publish, owner, soon(2, 60), conversation_id=conversation_id)
        reasons[conversation_id] = (await job_is(query, booking_id, "skipped")).reason
    assert reasons[sms_conversation] == "the visitor opted out of SMS (STOP)"
    assert reasons[fb_conversation].startswith("messenger takes automated messages only within")
    assert reasons[web_conversation] == "web chat visitor has no reachable channel"


def _public(owner) -> dict[str, str]:
    from shared.testing import TEST_SECRET_KEY, internal_headers

    return internal_headers(TEST_SECRET_KEY, "conversations", None) | {
        "X-Forwarded-For": f"10.{uuid4().int % 250}.1.1"
    }


async def test_an_owners_or_providers_booking_is_confirmed_by_email_when_no_chat_reaches(
    client, new_owner, publish, query
) -> None:
    owner = await new_owner()
    email = f"ana-{uuid4().hex[:8]}@example.com"  # other tests e-mail Ana too
    booking_id = await booked(
        publish,
        owner,
        datetime.now(UTC) + timedelta(days=3),
        source="provider",
        visitor_email=email,
    )
    confirmation = await job_is(query, booking_id, "sent", kind="confirmation")
    assert confirmation.reason == "e-mailed" and confirmation.message_id is None
    [row] = await query(
        "SELECT envelope FROM conversations.outbox WHERE event_type = "
        "'notification.email_requested' AND envelope->'payload'->>'to' = :to",
        to=email,
    )
    payload = row.envelope["payload"]
    assert payload["subject"].startswith("Booked: Haircut on ")
    assert payload["text"].startswith("Hi Ana, your Haircut on ")
    reminders = await jobs(query, booking_id, kind="reminder")
    assert [(r.offset_minutes, r.status) for r in reminders] == [
        (1440, "scheduled"),
        (120, "scheduled"),
    ]


async def test_two_schedulers_write_each_due_reminder_exactly_once(
    client, new_owner, publish, query, own_scheduler, providers
) -> None:
    owner = await new_owner()
    await settings(client, owner, offsets_minutes=[60])
    account = await connect(client, owner, "whatsapp")
    conversations = [await visitor_writes(publish, query, account) for _ in range(3)]
    start = soon(60, 60)  # due in a minute: the schedulers run at that moment
    due = start - timedelta(minutes=60)
    ids = [
        await booked(publish, owner, start, conversation_id=conversations[n % 3][0])
        for n in range(30)
    ]
    await wait_until(lambda: _count(query, owner.workspace_id, "scheduled", 30), timeout=15)

    first, second = own_scheduler(batch_size=4), own_scheduler(batch_size=4)

    async def drain(scheduler: ReminderScheduler) -> int:
        total = 0
        while claimed := await scheduler.run_once(now=due):
            total += claimed
        return total

    claimed = await asyncio.gather(drain(first), drain(second))
    assert sum(claimed) >= 30 and all(claimed), claimed  # both took part
    sent = await query(
        "SELECT j.id, j.message_id, count(m.id) AS written FROM conversations.reminder_jobs j "
        "LEFT JOIN conversations.messages m ON m.metadata->'reminder'->>'job_id' = j.id::text "
        "WHERE j.workspace_id = :ws AND j.kind = 'reminder' GROUP BY j.id",
        ws=owner.workspace_id,
    )
    assert len(sent) == 30 and all(r.written == 1 and r.message_id for r in sent)
    assert {r.booking_id for r in await _all(query, owner.workspace_id)} == set(ids)
    # And the delivery consumer sent each to WhatsApp once.
    visitors = [v for _, v in conversations]

    async def delivered():
        n = sum(len(providers.graph.state.to(v)) for v in visitors)
        return n if n >= 30 else None

    assert await wait_until(delivered, timeout=20) == 30


async def test_a_scheduler_cancelled_mid_batch_rolls_back_and_the_next_one_sends_once(
    app, client, new_owner, publish, query, own_scheduler
) -> None:
    owner = await new_owner()
    await settings(client, owner, offsets_minutes=[60])
    account = await connect(client, owner, "sms")
    conversation_id, _ = await visitor_writes(publish, query, account)
    start = soon(60, 60)  # due in a minute: the schedulers run at that moment
    due = start - timedelta(minutes=60)
    for _ in range(3):
        await booked(publish, owner, start, conversation_id=conversation_id)
    await wait_until(lambda: _count(query, owner.workspace_id, "scheduled", 3))

    halfway = asyncio.Event()

    class Crashing(ReminderScheduler):
        async def after_job(self, job: ReminderJob) -> None:
            halfway.set()  # one job written in this transaction, not committed
            await asyncio.Event().wait()

    crashing = Crashing(app.state.runtime.sessionmaker)
    task = asyncio.create_task(crashing.run_once(now=due))
    await asyncio.wait_for(halfway.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _count(query, owner.workspace_id, "scheduled", 3)
    written = await query(
        "SELECT count(*) AS n FROM conversations.messages WHERE conversation_id = :c "
        "AND metadata ? 'reminder'",
        c=UUID(conversation_id),
    )
    assert written[0].n == 0

    assert await own_scheduler().run_once(now=due) >= 3
    rows = await _all(query, owner.workspace_id)
    assert [r.status for r in rows] == ["sent"] * 3
    written = await query(
        "SELECT count(*) AS n FROM conversations.messages WHERE conversation_id = :c "
        "AND metadata ? 'reminder'",
        c=UUID(conversation_id),
    )
    assert written[0].n == 3
    await own_scheduler().run_once(now=due)  # committed: never claimed again
    assert [r.status for r in await _all(query, owner.workspace_id)] == ["sent"] * 3
    written = await query(
        "SELECT count(*) AS n FROM conversations.messages WHERE conversation_id = :c "
        "AND metadata ? 'reminder'",
        c=UUID(conversation_id),
    )
    assert written[0].n == 3


async def test_catching_up_after_an_outage_skips_appointments_that_have_started(
    client, new_owner, publish, query, own_scheduler
) -> None:
    owner = await new_owner()
    await settings(client, owner, offsets_minutes=[5])
    account = await connect(client, owner, "sms")
    conversation_id, _ = await visitor_writes(publish, query, account)
    early = await booked(publish, owner, soon(0, 10), conversation_id=conversation_id)
    late = await booked(publish, owner, soon(0, 60), conversation_id=conversation_id)
    await wait_until(lambda: _count(query, owner.workspace_id, "scheduled", 2))

    # The scheduler comes back 20 minutes later: both reminders came due meanwhile.
    back = datetime.now(UTC) + timedelta(minutes=20)
    await own_scheduler().run_once(now=back)
    [skipped] = await jobs(query, early)
    assert (skipped.status, skipped.reason) == ("skipped", "appointment already started")
    [waiting] = await jobs(query, late)
    assert waiting.status == "scheduled"  # not due at that moment
    await own_scheduler().run_once(now=back + timedelta(minutes=36))
    [sent] = await jobs(query, late)
    assert sent.status == "sent" and sent.message_id is not None


async def _count(query, workspace_id, status, expected):
    rows = await query(
        "SELECT count(*) AS n FROM conversations.reminder_jobs "
        "WHERE workspace_id = :ws AND status = :s AND kind = 'reminder'",
        ws=workspace_id,
        s=status,
    )
    return rows[0].n == expected


async def _all(query, workspace_id):
    return await query(
        "SELECT * FROM conversations.reminder_jobs WHERE workspace_id = :ws AND kind = 'reminder' "
        "ORDER BY due_at, booking_id",
        ws=workspace_id,
    )


async def test_reminder_settings_defaults_changes_and_readable_refusals(client, new_owner) -> None:
    owner = await new_owner()
    read = await client.get(f"{API}/reminders/settings", headers=owner.headers)
    assert read.status_code == 200
    assert read.json() == {
        "enabled": True,
        "offsets_minutes": [1440, 120],
        "quiet_hours": None,
        "texts": {},
        "whatsapp_template": None,
    }
    changed = await settings(
        client,
        owner,
        offsets_minutes=[30, 2880],
        quiet_hours={"start": "21:00", "end": "08:00"},
        texts={"es": "Hola {name}, te esperamos el {time}"},
        whatsapp_template=TEMPLATE,
    )
    assert changed["offsets_minutes"] == [2880, 30]
    assert changed["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    partial = await settings(client, owner, enabled=False, quiet_hours=None)
    assert (partial["enabled"], partial["quiet_hours"], partial["texts"]) == (
        False,
        None,
        {"es": "Hola {name}, te esperamos el {time}"},
    )
    for body, words in [
        ({"texts": {"en": "Hi {nombre}"}}, "unknown placeholder {nombre}"),
        ({"texts": {"nl": "Hallo"}}, "unknown language"),
        ({"offsets_minutes": [1, 2, 3, 4]}, "1 to 3"),
        ({"offsets_minutes": [0]}, "1 to 43200"),
        ({"offsets_minutes": []}, "1 to 3"),
        ({"quiet_hours": {"start": "9pm", "end": "08:00"}}, "HH:MM"),
        ({"enabled": None}, "true or false"),
    ]:
        response = await client.patch(f"{API}/reminders/settings", json=body, headers=owner.headers)
        assert response.status_code == 422, (body, response.text)
        assert words in str(response.json()["detail"]), (body, response.text)
    bad_template = await client.patch(
        f"{API}/reminders/settings",
        json={"whatsapp_template": {"name": "Bad Name", "language": "en_US"}},
        headers=owner.headers,
    )
    assert bad_template.status_code == 422
    # Nothing half-written by the refusals; another owner has their own defaults.
    after = (await client.get(f"{API}/reminders/settings", headers=owner.headers)).json()
    assert after == partial
    other = await new_owner()
    theirs = (await client.get(f"{API}/reminders/settings", headers=other.headers)).json()
    assert theirs["offsets_minutes"] == [1440, 120] and theirs["enabled"] is True


async def test_the_owner_lists_their_reminders_only_filtered_and_paged(
    client, new_owner, publish, query
) -> None:
    owner, other = await new_owner(), await new_owner()
    far = datetime.now(UTC) + timedelta(days=5)
    mine = await booked(publish, owner, far)
    theirs = await booked(publish, other, far)
    await job_is(query, mine, "scheduled")
    await job_is(query, theirs, "scheduled")

    listed = await client.get(f"{API}/reminders/", headers=owner.headers)
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 3  # two reminders and the confirmation (sent or skipped)
    assert {r["booking_id"] for r in body["data"]} == {mine}
    keys = {"booking_id", "due_at", "status", "reason", "message_id", "kind"}
    assert keys <= set(body["data"][0])
    only = await client.get(
        f"{API}/reminders/",
        params={"status": "scheduled", "booking_id": mine, "limit": 1},
        headers=owner.headers,
    )
    assert only.json()["count"] == 2 and len(only.json()["data"]) == 1
    stranger = await client.get(
        f"{API}/reminders/", params={"booking_id": mine}, headers=other.headers
    )
    assert stranger.json() == {"data": [], "count": 0}
    bad = await client.get(f"{API}/reminders/", params={"status": "later"}, headers=owner.headers)
    assert bad.status_code == 422


async def test_what_became_of_reminded_bookings_and_attendance_are_in_the_stats(
    client, new_owner, publish, query
) -> None:
    owner = await new_owner()
    await settings(client, owner, offsets_minutes=[1])
    account = await connect(client, owner, "sms")
    conversation_id, _ = await visitor_writes(publish, query, account)
    at = {"conversation_id": conversation_id}
    # Reminded, then: cancelled; moved by the agent (a new booking, the old one cancelled as
    # moved); moved by the provider (the same booking at another start).
    reminded = [await booked(publish, owner, soon(1), **at) for _ in range(3)]
    for booking_id in reminded:
        await job_is(query, booking_id, "sent")
    cancelled_one, moved_by_agent, moved_by_provider = reminded
    await cancelled(publish, owner, cancelled_one)
    await cancelled(publish, owner, moved_by_agent, reason=MOVED)
    await booked(publish, owner, soon(900), booking_id=moved_by_provider, **at)
    # Not reminded yet: a cancellation is not "after a reminder".
    early = await booked(publish, owner, soon(600), **at)
    await job_is(query, early, "scheduled")
    await cancelled(publish, owner, early)
    await job_is(query, early, "cancelled")
    # The owner's marks, the last one winning: one came, one did not, one cleared.
    came, missed, cleared = [await booked(publish, owner, soon(1200), **at) for _ in range(3)]
    for booking_id in (came, missed, cleared):  # marks come long after the booking is known
        await job_is(query, booking_id, "scheduled")
    for booking_id, marks in (
        (came, ["no_show", "attended"]),
        (missed, ["no_show"]),
        (cleared, ["attended", None]),
    ):
        for attendance in marks:
            await marked(publish, owner, booking_id, attendance)

    async def stats() -> dict[str, Any] | None:
        response = await client.get(
            f"{API}/conversations/stats",
            params={"end": (datetime.now(UTC) + timedelta(days=1)).date().isoformat()},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        expected = {"attended": 1, "no_show": 1, "no_show_rate": 0.5}
        return body if body["attendance"] == expected else None

    body = await wait_until(stats, timeout=15)
    assert body["reminders"] | {"confirmations_sent": None} == {
        "sent": 3,
        "failed": 0,
        "confirmations_sent": None,
        "visitor_confirmed": 0,
        "cancelled_after_reminder": 1,
        "moved_after_reminder": 2,
    }
