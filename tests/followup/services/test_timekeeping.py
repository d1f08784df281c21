"""The clock (beat): due check-ins are announced, reminded when half the time is gone
and marked missed when the window closes, each exactly once; quiet hours hold texts
back; silence goes to the nurses' worklist, not the alert queue (H7, H8, H10, H11)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from backend.models import AuditRecord
from backend.services import patient_user_get_or_create
from followup.models import Alert, ScheduledCheckIn, WorklistItem
from followup.services.checkins import checkin_submit
from followup.services.scheduled_checkins import scheduled_checkin_create
from followup.services.timekeeping import (
    scheduled_checkins_announce,
    scheduled_checkins_miss,
    scheduled_checkins_tick,
)
from followup.tasks import checkins_tick
from notifications.models import MessageKind, OutgoingMessage
from tests.factories import PatientFactory, green_answers, local

pytestmark = pytest.mark.django_db

TZ = "Europe/Istanbul"  # UTC+3 all year
DISCHARGE = date(2026, 6, 1)


def day_at(day: int, at: str) -> datetime:
    return local(DISCHARGE + timedelta(days=day), at, TZ)


def messages(patient, kind: str | None = None):
    rows = OutgoingMessage.objects.filter(patient=patient)
    return rows.filter(kind=kind) if kind else rows


@pytest.fixture
def enrolled(make_enrollment, clock):
    clock.at(local(DISCHARGE, "12:00", TZ))
    return make_enrollment(discharge=DISCHARGE, tz=TZ)


def check_in_of(enrollment, day: int) -> ScheduledCheckIn:
    return ScheduledCheckIn.objects.get(enrollment=enrollment, day=day)


def test_announce_remind_and_miss_happen_once_each_even_with_two_ticks(enrolled, clock):
    """H8: day 1 (09:00-21:00 local): announced at 09:00, reminded at 15:00 when half
    the window is gone, missed at 21:00; every tick runs twice and changes nothing
    the second time."""
    patient = enrolled.patient
    first = check_in_of(enrolled, 1)

    clock.at(day_at(1, "08:59"))
    checkins_tick()
    assert check_in_of(enrolled, 1).status == "scheduled"

    clock.at(day_at(1, "09:00"))
    first_report, second_report = scheduled_checkins_tick(), scheduled_checkins_tick()
    assert first_report.announced == [first.pk] and second_report.announced == []
    first.refresh_from_db()
    assert first.status == "sent" and first.announced_at == day_at(1, "09:00")
    assert messages(patient).count() == 1

    clock.at(day_at(1, "14:59"))
    assert scheduled_checkins_tick().reminded == []
    clock.at(day_at(1, "15:00"))
    assert scheduled_checkins_tick().reminded == [first.pk]
    assert scheduled_checkins_tick().reminded == []
    assert messages(patient, MessageKind.REMINDER).count() == 1

    clock.at(day_at(1, "21:00"))
    assert scheduled_checkins_tick().missed == [first.pk]
    assert scheduled_checkins_tick().missed == []
    first.refresh_from_db()
    assert first.status == "missed" and first.closed_at == day_at(1, "21:00")
    assert messages(patient).count() == 2
    assert WorklistItem.objects.filter(patient=patient, kind="no_response").count() == 1
    # The clock's changes are audited, with no human actor.
    assert (
        AuditRecord.objects.filter(object_type="scheduled_check_in", object_id=str(first.pk), action="update").count()
        == 3
    )


def test_a_claim_made_twice_wins_once(enrolled, clock):
    """Calling a step's claim twice at the same instant: the second finds nothing."""
    clock.at(day_at(1, "09:30"))
    assert scheduled_checkins_announce(now=timezone.now()) == [check_in_of(enrolled, 1).pk]
    assert scheduled_checkins_announce(now=timezone.now()) == []
    clock.at(day_at(1, "21:00"))
    assert scheduled_checkins_miss(now=timezone.now())[0] == [check_in_of(enrolled, 1).pk]
    assert scheduled_checkins_miss(now=timezone.now())[0] == []


def test_a_check_in_due_at_22_is_announced_at_08(enrolled, nurse, clock):
    """H10: nothing is texted between 21:00 and 08:00 patient-local; the invitation of
    a check-in due at 22:00 waits for 08:00, and its reminder comes half-way between
    then and the window's close (10:00), at 09:00."""
    clock.at(day_at(2, "20:00"))
    late = scheduled_checkin_create(patient=enrolled.patient, due_at=day_at(2, "22:00"), by=nurse)
    for moment in ("22:00", "23:30"):
        clock.at(day_at(2, moment))
        assert late.pk not in scheduled_checkins_tick().announced
    clock.at(day_at(3, "07:59"))
    assert late.pk not in scheduled_checkins_tick().announced
    clock.at(day_at(3, "08:00"))
    assert late.pk in scheduled_checkins_tick().announced
    clock.at(day_at(3, "08:59"))
    assert late.pk not in scheduled_checkins_tick().reminded
    clock.at(day_at(3, "09:00"))
    assert late.pk in scheduled_checkins_tick().reminded


def test_a_reminder_falling_in_quiet_hours_waits_for_the_morning(make_enrollment, clock, nurse):
    """H10: announced at 18:00 with a 12 h window, its reminder falls due at midnight,
    in quiet hours: it is not sent at night, and as the window closes at 06:00, before
    the quiet hours end, there is no reminder at all; the check-in is missed at 06:00."""
    clock.at(local(DISCHARGE, "12:00", TZ))
    enrollment = make_enrollment(discharge=DISCHARGE, tz=TZ)
    evening = scheduled_checkin_create(patient=enrollment.patient, due_at=day_at(1, "18:00"), by=nurse)
    clock.at(day_at(1, "18:00"))
    assert evening.pk in scheduled_checkins_tick().announced
    clock.at(day_at(1, "23:59"))
    assert evening.pk not in scheduled_checkins_tick().reminded
    clock.at(day_at(2, "03:00"))
    assert evening.pk not in scheduled_checkins_tick().reminded
    clock.at(day_at(2, "06:00"))
    assert evening.pk in scheduled_checkins_tick().missed
    assert not messages(enrollment.patient, MessageKind.REMINDER).exists()


def test_no_reminder_for_an_answered_check_in(enrolled, clock):
    """H8: answered at 10:00, the 15:00 reminder is not sent, and 21:00 misses nothing."""
    first = check_in_of(enrolled, 1)
    clock.at(day_at(1, "09:00"))
    checkins_tick()
    clock.at(day_at(1, "10:00"))
    checkin_submit(
        patient_id=enrolled.patient.pk, answers=green_answers(), scheduled_check_in_id=first.pk, channel="web"
    )
    clock.at(day_at(1, "15:00"))
    assert scheduled_checkins_tick().reminded == []
    clock.at(day_at(1, "21:00"))
    assert scheduled_checkins_tick().missed == []
    assert not messages(enrolled.patient, MessageKind.REMINDER).exists()
    assert check_in_of(enrolled, 1).status == "completed"
    assert not WorklistItem.objects.exists()


def test_a_missed_check_in_goes_on_the_worklist_not_the_alert_queue(enrolled, clock):
    """H7, H8: one early miss is a no_response worklist item (amber), never an alert."""
    clock.at(day_at(1, "21:00"))
    checkins_tick()
    item = WorklistItem.objects.get(patient=enrolled.patient)
    assert item.kind == "no_response" and item.severity == "amber" and item.status == "open"
    assert item.scheduled_check_in == check_in_of(enrolled, 1)
    assert "day 1" in item.detail
    assert not Alert.objects.exists()


def test_three_early_misses_in_a_row_raise_an_amber_alert_that_pages_nobody(enrolled, clock):
    """H7, H8: days 1, 2 and 3 missed: one worklist item, updated (not stacked), and an
    amber no_response alert without an escalation deadline: nobody is paged."""
    for day in (1, 2):
        clock.at(day_at(day, "21:00"))
        checkins_tick()
        assert not Alert.objects.exists()
    clock.at(day_at(3, "21:00"))
    report = scheduled_checkins_tick()
    alert = Alert.objects.get()
    assert report.alerts == [alert.pk]
    assert (alert.rule_id, alert.severity, alert.status) == ("no_response", "amber", "open")
    assert alert.next_escalation_at is None
    assert alert.evidence[0]["value"] == 3 and "days 1, 2, 3" in alert.evidence[0]["condition"]
    assert not OutgoingMessage.objects.filter(kind=MessageKind.STAFF_PAGE).exists()
    item = WorklistItem.objects.get()
    assert item.scheduled_check_in == check_in_of(enrolled, 3) and item.detail.startswith("3 check-ins missed in a row")
    # A fourth miss in a row attaches to the open alert instead of opening another.
    clock.at(day_at(4, "21:00"))
    checkins_tick()
    assert Alert.objects.count() == 1 and Alert.objects.get().occurrences.count() == 2


def test_an_answer_breaks_the_run(enrolled, clock):
    """Missed, answered, missed, missed (days 1-4): no alert, the run is two."""
    clock.at(day_at(1, "21:00"))
    checkins_tick()
    clock.at(day_at(2, "10:00"))
    checkins_tick()
    checkin_submit(
        patient_id=enrolled.patient.pk,
        answers=green_answers(),
        scheduled_check_in_id=check_in_of(enrolled, 2).pk,
        channel="web",
    )
    for day in (3, 4):
        clock.at(day_at(day, "21:00"))
        checkins_tick()
    assert not Alert.objects.exists()
    assert WorklistItem.objects.get().detail.startswith("2 check-ins missed in a row")


def test_after_day_14_one_miss_is_not_a_call_but_two_in_a_row_are(enrolled, clock):
    """The clinical rule: after the first 14 days a single miss waits; two in a row
    (days 16 and 18) make a worklist item, and still no alert."""
    for day in range(1, 15):
        due = check_in_of(enrolled, day)
        ScheduledCheckIn.objects.filter(pk=due.pk).update(status="completed", closed_at=day_at(day, "10:00"))
    clock.at(day_at(16, "21:00"))
    checkins_tick()
    assert not WorklistItem.objects.exists()
    clock.at(day_at(18, "21:00"))
    checkins_tick()
    assert WorklistItem.objects.get().detail.startswith("2 check-ins missed in a row (the last on day 18)")
    assert not Alert.objects.exists()


def test_an_opted_out_patient_gets_no_text_and_the_check_in_stays_visible(enrolled, clock):
    """H11: after STOP nothing is announced: the check-in stays scheduled for nurses to
    see, closes as missed, and the nurses get the call to make (H8)."""
    patient = enrolled.patient
    patient.sms_opted_out_at = datetime(2026, 6, 1, 18, tzinfo=UTC)
    patient.save()
    clock.at(day_at(1, "09:00"))
    assert scheduled_checkins_tick().announced == []
    assert check_in_of(enrolled, 1).status == "scheduled"
    clock.at(day_at(1, "15:00"))
    assert scheduled_checkins_tick().reminded == []
    clock.at(day_at(1, "21:00"))
    assert scheduled_checkins_tick().missed == [check_in_of(enrolled, 1).pk]
    assert not messages(patient).exists()
    assert WorklistItem.objects.filter(patient=patient, kind="no_response").exists()


def test_a_patient_without_sms_consent_is_not_texted(enrolled, clock):
    patient = enrolled.patient
    patient.sms_consent = False
    patient.save()
    clock.at(day_at(1, "09:00"))
    assert scheduled_checkins_tick().announced == []
    assert not messages(patient).exists()


def test_an_app_check_in_is_announced_by_its_link(make_enrollment, clock, clinic):
    """An app patient gets the form link by SMS at 09:00, and the app lists it."""
    clock.at(local(DISCHARGE, "12:00", TZ))
    patient = PatientFactory(clinic=clinic, timezone=TZ)
    patient_user_get_or_create(patient)
    enrollment = make_enrollment(discharge=DISCHARGE, patient=patient)
    clock.at(day_at(1, "09:00"))
    assert scheduled_checkins_tick().announced == [check_in_of(enrollment, 1).pk]
    message = messages(patient).get()
    assert "/c/" in message.body
