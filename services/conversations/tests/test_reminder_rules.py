"""Pure rules of reminders: when each is due (offsets, quiet hours across midnight, DST),
what happens to a job reached late, what an owner may write, and reading the answers."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from conversations.domain.reminder_answers import reminder_answer
from conversations.domain.reminders import (
    QUIET_UNTIL_START,
    SAME_TIME,
    STARTED,
    TOLD_AT_BOOKING,
    Defer,
    Facts,
    InvalidReminderSettings,
    QuietHours,
    SendNow,
    Skip,
    check_offsets,
    check_quiet_hours,
    check_text,
    compose,
    decide_at_send,
    plan_cancellation,
    plan_confirmation,
    plan_reminders,
    subject,
)

MADRID = ZoneInfo("Europe/Madrid")
NIGHT = QuietHours(time(21, 0), time(8, 0))


def local(*args: int, zone: ZoneInfo = MADRID) -> datetime:
    return datetime(*args, tzinfo=zone)


def test_one_job_per_offset_due_that_many_minutes_before_the_appointment() -> None:
    start = datetime(2027, 5, 10, 15, 0, tzinfo=UTC)
    now = datetime(2027, 5, 1, tzinfo=UTC)
    jobs = plan_reminders(start, now, [120, 1440], None, UTC)
    assert [(j.offset_minutes, j.due_at, j.status) for j in jobs] == [
        (1440, datetime(2027, 5, 9, 15, 0, tzinfo=UTC), "scheduled"),
        (120, datetime(2027, 5, 10, 13, 0, tzinfo=UTC), "scheduled"),
    ]


def test_a_day_before_is_24_real_hours_across_the_spring_change_in_madrid() -> None:
    # 2027-03-28 02:00 CET -> 03:00 CEST: the day before has 23 wall-clock hours.
    start = local(2027, 3, 28, 10, 0)
    [job] = plan_reminders(start, local(2027, 3, 1, 0, 0), [1440], None, MADRID)
    assert job.due_at == start.astimezone(UTC) - timedelta(hours=24)
    assert job.due_at.astimezone(MADRID) == local(2027, 3, 27, 9, 0)  # an hour earlier on the wall


def test_a_day_before_is_24_real_hours_across_the_autumn_change_in_madrid() -> None:
    # 2027-10-31 03:00 CEST -> 02:00 CET: the day before has 25 wall-clock hours.
    start = local(2027, 10, 31, 10, 0)
    [job] = plan_reminders(start, local(2027, 10, 1, 0, 0), [1440], None, MADRID)
    assert job.due_at == start.astimezone(UTC) - timedelta(hours=24)
    assert job.due_at.astimezone(MADRID) == local(2027, 10, 30, 11, 0)


def test_two_hours_before_an_appointment_just_after_the_spring_gap() -> None:
    start = local(2027, 3, 28, 3, 30)  # 01:30 UTC
    [job] = plan_reminders(start, local(2027, 3, 1, 0, 0), [120], None, MADRID)
    assert job.due_at == datetime(2027, 3, 27, 23, 30, tzinfo=UTC)
    assert job.due_at.astimezone(MADRID) == local(2027, 3, 28, 0, 30)


def test_quiet_hours_across_midnight_move_a_reminder_to_their_end() -> None:
    start = local(2027, 6, 10, 9, 30)
    [job] = plan_reminders(start, local(2027, 6, 1, 12, 0), [120], NIGHT, MADRID)
    assert job.status == "scheduled"
    assert job.due_at.astimezone(MADRID) == local(2027, 6, 10, 8, 0)  # 07:30 was quiet


def test_quiet_hours_before_midnight_move_to_the_next_morning() -> None:
    start = local(2027, 6, 11, 10, 0)
    [job] = plan_reminders(start, local(2027, 6, 1, 12, 0), [780], NIGHT, MADRID)  # 21:00
    assert job.due_at.astimezone(MADRID) == local(2027, 6, 11, 8, 0)


def test_quiet_hours_end_on_the_local_clock_on_the_night_of_the_autumn_change() -> None:
    start = local(2027, 10, 31, 9, 0)
    [job] = plan_reminders(start, local(2027, 10, 1, 12, 0), [240], NIGHT, MADRID)  # 05:00
    assert job.due_at.astimezone(MADRID) == local(2027, 10, 31, 8, 0)
    assert job.due_at == datetime(2027, 10, 31, 7, 0, tzinfo=UTC)  # CET now


def test_a_reminder_quiet_until_the_appointment_is_skipped_with_a_reason() -> None:
    start = local(2027, 6, 10, 7, 0)
    [job] = plan_reminders(start, local(2027, 6, 1, 12, 0), [120], NIGHT, MADRID)
    assert (job.status, job.reason) == ("skipped", QUIET_UNTIL_START)


def test_quiet_hours_within_one_day_are_respected_too() -> None:
    lunch = QuietHours(time(13, 0), time(15, 0))
    start = local(2027, 6, 10, 16, 0)
    [job] = plan_reminders(start, local(2027, 6, 1), [120], lunch, MADRID)
    assert job.due_at.astimezone(MADRID) == local(2027, 6, 10, 15, 0)


def test_a_due_time_already_past_is_now_and_two_late_ones_send_once() -> None:
    now = datetime(2027, 5, 10, 12, 0, tzinfo=UTC)
    start = now + timedelta(minutes=90)
    jobs = plan_reminders(start, now, [1440, 120], None, UTC)
    assert [(j.offset_minutes, j.status, j.reason) for j in jobs] == [
        (1440, "skipped", SAME_TIME),
        (120, "scheduled", None),
    ]
    assert jobs[1].due_at == now


def test_a_visitor_told_of_the_booking_now_gets_no_reminder_seconds_later() -> None:
    now = datetime(2027, 5, 10, 12, 0, tzinfo=UTC)
    start = now + timedelta(hours=3)  # the 24 h reminder's time has passed, the 2 h one not
    jobs = plan_reminders(start, now, [1440, 120], None, UTC, told_now=True)
    assert [(j.offset_minutes, j.status, j.reason) for j in jobs] == [
        (1440, "skipped", TOLD_AT_BOOKING),
        (120, "scheduled", None),
    ]
    assert jobs[1].due_at == start - timedelta(minutes=120)
    soon = plan_reminders(now + timedelta(minutes=30), now, [1440, 120], None, UTC, told_now=True)
    assert [j.status for j in soon] == ["skipped", "skipped"]


def test_nothing_goes_for_an_appointment_that_has_started() -> None:
    now = datetime(2027, 5, 10, 12, 0, tzinfo=UTC)
    jobs = plan_reminders(now - timedelta(minutes=1), now, [60], None, UTC)
    assert [(j.status, j.reason) for j in jobs] == [("skipped", STARTED)]
    assert plan_confirmation(now, now, None, UTC).status == "skipped"


def test_a_confirmation_is_due_now_or_when_the_night_ends() -> None:
    now = local(2027, 6, 9, 23, 0)
    job = plan_confirmation(local(2027, 6, 10, 12, 0), now, NIGHT, MADRID)
    assert job.due_at.astimezone(MADRID) == local(2027, 6, 10, 8, 0)
    day = local(2027, 6, 9, 12, 0)
    assert plan_confirmation(local(2027, 6, 10, 12, 0), day, NIGHT, MADRID).due_at == day


def test_a_cancellation_notice_waits_for_the_night_to_end_unless_the_appointment_comes_first() -> (
    None
):
    night = local(2027, 6, 9, 23, 0)
    later = plan_cancellation(local(2027, 6, 10, 12, 0), night, NIGHT, MADRID)
    assert (later.kind, later.status) == ("cancellation", "scheduled")
    assert later.due_at.astimezone(MADRID) == local(2027, 6, 10, 8, 0)
    # A 7:00 appointment: better a message at night than a visitor at a closed door.
    early = plan_cancellation(local(2027, 6, 10, 7, 0), night, NIGHT, MADRID)
    assert (early.status, early.due_at) == ("scheduled", night)
    at_night = local(2027, 6, 9, 23, 30)
    assert (
        decide_at_send(at_night, local(2027, 6, 10, 7, 0), NIGHT, MADRID, "cancellation")
        == SendNow()
    )
    assert decide_at_send(at_night, at_night, NIGHT, MADRID, "cancellation") == Skip(STARTED)
    started = plan_cancellation(night - timedelta(minutes=1), night, None, MADRID)
    assert (started.status, started.reason) == ("skipped", STARTED)


def test_a_cancellation_notice_says_so_in_the_visitors_language_with_nothing_to_answer() -> None:
    facts = Facts(
        name="Lucía", service="Corte", time="martes 8 diciembre, 10:00", business="Barbería"
    )
    text = compose("cancellation", "es", facts, {"es": "Hola {name}, recuerda {service}"}, "sms")
    assert text == (
        "Hola Lucía, tu cita de Corte el martes 8 diciembre, 10:00 en Barbería ha sido cancelada."
    )
    assert subject("cancellation", "de", facts) == "Abgesagt: Corte am martes 8 diciembre, 10:00"


def test_catching_up_after_an_outage_sends_only_for_appointments_ahead() -> None:
    now = local(2027, 6, 10, 12, 0)
    assert decide_at_send(now, now + timedelta(minutes=5), None, MADRID) == SendNow()
    assert decide_at_send(now, now - timedelta(minutes=5), None, MADRID) == Skip(STARTED)
    assert decide_at_send(now, now, None, MADRID) == Skip(STARTED)


def test_a_job_reached_during_quiet_hours_waits_for_their_end_or_is_skipped() -> None:
    night = local(2027, 6, 10, 23, 30)
    assert decide_at_send(night, local(2027, 6, 11, 10, 0), NIGHT, MADRID) == Defer(
        local(2027, 6, 11, 8, 0).astimezone(UTC)
    )
    assert decide_at_send(night, local(2027, 6, 11, 7, 0), NIGHT, MADRID) == Skip(QUIET_UNTIL_START)


def test_settings_are_checked_with_readable_reasons() -> None:
    assert check_offsets([120, 1440]) == [1440, 120]
    for bad, words in [
        ([], "1 to 3"),
        ([1, 2, 3, 4], "1 to 3"),
        ([0], "1 to 43200"),
        ([43201], "1 to 43200"),
        ([60, 60], "twice"),
    ]:
        with pytest.raises(InvalidReminderSettings, match=words):
            check_offsets(bad)
    assert check_quiet_hours("21:00", "08:00") == NIGHT
    with pytest.raises(InvalidReminderSettings, match="HH:MM"):
        check_quiet_hours("25:00", "08:00")
    with pytest.raises(InvalidReminderSettings, match="differ"):
        check_quiet_hours("08:00", "08:00")


def test_owner_texts_take_the_four_placeholders_and_nothing_else() -> None:
    assert check_text("es", " Hola {name}, {service} el {time} en {business} ") == (
        "Hola {name}, {service} el {time} en {business}"
    )
    for text, words in [
        ("Hi {nombre}", r"unknown placeholder \{nombre\}"),
        ("Hi {name.__class__}", "unknown placeholder"),
        ("Hi {name!r}", "unknown placeholder"),
        ("At {time:%H}", "unknown placeholder"),
        ("Hi {name", "brace"),
        ("", "empty"),
        ("x" * 1001, "longer"),
    ]:
        with pytest.raises(InvalidReminderSettings, match=words):
            check_text("en", text)
    with pytest.raises(InvalidReminderSettings, match="unknown language"):
        check_text("nl", "Hallo {name}")


def test_a_reminder_says_how_to_answer_on_its_channel() -> None:
    facts = Facts(name="Ana", service="Corte", time="lunes 10 de mayo, 10:00", business="Acme")
    sms = compose("reminder", "es", facts, {}, "sms")
    assert sms.startswith("Hola Ana, te recordamos tu cita de Corte el lunes 10 de mayo")
    assert sms.endswith("Responde C para confirmar, X para cancelar.")
    owner = compose("reminder", "en", facts, {"en": "See you {time}, {name}!"}, "whatsapp")
    assert owner.splitlines() == [
        "See you lunes 10 de mayo, 10:00, Ana!",
        "Reply 'confirm', 'cancel' or 'change'.",
    ]
    nameless = Facts(name=None, service=None, time="10:00", business="Acme")
    assert compose("confirmation", "en", nameless, {}, "sms") == (
        "Hi, your appointment on 10:00 at Acme is booked."
    )


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("reminder:confirm:bk_123", "confirm"),
        ("reminder:cancel:8f2c", "cancel"),
        ("reminder:change:x", "change"),
        ("C", "confirm"),
        ("x", "cancel"),
        ("Yes", "confirm"),
        ("Confirm", "confirm"),
        ("sí, confirmo", "confirm"),
        ("Sim", "confirm"),
        ("oui je confirme", "confirm"),
        ("Ja, bestätigen", "confirm"),
        ("confermo grazie", "confirm"),
        ("Cancel please", "cancel"),
        ("quiero cancelar la cita", "cancel"),
        ("je voudrais annuler", "cancel"),
        ("Absagen bitte", "cancel"),
        ("annulla", "cancel"),
        ("I can't make it", "cancel"),
        ("no puedo ir", "cancel"),
        ("change", "change"),
        ("Quiero cambiar la cita", "change"),
        ("remarcar", "change"),
        ("verschieben", "change"),
        ("spostare", "change"),
        ("don't cancel", None),
        ("yes but can we move it to 5pm tomorrow", None),
        ("confirm or cancel?", None),
        ("what time is it again?", None),
        ("", None),
        ("no", None),
        ("reminder:delete:x", None),
    ],
)
def test_reminder_answers_in_six_languages_and_button_payloads(text, answer) -> None:
    assert reminder_answer(text) == answer
