"""Replies in flight together share their statements (delivery/coalesce.py), and every
exactly-once rule still holds: a batch of replies is sent once each, a copy of a batch sends
nothing again, and a reply asked for twice in one batch is claimed once."""

import asyncio
from uuid import UUID

import pytest

from conversations.db.uow import ConversationsUnitOfWork
from conversations.delivery.coalesce import Coalescer
from conversations.delivery.repository import DeliveryRepository
from conversations.delivery.service import Delivery
from shared.crypto import Vault
from shared.events import Envelope
from shared.testing import wait_until

from .test_delivery_exactly_once import consumed, pending_reply
from .test_replies import connect, settled, visitor_writes


async def test_calls_made_while_a_batch_runs_leave_together_and_a_lone_call_waits_for_nobody() -> (
    None
):
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        await asyncio.sleep(0.01)
        return [i * 10 for i in items]

    together = Coalescer(run)
    assert await together(1) == 10
    assert await asyncio.gather(*(together(i) for i in range(2, 7))) == [20, 30, 40, 50, 60]
    assert batches == [[1], [2, 3, 4, 5, 6]]


async def test_a_failing_batch_is_run_again_item_by_item_so_one_bad_item_fails_alone() -> None:
    runs: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        runs.append(items)
        if 3 in items:
            raise ValueError("poison")
        return items

    together = Coalescer(run)
    results = await asyncio.gather(*(together(i) for i in range(1, 6)), return_exceptions=True)
    assert results[:2] == [1, 2] and results[3:] == [4, 5]
    assert isinstance(results[2], ValueError)
    assert runs == [[1, 2, 3, 4, 5], [1], [2], [3], [4], [5]]


async def test_a_cancelled_caller_does_not_stop_the_others() -> None:
    release = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        await release.wait()
        return items

    together = Coalescer(run)
    first = asyncio.create_task(together(1))
    await asyncio.sleep(0)
    second, third = asyncio.create_task(together(2)), asyncio.create_task(together(3))
    await asyncio.sleep(0)
    second.cancel()
    release.set()
    assert await first == 1 and await third == 3
    with pytest.raises(asyncio.CancelledError):
        await second


async def pending_replies(app, conversation_ids: list[str]) -> list[tuple[UUID, Envelope]]:
    return [await pending_reply(app, c) for c in conversation_ids]


async def test_a_batch_of_replies_on_several_accounts_reaches_each_visitor_once(
    app, client, bus, new_owner, publish, query, providers
) -> None:
    chats = []
    for _ in range(3):  # three businesses, three numbers, two visitors each
        owner = await new_owner()
        account = await connect(client, owner, "whatsapp")
        for _ in range(2):
            chats.append((owner, *(await visitor_writes(publish, query, account))))
    replies = await pending_replies(app, [c for _, c, _ in chats])
    before = consumed()
    # Published at once: the consumer holds them together and claims and records them in
    # shared statements; each copy of the batch comes back after the first is recorded.
    await asyncio.gather(*(bus.publish(envelope, mandatory=True) for _, envelope in replies))
    for (owner, _, _), (message_id, _) in zip(chats, replies, strict=True):
        await settled(client, owner, message_id, "sent")
    await asyncio.gather(*(bus.publish(envelope, mandatory=True) for _, envelope in replies))
    await wait_until(lambda: asyncio.sleep(0, consumed() - before >= 2 * len(replies)))
    for _, _, visitor in chats:
        assert len(providers.graph.state.to(visitor)) == 1
    ids = [message_id for message_id, _ in replies]
    rows = await query(
        "SELECT count(*) AS n FROM conversations.outbox WHERE event_type = "
        "'message.delivery_updated' AND (envelope->'payload'->>'message_id')::uuid = ANY(:ids)",
        ids=ids,
    )
    assert rows[0].n == len(replies)  # one `sent` each, none for the copies


async def test_one_replica_asked_for_the_same_reply_many_times_at_once_sends_it_once(
    app, client, new_owner, publish, query, providers, settings
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "sms")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    message_id, _ = await pending_reply(app, conversation_id)
    delivery = Delivery(settings, app.state.runtime.sessionmaker, Vault(settings.encryption_keys))
    try:
        # Same process, same batch of claims: the first asking claims it, the others get None.
        await asyncio.gather(*(delivery.deliver(message_id) for _ in range(5)))
    finally:
        await delivery.stop()
    await settled(client, owner, message_id, "sent")
    assert len(providers.twilio.state.to(visitor)) == 1


async def test_a_reply_asked_about_twice_in_one_batch_is_planned_once_for_each_asking(
    app, client, new_owner, publish, query
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "whatsapp")
    conversation_id, _ = await visitor_writes(publish, query, account)
    first, _ = await pending_reply(app, conversation_id)
    second, _ = await pending_reply(app, conversation_id)
    async with ConversationsUnitOfWork(app.state.runtime.sessionmaker) as uow:
        plans = await DeliveryRepository(uow.session).plan([second, first, second])
    # Both were written at the same instant: the conversation's order is then the ids'.
    order = sorted([first, second])
    up_to = {m: [o for o in order if o <= m] for m in order}
    assert [[r.message_id for r in plan] for plan in plans] == [
        up_to[second],  # an earlier pending reply leaves first
        up_to[first],
        up_to[second],
    ]


async def test_a_refused_reply_in_a_batch_fails_alone_and_the_others_are_sent(
    app, client, bus, new_owner, publish, query, providers
) -> None:
    chats = []
    for _ in range(3):
        owner = await new_owner()
        account = await connect(client, owner, "whatsapp")
        chats.append((owner, account, *(await visitor_writes(publish, query, account))))
    owner, account, _, _ = chats[0]
    expired = await client.patch(
        f"/api/v1/channel-accounts/{account['id']}",
        json={"credentials": {"access_token": "expired-token-1234"}},
        headers=owner.headers,
    )
    assert expired.status_code == 200, expired.text
    replies = await pending_replies(app, [c for _, _, c, _ in chats])
    await asyncio.gather(*(bus.publish(envelope, mandatory=True) for _, envelope in replies))
    states = [
        await settled(client, owner, message_id, "sent", "failed")
        for (owner, _, _, _), (message_id, _) in zip(chats, replies, strict=True)
    ]
    assert [s["delivery_status"] for s in states] == ["failed", "sent", "sent"]
    assert states[0]["delivery_error"].startswith("whatsapp 190: Invalid OAuth access token")
    for _, _, _, visitor in chats:
        assert len(providers.graph.state.to(visitor)) == 1
