"""CPU of reading one visitor message (`conversations.agent.reading.read_message`), in process.

    .venv/bin/python bench/reading.py [--messages 300] [--rounds 3]

Each round reads the same visitor messages (greetings, a pick, contact details, requests
with a day and a time, in several languages) `--messages` times each and prints the CPU per
message (`time.process_time`), after the libraries' models are loaded. Run it from a worktree
of each revision to compare them, with nothing else running.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
for src in ("shared/src", "services/conversations/src"):
    if str(ROOT / src) not in sys.path:
        sys.path.insert(0, str(ROOT / src))

from conversations.agent.reading import read_message, warm_up  # noqa: E402
from conversations.agent.words.services import Named  # noqa: E402

MESSAGES = (
    "hi",
    "1",
    "I'm Ana 3, ana3@example.com",
    "hola quiero un corte mañana por la tarde",
    "can i get a haircut tomorrow at 10?",
    "oi, quanto custa a limpeza e onde fica?",
    "Bonjour, le 8 à 14h c'est possible ?",
)
SERVICES = [Named("1", "Haircut"), Named("2", "Haircut and beard"), Named("3", "Cleaning")]
NOW = datetime(2026, 12, 1, 8, tzinfo=ZoneInfo("Europe/Madrid"))


def main(messages: int, rounds: int) -> None:
    warm_up()
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(messages):
            for text in MESSAGES:
                read_message(
                    text,
                    today=NOW.date(),
                    now=NOW,
                    timezone="Europe/Madrid",
                    previous_lang="en",
                    default_lang="es",
                    services=SERVICES,
                )
        used = time.process_time() - started
        print(f"{used / (messages * len(MESSAGES)) * 1e6:.0f} us per message")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.messages, args.rounds)
