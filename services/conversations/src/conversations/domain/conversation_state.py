"""A conversation's state changes, in one place: who is answering it and whether it is done.

Each function returns the columns that change, for a use case to apply (to a loaded row or in
an UPDATE); none of them reads or writes storage. The states: `open` (the agent or the owner
is talking), `pending` (handed to the owner: the agent is silent), `resolved` (done, by the
agent or the owner); `agent_paused` says the owner has the conversation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def handed_off(now: datetime, reason: str) -> dict[str, Any]:
    """The agent hands the conversation to the owner and stays silent."""
    return {
        "status": "pending",
        "agent_paused": True,
        "handoff_reason": reason[:200],
        "handed_off_at": now,
        "resolved_by": None,
        "resolved_at": None,
    }


def resolved_by_agent(now: datetime) -> dict[str, Any]:
    """The agent booked what the visitor came for."""
    return {"status": "resolved", "resolved_by": "agent", "resolved_at": now}


def resolved_by_owner(now: Any) -> dict[str, Any]:
    """The owner closed it: resolved by a person, and handed back to the agent."""
    return {"status": "resolved", "resolved_by": "owner", "resolved_at": now, "agent_paused": False}


def handed_back(current_status: str) -> dict[str, Any]:
    """The owner gives the conversation back to the agent; a pending one is open again."""
    return {"agent_paused": False, **({"status": "open"} if current_status == "pending" else {})}


def owner_answered() -> dict[str, Any]:
    """The owner replied in person: the agent steps back in this conversation."""
    return {"agent_paused": True}


def apply(row: object, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(row, name, value)
