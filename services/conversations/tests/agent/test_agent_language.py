"""The built-in agent's reading and writing, as pure functions."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from conversations.agent import language as lx
from conversations.agent.replies import cap, format_slot, greeting

TUESDAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("2", 2), ("#3", 3), ("option 1", 1), ("the second one", 2), ("la segunda", 2),
        ("o terceiro", 3), ("the first one please", 1), ("la última", 3), ("two", 2),
        ("segunda-feira", None), ("7", None), ("that one", None), ("book 10:00", None),
    ],
)  # fmt: skip
def test_a_choice_is_read_from_a_number_or_words(text: str, n: int | None) -> None:
    assert lx.choice_number(text, 3) == n


@pytest.mark.parametrize(
    ("text", "day", "clock"),
    [
        ("tomorrow at 10", date(2026, 12, 2), time(10)),
        ("mañana a las 10", date(2026, 12, 2), time(10)),
        ("amanhã às 15h", date(2026, 12, 2), time(15)),
        ("pasado mañana 9:30", date(2026, 12, 3), time(9, 30)),
        ("friday at 3", date(2026, 12, 4), time(15)),
        ("segunda-feira às 10", date(2026, 12, 7), time(10)),
        ("next tuesday 11am", date(2026, 12, 8), time(11)),
        ("on 15 december at 4pm", date(2026, 12, 15), time(16)),
        ("el 3 de enero a las 12", date(2027, 1, 3), time(12)),
        ("today, make it 12", TUESDAY, time(12)),
    ],
)
def test_days_and_times_are_read_relative_to_the_local_today(text, day, clock) -> None:
    assert lx.parse_day(text, TUESDAY) == day
    assert lx.parse_time(text) == clock


@pytest.mark.parametrize(
    ("text", "lang"),
    [("hola, quiero una cita", "es"), ("oi, quero marcar", "pt"), ("hi, I want to book", "en")],
)
def test_the_language_is_recognised(text: str, lang: str) -> None:
    assert lx.detect_language(text) == lang


def test_a_request_for_a_person_is_recognised_in_three_languages() -> None:
    for text in ("can I talk to a human?", "quiero hablar con una persona", "quero um atendente"):
        assert lx.asks_for_person(text)
    assert not lx.asks_for_person("a haircut for my son, he is a person too")


def test_the_four_tones_greet_differently() -> None:
    greetings = {
        t: greeting("en", t, "Acme") for t in ("friendly", "professional", "casual", "formal")
    }
    assert len(set(greetings.values())) == 4
    assert "👋" in greetings["friendly"] and "👋" not in greetings["formal"]
    assert greeting("es", "formal", "Acme") != greeting("en", "formal", "Acme")


def test_times_are_shown_in_the_workspace_timezone_across_daylight_saving() -> None:
    ny = ZoneInfo("America/New_York")
    before = datetime(2026, 10, 30, 13, 0, tzinfo=UTC)  # EDT, UTC-4
    after = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # EST, UTC-5
    assert format_slot(before, ny) == "Friday 30 October 2026, 09:00"
    assert format_slot(after, ny) == "Monday 2 November 2026, 09:00"
    assert format_slot(after, ny, "pt") == "segunda-feira 2 de novembro de 2026, 09:00"


def test_replies_are_cut_to_the_channel_on_a_word() -> None:
    text = "word " * 200
    assert len(cap(text, "sms")) <= 320 and cap(text, "sms").endswith("…")
    assert cap("short", "sms") == "short"
