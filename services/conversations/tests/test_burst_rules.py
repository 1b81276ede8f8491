"""When the agent answers a visitor who may still be writing (domain/burst.py)."""

from datetime import UTC, datetime, timedelta

from conversations.domain.burst import Burst, Waits, seconds_to_wait

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WAITS = Waits(quiet_seconds=0.8, quiet_max_seconds=5, typing_seconds=3, typing_max_seconds=8)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def burst(now: float, *, newest: float = 0, typed: float | None = None, answered=False) -> Burst:
    return Burst(at(now), at(0), at(newest), None if typed is None else at(typed), answered)


def web(b: Burst, waits: Waits = WAITS) -> float:
    return seconds_to_wait(b, waits, signals_typing=True)


def other(b: Burst, waits: Waits = WAITS) -> float:
    return seconds_to_wait(b, waits, signals_typing=False)


def test_web_chat_without_typing_answers_at_once() -> None:
    assert web(burst(0.05)) == 0


def test_typing_before_the_message_is_the_message_itself_so_no_wait() -> None:
    assert web(burst(0.05, typed=-0.5)) == 0


def test_typing_after_the_message_holds_until_the_signal_is_stale() -> None:
    assert web(burst(0.5, typed=0.4)) == 2.9
    assert web(burst(3.5, typed=0.4)) == 0


def test_a_newer_message_ends_the_typing_wait() -> None:
    assert web(burst(1.0, newest=0.9, typed=0.4)) == 0


def test_typing_never_holds_a_message_past_its_bound() -> None:
    assert web(burst(7.0, newest=0, typed=6.9)) == 1.0
    assert web(burst(8.0, newest=0, typed=7.9)) == 0


def test_other_channels_wait_a_quiet_period_restarted_by_each_message() -> None:
    assert other(burst(0.05)) == 0.75
    assert other(burst(0.9, newest=0.5)) == 0.4
    assert other(burst(1.3, newest=0.5)) == 0


def test_the_quiet_period_is_bounded_from_the_message_arrival() -> None:
    assert other(burst(4.5, newest=4.4)) == 0.5
    assert other(burst(5.0, newest=4.9)) == 0


def test_an_answered_message_and_a_zero_setting_never_wait() -> None:
    assert web(burst(0.5, typed=0.4, answered=True)) == 0
    assert other(burst(0.05, answered=True)) == 0
    off = Waits(quiet_seconds=0, quiet_max_seconds=5, typing_seconds=0, typing_max_seconds=8)
    assert other(burst(0.05), off) == 0 and web(burst(0.5, typed=0.4), off) == 0
