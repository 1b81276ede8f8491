"""`make agent-eval`: the scripted dialogues against AGENT_MODEL (or the built-in agent), k
runs each; prints each dialogue's passes, then pass^1 and pass^k.

    python -m conversations.agent.evaluation --k 4 [--only name] [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from conversations.agent.core import TurnLimits
from conversations.agent.evaluation.runner import pass_hat_k, run_scenario
from conversations.agent.evaluation.scenarios import all_scenarios
from conversations.agent.llm import model_from_settings
from conversations.settings import Settings


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--k", type=int, default=4, help="runs per dialogue")
    parser.add_argument("--only", help="run dialogues whose name contains this")
    parser.add_argument("--verbose", action="store_true", help="print failed transcripts")
    args = parser.parse_args(argv)
    settings = Settings()
    model = model_from_settings(settings)
    name = settings.agent_model or "builtin"
    limits = TurnLimits(
        requests=settings.agent_max_requests,
        tool_calls=settings.agent_max_tool_calls,
        total_tokens=settings.agent_max_tokens,
        timeout_seconds=settings.agent_turn_timeout_seconds,
    )
    scenarios = [s for s in all_scenarios() if not args.only or args.only in s.name]
    print(f"agent-eval: {len(scenarios)} dialogues x {args.k} runs, model {name}")
    successes: list[int] = []
    for scenario in scenarios:
        passed = 0
        for _ in range(args.k):
            result = await run_scenario(scenario, model=model, limits=limits)
            passed += result.passed
            if not result.passed and args.verbose:
                print("\n".join("  " + p for p in [*result.problems, *result.transcript]))
        successes.append(passed)
        print(f"  {passed}/{args.k}  {scenario.name}")
    print(f"pass^1 = {pass_hat_k(successes, args.k, 1):.3f}")
    print(f"pass^{args.k} = {pass_hat_k(successes, args.k, args.k):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
