"""The built-in agent: a deterministic, offline pydantic-ai `FunctionModel`.

It reads the visitor's words with `language`, calls the same tools an LLM would, and
composes its replies from the tools' results with `replies`. Because it runs inside the same
pydantic-ai agent, both brains share one loop, one tool layer and one stored history.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from conversations.agent import language as lx
from conversations.agent.replies import format_slot, greeting, numbered, say
from conversations.agent.tools import AgentDeps

MODEL_NAME = "builtin"


def builtin_model(deps: AgentDeps) -> FunctionModel:
    """A model bound to this turn's deps (the brain reads the memory the tools keep)."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        for part in reversed(last.parts):
            if isinstance(part, ToolReturnPart):
                return _after_tool(deps, part.tool_name, part.content)
            if isinstance(part, RetryPromptPart):
                return _text(deps, say(deps.lang, "not_understood"))
        text = " ".join(
            p.content
            for p in last.parts
            if isinstance(p, UserPromptPart) and isinstance(p.content, str)
        )
        return _decide(deps, text)

    return FunctionModel(respond, model_name=MODEL_NAME)


def _call(tool: str, **args: Any) -> ModelResponse:
    return ModelResponse(
        parts=[ToolCallPart(tool, {k: v for k, v in args.items() if v is not None})],
        model_name=MODEL_NAME,
    )


def _text(deps: AgentDeps, text: str) -> ModelResponse:
    if deps.memory.turn == 1 and not deps.effects.handoff_reason:
        text = (
            greeting(deps.lang, deps.workspace.tone, deps.workspace.name, deps.greeting)
            + "\n"
            + text
        )
    return ModelResponse(parts=[TextPart(text)], model_name=MODEL_NAME)


def _decide(deps: AgentDeps, text: str) -> ModelResponse:
    m = deps.memory
    m.lang = lx.detect_language(text, m.lang)
    if not deps.connector_active:
        return _call("hand_off", reason="no active connector")
    if lx.asks_for_person(text):
        return _call("hand_off", reason="visitor asked for a person")
    if lx.looks_like_injection(text):
        m.misunderstood = 0
        return _text(deps, say(deps.lang, "scope", name=deps.workspace.name))
    understood = _understand(deps, text)
    if understood is not None:
        m.misunderstood = 0
        return understood
    m.misunderstood += 1
    if m.misunderstood >= 2:
        return _call("hand_off", reason="did not understand the visitor twice in a row")
    return _text(deps, say(deps.lang, "not_understood") + "\n" + _options_again(deps))


def _understand(deps: AgentDeps, text: str) -> ModelResponse | None:
    m = deps.memory
    today = deps.now.date()
    day = lx.parse_day(text, today)
    clock = lx.parse_time(text)
    named = [lx.Named(s.id, s.name) for s in deps.services]
    service = lx.match_service(text, named)

    if lx.wants_cancel(text) and not lx.wants_move(text):
        return _call("cancel_booking") if m.booking else _text(deps, say(deps.lang, "no_booking"))
    if lx.wants_move(text) and m.booking and not m.moving:
        m.moving = True
        return _find(m.booking["service_id"], day, clock)

    if m.proposal is not None:
        if lx.is_yes(text):
            return _book(deps, m.proposal["service_id"], m.proposal["start"])
        if lx.is_no(text) and not (day or clock or service):
            m.proposal = None
            return _text(deps, say(deps.lang, "no_more") + "\n" + _slot_lines(deps))

    if m.offered_slots and m.last_list == "slots" and service is None:
        picked = _pick_slot(deps, text, day, clock)
        if picked is not None:
            return _book(deps, picked["service_id"], picked["start"])
        if lx.is_yes(text) and len(m.offered_slots) == 1:
            only = m.offered_slots[0]
            return _book(deps, only["service_id"], only["start"])

    if service is None and m.last_list == "services" and m.offered_services:
        n = lx.choice_number(text, len(m.offered_services))
        if n is not None:
            service = next((s for s in named if s.id == m.offered_services[n - 1]), None)
    if service is not None:
        return _find(service.id, day, clock)
    if (day or clock) and (m.service_id or len(deps.services) == 1):
        return _find(m.service_id or deps.services[0].id, day, clock)
    if lx.is_thanks(text):
        return _text(deps, say(deps.lang, "thanks", deps.workspace.tone))
    if lx.is_greeting(text) or m.turn == 1 or (day or clock) or _wants_booking(text):
        return _call("list_services")
    return None


def _wants_booking(text: str) -> bool:
    return any(
        w in lx.words(text)
        for w in (
            "book",
            "appointment",
            "reserve",
            "reservar",
            "cita",
            "turno",
            "marcar",
            "agendar",
            "horario",
            "schedule",
        )
    )


def _find(service_id: str, day: Any, clock: time | None) -> ModelResponse:
    return _call(
        "find_free_slots",
        service_id=service_id,
        day=day.isoformat() if day else None,
        near_time=clock.strftime("%H:%M") if clock else None,
    )


def _book(deps: AgentDeps, service_id: str, start: str) -> ModelResponse:
    if deps.memory.moving and deps.memory.booking:
        return _call("move_booking", start=start)
    return _call("book_slot", service_id=service_id, start=start)


def _pick_slot(deps: AgentDeps, text: str, day: Any, clock: time | None) -> dict[str, Any] | None:
    offered = deps.memory.offered_slots
    n = lx.choice_number(text, len(offered)) if clock is None else None
    if n is not None:
        return offered[n - 1]
    if clock is None:
        return None
    matches = []
    for item in offered:
        local = datetime.fromisoformat(item["start"]).astimezone(deps.zone)
        if local.time() == clock and (day is None or local.date() == day):
            matches.append(item)
    return matches[0] if len(matches) == 1 else None


def _after_tool(deps: AgentDeps, tool: str, result: Any) -> ModelResponse:
    m, lang, tone = deps.memory, deps.lang, deps.workspace.tone
    tz = deps.workspace.timezone
    if tool == "hand_off":
        return ModelResponse(
            parts=[TextPart(say(lang, "handoff", name=deps.workspace.name))], model_name=MODEL_NAME
        )
    if tool == "list_services":
        if not result:
            return _call("hand_off", reason="no bookable services")
        if len(result) == 1:
            return _call("find_free_slots", service_id=result[0]["service_id"])
        lines = [_service_line(item) for item in result]
        return _text(deps, say(lang, "pick_service") + "\n" + numbered(lines))
    if tool == "find_free_slots":
        service = result["service"]
        slots = [s["local"] for s in result["slots"]]
        if not slots:
            return _text(deps, say(lang, "none", service=service))
        if result.get("exact_match"):
            exact = format_slot(datetime.fromisoformat(result["exact_match"]), deps.zone, lang)
            head = say(lang, "exact", slot=exact, service=service)
        elif result.get("note") == "requested_days_full":
            head = say(
                lang, "full", days=_days_label(deps, result["searched"]), service=service, tz=tz
            )
        elif m.moving:
            head = say(lang, "which_new", service=service, tz=tz)
        else:
            head = say(lang, "pick_slot", service=service, tz=tz)
        return _text(deps, head + "\n" + numbered(slots) + "\n" + say(lang, "pick_slot_hint"))
    if tool in ("book_slot", "move_booking"):
        status = result.get("status")
        if status == "booked":
            key = "moved" if result.get("moved_from") else "booked"
            booking = result["booking"]
            return _text(
                deps, say(lang, key, tone, service=booking["service"], slot=result["local"], tz=tz)
            )
        if status == "taken":
            slots = [s["local"] for s in result["slots"]]
            if not slots:
                return _text(deps, say(lang, "none", service=result["service"]))
            return _text(
                deps,
                say(lang, "taken", slot=result["requested"], service=result["service"])
                + "\n"
                + numbered(slots),
            )
        if status == "already_booked":
            b = result["booking"]
            slot = format_slot(datetime.fromisoformat(b["start"]), deps.zone, lang)
            return _text(deps, say(lang, "already", service=b["service"], slot=slot, tz=tz))
        if status == "refused":
            return _call(
                "hand_off", reason=f"calendar refused the booking: {result.get('detail', '')}"[:200]
            )
        return _text(deps, say(lang, "ask_which") + "\n" + _slot_lines(deps))
    if tool == "cancel_booking":
        if result.get("status") == "cancelled":
            b = result["booking"]
            slot = format_slot(datetime.fromisoformat(b["start"]), deps.zone, lang)
            return _text(deps, say(lang, "cancelled", service=b["service"], slot=slot))
        return _text(deps, say(lang, "no_booking"))
    return _text(deps, say(lang, "not_understood"))


def _service_line(item: dict[str, Any]) -> str:
    minutes = item.get("duration_minutes")
    return f"{item['name']} ({minutes} min)" if minutes else item["name"]


def _slot_lines(deps: AgentDeps) -> str:
    return numbered(
        [
            format_slot(datetime.fromisoformat(s["start"]), deps.zone, deps.lang)
            for s in deps.memory.offered_slots
        ]
    )


def _options_again(deps: AgentDeps) -> str:
    m = deps.memory
    if m.last_list == "slots" and m.offered_slots:
        return say(deps.lang, "pick_slot_hint") + "\n" + _slot_lines(deps)
    names = [s.name for s in deps.services]
    return say(deps.lang, "pick_service") + "\n" + numbered(names)


def _days_label(deps: AgentDeps, searched: dict[str, str]) -> str:
    first = datetime.fromisoformat(searched["from"] + "T12:00:00").replace(tzinfo=deps.zone)
    label = format_slot(first, deps.zone, deps.lang).rsplit(",", 1)[0]
    if searched["from"] != searched["to"]:
        last = datetime.fromisoformat(searched["to"] + "T12:00:00").replace(tzinfo=deps.zone)
        label += " - " + format_slot(last, deps.zone, deps.lang).rsplit(",", 1)[0]
    return label
