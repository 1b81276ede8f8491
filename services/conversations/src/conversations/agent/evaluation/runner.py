"""Run scripted dialogues against a brain and score the end state, as τ²-bench does: the
calendar's bookings and the handoff must match, and the replies must say what they must
(reward = product of the checks). pass^k: the chance that k runs of a dialogue all pass."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from math import comb
from zoneinfo import ZoneInfo

from pydantic_ai.models import Model

from conversations.agent.core import TurnLimits, run_turn
from conversations.agent.evaluation.calendar import MemoryCalendar, MemoryIdentity
from conversations.agent.evaluation.scenarios import Scenario, Turn
from conversations.agent.replies import CHANNEL_LIMITS
from conversations.agent.state import Dialogue
from conversations.agent.tools import (
    AgentDeps,
    ConversationView,
    Reminded,
    Service,
    Visitor,
    WorkspaceView,
)


@dataclass
class Result:
    scenario: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)


def _local(value: str, zone: ZoneInfo) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M").replace(tzinfo=zone)


async def run_scenario(
    scenario: Scenario,
    model: Model | None = None,
    limits: TurnLimits | None = None,
    direct: bool = True,
) -> Result:
    zone = ZoneInfo(scenario.timezone)
    prices = {name: (Decimal(amount), currency) for name, amount, currency in scenario.prices}
    services = [
        Service(
            f"svc-{i}",
            name,
            minutes,
            dict(scenario.descriptions).get(name),
            *prices.get(name, (None, None)),
        )
        for i, (name, minutes) in enumerate(scenario.services)
    ]
    now = _local(scenario.now, zone)
    calendar = MemoryCalendar(
        scenario.timezone,
        {s.id: s.duration_minutes or 60 for s in services},
        open_days=scenario.open_days,
        opens=time.fromisoformat(scenario.opens),
        full_days={date.fromisoformat(d) for d in scenario.full_days},
        closed_dates={date.fromisoformat(d) for d in scenario.closed_dates},
        horizon_days=scenario.horizon_days,
        hours_known=scenario.hours_known,
    )
    calendar.today = now.date()
    workspace = WorkspaceView(
        uuid.uuid4(), uuid.uuid4(), "Acme Salon", scenario.tone, scenario.timezone
    )
    verified = scenario.channel in ("whatsapp", "sms", "messenger", "instagram")
    phone_channel = scenario.channel in ("whatsapp", "sms")
    conversation = ConversationView(
        uuid.uuid4(),
        workspace.id,
        scenario.channel,
        "34600000000" if phone_channel else f"visitor-{uuid.uuid4().hex[:8]}",
        scenario.visitor_name,
        None,
    )
    visitor = Visitor(
        contact_id=uuid.uuid4(),
        name=scenario.visitor_name,
        phone="+34600000000" if phone_channel else None,
        verified_channel=verified,
    )
    identity = None
    if scenario.channel == "web":
        on_file = {scenario.email_on_file: visitor.contact_id} if scenario.email_on_file else {}
        identity = MemoryIdentity(on_file)  # type: ignore[dict-item]
    by_name = {s.name: s.id for s in services}
    for service_name, when in scenario.earlier:
        calendar.add_earlier(by_name[service_name], _local(when, zone), visitor.contact_id)
    reminded = None
    if scenario.reminded is not None:
        service_name, when = scenario.reminded
        start = _local(when, zone)
        booking_id = calendar.add_earlier(by_name[service_name], start, visitor.contact_id)
        # The reminder is the last thing said before the first turn only.
        reminded = Reminded(booking_id, service_name, start, fresh=True)
    memory = Dialogue()
    history: list[object] = []
    result = Result(scenario.name, passed=False)
    handoff: str | None = None
    replies: list[str] = []
    for raw in scenario.turns:
        turn = raw if isinstance(raw, Turn) else Turn(raw)
        if turn.take:
            calendar.take(_local(turn.take, zone))
        if turn.calendar_down:
            calendar.down = True
        result.transcript.append(f"visitor: {turn.say}")
        deps = AgentDeps(
            conversation,
            workspace,
            services,
            calendar,
            now,
            memory,
            facts=scenario.facts,
            visitor=visitor,
            required_contact=scenario.required_contact,  # type: ignore[arg-type]
            bookings_per_contact=scenario.bookings_per_contact,
            reminded=reminded,
            identity=identity,  # type: ignore[arg-type]
        )
        outcome = await run_turn(
            deps, turn.say, history, model=model, limits=limits or TurnLimits(), direct=direct
        )
        history = outcome.history
        if reminded is not None:
            reminded = replace(reminded, fresh=False)
        replies.append(outcome.reply)
        result.transcript.append(f"agent: {outcome.reply}")
        if len(outcome.reply) > CHANNEL_LIMITS.get(scenario.channel, 1000):
            result.problems.append(f"reply longer than {scenario.channel} allows")
        if outcome.handoff_reason:
            handoff = outcome.handoff_reason
            break  # the agent is silent after a handoff
    names = {s.id: s.name for s in services}
    got = sorted(
        (names.get(b.event_type, b.event_type), b.start.astimezone(zone).strftime("%Y-%m-%d %H:%M"))
        for b in calendar.active()
        if not b.id.startswith("other-")
    )
    if got != sorted(scenario.bookings):
        result.problems.append(f"bookings {got} != expected {sorted(scenario.bookings)}")
    if scenario.handoff is None and handoff is not None:
        result.problems.append(f"unexpected handoff: {handoff}")
    if scenario.handoff is not None and (handoff is None or scenario.handoff not in handoff):
        result.problems.append(f"handoff {handoff!r} does not mention {scenario.handoff!r}")
    said = "\n".join(replies)
    for words in scenario.communicate:
        if words.lower() not in said.lower():
            result.problems.append(f"never said {words!r}")
    if scenario.expect_contact:
        mine = [b for b in calendar.active() if not b.id.startswith("other-")]
        for b in mine:
            held = (b.name, b.phone, b.email)
            for want in scenario.expect_contact:
                if want not in held:
                    result.problems.append(f"booking {b.id} has {held}, not {want!r}")
    noted = [b.notes or "" for b in calendar.active() if not b.id.startswith("other-")]
    for want in scenario.booking_notes:
        if not any(want.lower() in n.lower() for n in noted):
            result.problems.append(f"no booking's notes say {want!r} (notes: {noted})")
    confirmed = sorted(
        b.start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        for b in calendar.bookings
        if b.id in calendar.confirmed
    )
    if confirmed != sorted(scenario.confirmed):
        result.problems.append(f"confirmed {confirmed} != expected {sorted(scenario.confirmed)}")
    for words in scenario.never_say:
        if words.lower() in said.lower():
            result.problems.append(f"said {words!r}")
    result.passed = not result.problems
    return result


def pass_hat_k(successes: list[int], trials: int, k: int) -> float:
    """Mean over dialogues of C(c, k) / C(n, k): the chance k fresh runs all pass."""
    if not successes or k > trials:
        return 0.0
    return sum(comb(c, k) / comb(trials, k) for c in successes) / len(successes)
