"""Business facts and service prices reach the agent's reads through the real broker:
`workspace.created|updated` and `workspace_service.*` events into this service's projection,
read back with `AgentRepository`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

from conversations.agent.knowledge import BusinessFacts, FaqEntry, Policies
from conversations.db.agent import AgentRepository
from shared.events import (
    Envelope,
    WorkspaceFaqEntryV1,
    WorkspacePoliciesV1,
    WorkspaceServiceCreatedV1,
    WorkspaceUpdatedV1,
)
from shared.testing import wait_until

FACTS: dict[str, Any] = {
    "address": "Calle Mayor 1, 28013 Madrid",
    "map_url": "https://maps.app.goo.gl/abc123",
    "phone": "+34912345678",
    "email": "hola@example.com",
    "payment_methods": ("Cash", "Visa"),
    "policies": WorkspacePoliciesV1(cancellation="Free up to 24 hours before."),
    "faq": (
        WorkspaceFaqEntryV1(question="Parking?", answer="In the back.", language="en"),
        WorkspaceFaqEntryV1(question="Wi-Fi?", answer="Free."),
    ),
}

EXPECTED = BusinessFacts(
    address="Calle Mayor 1, 28013 Madrid",
    map_url="https://maps.app.goo.gl/abc123",
    phone="+34912345678",
    email="hola@example.com",
    payment_methods=("Cash", "Visa"),
    policies=Policies(cancellation="Free up to 24 hours before."),
    faq=(
        FaqEntry(question="Parking?", answer="In the back.", language="en"),
        FaqEntry(question="Wi-Fi?", answer="Free.", language=None),
    ),
)


def snapshot(owner: Any, **fields: Any) -> dict[str, Any]:
    return {
        "workspace_id": owner.workspace_id,
        "owner_id": owner.owner_id,
        "handle": owner.handle,
        "name": "Acme",
        "tone": "friendly",
        "timezone": "UTC",
    } | fields


async def facts_of(app: Any, workspace_id: Any) -> BusinessFacts | None:
    async with app.state.runtime.sessionmaker() as session:
        return await AgentRepository(session).business_facts(workspace_id)


async def consumed(query: Any, envelope: Envelope) -> None:
    """The consumer committed this event (its inbox row is the positive signal)."""
    await wait_until(
        lambda: query(
            "SELECT 1 FROM conversations.inbox WHERE event_id = :id", id=envelope.event_id
        )
    )


async def test_workspace_updated_gives_the_agent_the_business_facts(
    app, query, new_owner, publish
) -> None:
    owner = await new_owner()
    assert await facts_of(app, owner.workspace_id) == BusinessFacts()  # known, nothing said

    envelope = await publish(WorkspaceUpdatedV1(**snapshot(owner, **FACTS)), producer="workspaces")
    await consumed(query, envelope)
    assert await facts_of(app, owner.workspace_id) == EXPECTED


async def test_a_snapshot_without_facts_keeps_them_and_one_with_nulls_clears_them(
    app, bus, query, new_owner, publish
) -> None:
    owner = await new_owner()
    await consumed(
        query, await publish(WorkspaceUpdatedV1(**snapshot(owner, **FACTS)), producer="workspaces")
    )

    # A producer from before the facts existed: its payload has no such keys at all.
    legacy = Envelope(
        type="workspace.updated",
        version=1,
        producer="workspaces",
        aggregate_id=str(owner.workspace_id),
        payload={k: str(v) for k, v in snapshot(owner, name="Renamed").items()},
    )
    await bus.publish(legacy, mandatory=True)
    await consumed(query, legacy)
    [row] = await query(
        "SELECT name FROM conversations.workspaces WHERE id = :id", id=owner.workspace_id
    )
    assert row.name == "Renamed"
    assert await facts_of(app, owner.workspace_id) == EXPECTED

    # The current producer sends every fact, null or empty once the owner cleared it.
    cleared = await publish(
        WorkspaceUpdatedV1(
            **snapshot(owner),
            address=None,
            map_url=None,
            phone=None,
            email=None,
            payment_methods=(),
            policies=WorkspacePoliciesV1(),
            faq=(),
        ),
        producer="workspaces",
    )
    await consumed(query, cleared)
    assert await facts_of(app, owner.workspace_id) == BusinessFacts()


async def test_an_older_snapshot_does_not_bring_old_facts_back(
    app, query, new_owner, publish, bus
) -> None:
    owner = await new_owner()
    newer = Envelope.wrap(WorkspaceUpdatedV1(**snapshot(owner, **FACTS)), producer="workspaces")
    older = Envelope.wrap(
        WorkspaceUpdatedV1(**snapshot(owner, address="Old street 9")), producer="workspaces"
    )
    older = older.model_copy(update={"occurred_at": newer.occurred_at.replace(year=2000)})
    await bus.publish(newer, mandatory=True)
    await bus.publish(older, mandatory=True)
    await consumed(query, newer)
    await consumed(query, older)
    assert await facts_of(app, owner.workspace_id) == EXPECTED


async def test_an_unknown_workspace_has_no_facts(app, client) -> None:
    assert await facts_of(app, uuid4()) is None


async def test_service_rows_carry_price_and_currency(app, query, new_owner, publish) -> None:
    owner = await new_owner()
    priced, free = uuid4(), uuid4()
    for service_id, name, price, currency, position in (
        (priced, "Haircut", "18.50", "EUR", 0),
        (free, "Consultation", None, None, 1),
    ):
        envelope = await publish(
            WorkspaceServiceCreatedV1(
                service_id=service_id,
                workspace_id=owner.workspace_id,
                name=name,
                description="Wash included" if price else None,
                duration_minutes=30,
                price=price,
                currency=currency,
                is_active=True,
                position=position,
            ),
            producer="workspaces",
        )
        await consumed(query, envelope)
    async with app.state.runtime.sessionmaker() as session:
        rows = await AgentRepository(session).services(owner.workspace_id)
    assert [(r.name, r.price, r.currency, r.duration_minutes, r.description) for r in rows] == [
        ("Haircut", Decimal("18.50"), "EUR", 30, "Wash included"),
        ("Consultation", None, None, 30, None),
    ]
