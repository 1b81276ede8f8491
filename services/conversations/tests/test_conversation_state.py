"""A conversation's state changes, as the domain defines them (pure)."""

from datetime import UTC, datetime

from conversations.domain import conversation_state as state

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_a_handoff_makes_it_pending_and_silences_the_agent_and_clears_any_resolution() -> None:
    changes = state.handed_off(NOW, "visitor asked for a person" + "!" * 300)
    assert changes["status"] == "pending" and changes["agent_paused"] is True
    assert changes["resolved_by"] is None and changes["resolved_at"] is None
    assert len(changes["handoff_reason"]) == 200 and changes["handed_off_at"] == NOW


def test_resolutions_say_who_resolved_and_the_owners_hands_it_back() -> None:
    assert state.resolved_by_agent(NOW) == {
        "status": "resolved",
        "resolved_by": "agent",
        "resolved_at": NOW,
    }
    assert state.resolved_by_owner(NOW)["agent_paused"] is False


def test_handing_back_reopens_only_a_pending_conversation() -> None:
    assert state.handed_back("pending") == {"agent_paused": False, "status": "open"}
    assert state.handed_back("resolved") == {"agent_paused": False}
    assert state.owner_answered() == {"agent_paused": True}


def test_apply_sets_the_changed_columns_on_a_row() -> None:
    class Row:
        status = "open"
        agent_paused = False

    row = Row()
    state.apply(row, state.owner_answered())
    assert row.agent_paused is True and row.status == "open"
