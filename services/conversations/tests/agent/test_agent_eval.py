"""Every scripted dialogue passes with the built-in agent: the end state (bookings, handoff)
and what was said, as the evaluation harness scores them."""

import pytest

from conversations.agent.evaluation.runner import pass_hat_k, run_scenario
from conversations.agent.evaluation.scenarios import Scenario, all_scenarios

SCENARIOS = all_scenarios()


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "pydantic-ai"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_builtin_agent_passes_the_dialogue(scenario, direct: bool) -> None:
    """Both ways of running the built-in brain: its own loop, and under pydantic-ai's agent."""
    result = await run_scenario(scenario, direct=direct)
    assert result.passed, "\n".join([*result.problems, "--", *result.transcript])


async def test_a_second_ok_after_goodbye_gets_a_smile_not_the_same_sentence() -> None:
    """Found on the demo's web chat: "ok", then "cool, see you then 👍" after a booking got
    "See you then! If you need to change anything..." twice in a row."""
    scenario = Scenario(
        "ok_then_see_you_then",
        ("private session tomorrow at 10", "1", "ok", "cool, see you then 👍", "thanks!"),
        now="2026-11-30 10:00",
        services=(("Private session", 60),),
    )
    result = await run_scenario(scenario)
    replies = [line for line in result.transcript if line.startswith("agent: ")]
    *_, booked, see_you, smile, welcome = replies
    assert "booked" in booked and "See you then" in see_you, result.transcript
    assert smile == "agent: 😊", result.transcript
    assert "welcome" in welcome.lower() or "pleasure" in welcome.lower(), result.transcript


def test_the_harness_holds_enough_dialogues() -> None:
    assert len(SCENARIOS) >= 120
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)


def test_pass_hat_k_is_the_chance_that_k_runs_all_pass() -> None:
    # One dialogue passing 2 of 4 runs: pass^1 = 0.5, pass^2 = C(2,2)/C(4,2) = 1/6.
    assert pass_hat_k([2], 4, 1) == 0.5
    assert pass_hat_k([2], 4, 2) == pytest.approx(1 / 6)
    assert pass_hat_k([4, 0], 4, 4) == 0.5
