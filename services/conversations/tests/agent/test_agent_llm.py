"""The LLM brain: pydantic-ai's OpenAIChatModel over HTTP to a scripted local server drives
the same tools; the safety rules hold whatever the model says. Also TestModel and
FunctionModel for the tool wiring."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from pydantic_ai import models
from pydantic_ai.messages import ModelMessagesTypeAdapter, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import FunctionModel
from pydantic_ai.models.test import TestModel

from conversations.agent.core import TurnLimits, run_turn
from conversations.agent.evaluation.calendar import MemoryCalendar
from conversations.agent.knowledge import BusinessFacts, FaqEntry, Policies
from conversations.agent.llm import model_from_settings
from conversations.agent.state import Dialogue as DialogueState
from conversations.agent.tools import (
    AgentDeps,
    ConversationView,
    Service,
    Visitor,
    WorkspaceView,
)
from conversations.domain.reminders import ASKED_TO_STOP, NOT_THEIR_NUMBER, WRONG_NUMBER

from .fake_openai import FakeOpenAI, tool_results

ZONE = "Europe/Madrid"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo(ZONE))


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def llm(fake_openai):
    fake_openai.script.clear()
    fake_openai.requests.clear()
    settings = SimpleNamespace(
        agent_model="openai-chat:fake-mini", agent_base_url=fake_openai.base_url, agent_api_key="k"
    )
    with models.override_allow_model_requests(True):
        yield model_from_settings(settings)


class Dialogue:
    def __init__(self) -> None:
        self.calendar = MemoryCalendar(ZONE, {"svc-cut": 30, "svc-beard": 45})
        workspace = WorkspaceView(uuid.uuid4(), uuid.uuid4(), "Acme Salon", "casual", ZONE)
        self.workspace = workspace
        self.conversation = ConversationView(uuid.uuid4(), workspace.id, "web", "v1", "Ana", None)
        self.services = [Service("svc-cut", "Haircut", 30), Service("svc-beard", "Beard trim", 45)]
        self.memory = DialogueState()
        self.history: list[object] = []

    async def say(self, text: str, model, limits: TurnLimits | None = None, facts=None):
        deps = AgentDeps(
            self.conversation,
            self.workspace,
            self.services,
            self.calendar,
            NOW,
            self.memory,
            facts=facts,
            visitor=Visitor(name="Ana", email="ana@example.com"),
        )
        outcome = await run_turn(
            deps, text, self.history, model=model, limits=limits or TurnLimits()
        )
        self.history = outcome.history
        return outcome


def _first_offered(body):
    return [r for r in tool_results(body) if "slots" in r][-1]["slots"][0]["start"]


async def test_an_openai_compatible_model_books_through_the_tools_and_history_is_replayed(
    llm, fake_openai
):
    d = Dialogue()
    fake_openai.script += [
        ("tool", "find_free_slots", {"service_id": "svc-cut", "day": "2026-12-02"}),
        lambda body: (
            "text",
            "1. " + [r for r in tool_results(body) if "slots" in r][-1]["slots"][0]["local"],
        ),
    ]
    first = await d.say("hey, a haircut tomorrow?", llm)
    assert first.reply == "1. Wednesday, 2 December 2026, 09:00"
    fake_openai.script += [
        lambda body: (
            "tool",
            "book_slot",
            {"service_id": "svc-cut", "start": _first_offered(body)},
        ),
        ("text", "You're booked for Wednesday 2 December 2026, 09:00!"),
    ]
    second = await d.say("the first one", llm)
    assert second.booked is not None and "booked" in second.reply
    [booking] = d.calendar.active()
    assert booking.start == datetime(2026, 12, 2, 9, 0, tzinfo=ZoneInfo(ZONE))

    opening = fake_openai.requests[0]
    assert opening["model"] == "fake-mini"
    tools = {t["function"]["name"]: t["function"] for t in opening["tools"]}
    assert set(tools) == {
        "list_services",
        "find_free_slots",
        "book_slot",
        "cancel_booking",
        "move_booking",
        "confirm_booking",
        "business_info",
        "request_identity_code",
        "verify_identity_code",
        "search_faq",
        "save_contact_details",
        "hand_off",
        "stop_reminders",
    }
    # No tool lets the model name a workspace, conversation or visitor: the conversation does.
    # (cancel/move take a booking_id, looked up among this conversation's own bookings only.)
    for spec in tools.values():
        assert not {"workspace_id", "conversation_id", "visitor_id"} & set(
            spec["parameters"].get("properties", {})
        )
    system = " ".join(m["content"] for m in opening["messages"] if m["role"] == "system")
    assert (
        "Acme Salon" in system
        and "local time: Tuesday, 1 December 2026, 08:00 (Europe/Madrid)" in system
    )
    # The second turn replays the first: its tool call and result went back to the model.
    replay = fake_openai.requests[2]["messages"]
    assert any(m.get("tool_calls") for m in replay if m["role"] == "assistant")
    assert [m["content"] for m in replay if m["role"] == "user"] == [
        "hey, a haircut tomorrow?",
        "the first one",
    ]


async def test_turns_of_the_built_in_brain_are_replayed_to_a_model_the_owner_switches_to(
    llm, fake_openai
):
    """The built-in brain carries the stored history over without reading it; the model that
    takes the conversation later gets every earlier turn, tool calls included."""
    d = Dialogue()
    await d.say("hi! do you have a haircut tomorrow?", None)
    await d.say("hmm, the second one", None)
    assert len(ModelMessagesTypeAdapter.validate_python(d.history)) >= 6
    fake_openai.script += [("text", "Anything else?")]
    await d.say("thanks", llm)
    replay = fake_openai.requests[0]["messages"]
    assert [m["content"] for m in replay if m["role"] == "user"] == [
        "hi! do you have a haircut tomorrow?",
        "hmm, the second one",
        "thanks",
    ]
    assert any(m.get("tool_calls") for m in replay if m["role"] == "assistant")


async def test_a_model_cannot_book_a_time_in_the_turn_it_offered_it_nor_claim_it(llm, fake_openai):
    d = Dialogue()
    fake_openai.script += [
        ("tool", "find_free_slots", {"service_id": "svc-cut"}),
        lambda body: (
            "tool",
            "book_slot",
            {"service_id": "svc-cut", "start": _first_offered(body)},
        ),
        ("text", "Great news, you're booked!"),
    ]
    outcome = await d.say("book me the first haircut you have", llm)
    assert d.calendar.active() == [] and outcome.booked is None
    assert "booked" not in outcome.reply  # the false claim was replaced
    refusal = tool_results(fake_openai.requests[2])[-1]
    assert refusal["status"] == "not_accepted_yet"


async def test_a_model_cannot_book_a_time_it_never_offered(llm, fake_openai):
    d = Dialogue()
    fake_openai.script += [
        ("tool", "book_slot", {"service_id": "svc-cut", "start": "2026-12-01T13:00:00+01:00"}),
        ("text", "Which time would you like?"),
    ]
    await d.say("book 13:00", llm)
    assert d.calendar.active() == []
    assert tool_results(fake_openai.requests[1])[-1]["status"] == "not_offered"


async def test_a_failing_model_gets_the_visitor_an_honest_answer_and_a_person(llm, fake_openai):
    d = Dialogue()
    fake_openai.script += [("http", 500), ("http", 500), ("http", 500)]
    outcome = await d.say("hi", llm)
    assert outcome.failed and outcome.handoff_reason.startswith("agent error")
    assert "A person from Acme Salon will answer you here shortly" in outcome.reply


async def test_a_model_looping_on_tools_hits_the_turn_limits_and_hands_off(llm, fake_openai):
    d = Dialogue()
    fake_openai.script += [("tool", "list_services", {})] * 10
    outcome = await d.say("hi", llm, TurnLimits(requests=3, tool_calls=2))
    assert outcome.handoff_reason is not None and outcome.failed
    assert len(fake_openai.requests) <= 3


async def test_a_model_saying_a_person_will_answer_makes_the_handoff_happen(llm, fake_openai):
    d = Dialogue()
    fake_openai.script += [("text", "No worries, a person will answer you here soon.")]
    outcome = await d.say("this is too complicated", llm)
    assert outcome.handoff_reason == "the agent offered a person"


async def test_a_model_hand_off_tool_call_hands_off_with_its_reason(llm, fake_openai):
    d = Dialogue()
    fake_openai.script += [
        ("tool", "hand_off", {"reason": "visitor wants a refund"}),
        ("text", "Handing you over."),
    ]
    outcome = await d.say("I want my money back", llm)
    assert outcome.handoff_reason == "visitor wants a refund"
    assert outcome.reply.startswith("I'm passing you to a person from Acme Salon")


async def test_test_model_calls_every_tool_with_schema_valid_arguments_and_the_turn_survives() -> (
    None
):
    d = Dialogue()
    outcome = await d.say("hi", TestModel(call_tools=["list_services", "find_free_slots"]))
    assert outcome.failed is None or outcome.handoff_reason
    assert d.calendar.active() == []


async def test_function_model_sees_the_tools_and_the_instructions() -> None:
    seen = {}

    def brain(messages, info):
        seen["tools"] = sorted(t.name for t in info.function_tools)
        seen["instructions"] = info.instructions
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("list_services", {})])
        return ModelResponse(parts=[TextPart("1. Haircut\n2. Beard trim")])

    d = Dialogue()
    outcome = await d.say("hi", FunctionModel(brain))
    assert outcome.reply == "1. Haircut\n2. Beard trim"
    assert "book_slot" in seen["tools"] and "hand_off" in seen["tools"]
    assert "Never say something is booked" in seen["instructions"]


def test_no_agent_model_means_the_builtin_agent() -> None:
    assert (
        model_from_settings(
            SimpleNamespace(agent_model=None, agent_base_url=None, agent_api_key=None)
        )
        is None
    )
    assert (
        model_from_settings(
            SimpleNamespace(agent_model="builtin", agent_base_url=None, agent_api_key=None)
        )
        is None
    )


async def test_the_model_stops_reminders_for_stop_and_hands_a_wrong_number_to_the_owner(
    llm, fake_openai
):
    """ "STOP" and "wrong number" reach the loop from the LLM brain as from the built-in one:
    through stop_reminders, which says why no more reminders go to the chat (and, for a
    wrong number, hands the conversation to the owner)."""
    d = Dialogue()
    fake_openai.script += [
        ("tool", "stop_reminders", {"why": "asked_to_stop"}),
        lambda body: (
            "text",
            "Done, no more reminders here."
            if "bookings stay" in str(tool_results(body)[-1])
            else "unexpected",
        ),
    ]
    stopped = await d.say("STOP", llm)
    assert stopped.reminders_stopped == ASKED_TO_STOP and stopped.handoff_reason is None
    assert stopped.reply == "Done, no more reminders here."
    fake_openai.script += [
        ("tool", "stop_reminders", {"why": "wrong_number"}),
        ("text", "Sorry for the message!"),
    ]
    wrong = await d.say("who is this? i didnt book anything, wrong number", llm)
    assert wrong.reminders_stopped == NOT_THEIR_NUMBER
    assert wrong.handoff_reason == WRONG_NUMBER
    fake_openai.script += [
        ("tool", "stop_reminders", {"why": "because"}),  # not one of the two: retried
        ("tool", "stop_reminders", {"why": "asked_to_stop"}),
        ("text", "ok"),
    ]
    again = await d.say("stop texting me", llm)
    assert again.reminders_stopped == ASKED_TO_STOP


async def test_the_model_answers_facts_from_the_knowledge_tools_and_says_so_when_absent(
    llm, fake_openai
):
    """A price and a policy come from business_info / search_faq, never from the model's
    imagination; an absent fact comes back `found: false` and the reply says so honestly."""
    d = Dialogue()
    d.services = [Service("svc-cut", "Haircut", 30, None, Decimal("25"), "EUR")]
    facts = BusinessFacts(
        payment_methods=("cash", "card"),
        policies=Policies(cancellation="Free until 24 hours before."),
        faq=(FaqEntry("Do you have parking?", "Yes, two spaces behind the shop."),),
    )
    fake_openai.script += [
        ("tool", "business_info", {"topic": "price"}),
        lambda body: ("text", "A haircut is " + tool_results(body)[-1]["facts"][0]["value"]),
    ]
    first = await d.say("how much is a haircut?", llm, facts=facts)
    assert first.reply == "A haircut is 25 €"
    fake_openai.script += [
        ("tool", "search_faq", {"question": "is there parking near you?"}),
        lambda body: ("text", tool_results(body)[-1]["answer"]),
    ]
    second = await d.say("is there parking near you?", llm, facts=facts)
    assert second.reply == "Yes, two spaces behind the shop."
    fake_openai.script += [
        ("tool", "business_info", {"topic": "deposit"}),
        lambda body: (
            "text",
            "I don't have that; I'll ask the owner."
            if tool_results(body)[-1]["found"] is False
            else "invented",
        ),
    ]
    third = await d.say("do I need to pay a deposit?", llm, facts=facts)
    assert third.reply == "I don't have that; I'll ask the owner."


async def test_the_model_is_told_an_e_mail_looks_mistyped_and_saves_the_one_confirmed(
    llm, fake_openai
):
    d = Dialogue()
    fake_openai.script += [
        ("tool", "save_contact_details", {"name": "Ana Lopez", "email": "ana.lopez@gmial.com"}),
        lambda body: ("text", f"Did you mean {tool_results(body)[-1]['did_you_mean']}?"),
    ]
    first = await d.say("Ana Lopez ana.lopez@gmial.com", llm)
    assert first.reply == "Did you mean ana.lopez@gmail.com?"
    fake_openai.script += [
        ("tool", "save_contact_details", {"email": "ana.lopez@gmail.com"}),
        lambda body: ("text", "saved" if tool_results(body)[-1]["did_you_mean"] is None else "?"),
    ]
    second = await d.say("yes", llm)
    assert second.reply == "saved"
    assert second.learned is not None and second.learned.email == "ana.lopez@gmail.com"
