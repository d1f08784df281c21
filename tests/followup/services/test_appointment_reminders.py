"""Appointment reminders: once, in the day before, in the patient's local time and
language, outside quiet hours, never after STOP (H10, H11)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from followup.models import Appointment
from followup.services.appointment_changes import appointment_create, appointment_update
from followup.services.appointment_reminders import appointments_remind
from followup.tasks import appointments_tick
from notifications.models import MessageKind, OutgoingMessage
from tests.factories import local

pytestmark = pytest.mark.django_db

TZ = "Europe/Istanbul"
DISCHARGE = date(2026, 6, 1)


@pytest.fixture
def enrolled(make_enrollment, clock, patient):
    clock.at(local(DISCHARGE, "12:00", TZ))
    patient.timezone = TZ
    patient.language = "tr"
    patient.save()
    return make_enrollment(discharge=DISCHARGE, patient=patient)


def reminders(patient):
    return OutgoingMessage.objects.filter(patient=patient, kind=MessageKind.REMINDER)


def test_the_day_7_lab_is_reminded_once_the_day_before_in_turkish(enrolled, clock):
    """Day 7 is 8 June, 09:00 Istanbul: the reminder goes at 09:00 on 7 June, once."""
    lab = Appointment.objects.get(enrollment=enrolled, plan_key="lab:d007")
    clock.at(local(date(2026, 6, 7), "08:59", TZ))
    assert lab.pk not in appointments_remind()
    clock.at(local(date(2026, 6, 7), "09:00", TZ))
    assert lab.pk in appointments_remind()
    assert appointments_tick() == 0  # the telemedicine visit at the same time went too
    message = reminders(enrolled.patient).get(appointment_id=lab.pk)
    assert "08.06.2026 09:00" in message.body
    assert "kan tahlili" in message.body  # "blood test" in Turkish
    assert enrolled.patient.clinic.name in message.body
    lab.refresh_from_db()
    assert lab.reminded_at == local(date(2026, 6, 7), "09:00", TZ)


def test_a_reminder_due_at_night_waits_for_the_morning(enrolled, nurse, clock):
    """H10: an appointment at 22:30 tomorrow could be reminded from 22:30 today, in
    quiet hours: it is reminded at 08:00."""
    clock.at(local(date(2026, 6, 3), "20:00", TZ))
    late = appointment_create(
        patient=enrolled.patient, kind="clinic_visit", starts_at=local(date(2026, 6, 4), "22:30", TZ), by=nurse
    )
    for moment in ((date(2026, 6, 3), "22:30"), (date(2026, 6, 4), "07:59")):
        clock.at(local(*moment, TZ))
        assert late.pk not in appointments_remind()
    clock.at(local(date(2026, 6, 4), "08:00", TZ))
    assert late.pk in appointments_remind()


def test_a_video_visit_reminder_carries_the_link(enrolled, nurse, clock):
    clock.at(local(date(2026, 6, 3), "10:00", TZ))
    visit = appointment_create(
        patient=enrolled.patient,
        kind="telemedicine",
        starts_at=local(date(2026, 6, 4), "09:30", TZ),
        video_url="https://video.example.org/room/9",
        by=nurse,
    )
    assert visit.pk in appointments_remind()
    assert "https://video.example.org/room/9" in reminders(enrolled.patient).get(appointment_id=visit.pk).body


def test_a_moved_appointment_is_reminded_again_for_its_new_time(enrolled, nurse, clock):
    clock.at(local(date(2026, 6, 7), "09:00", TZ))
    lab = Appointment.objects.get(enrollment=enrolled, plan_key="lab:d007")
    assert lab.pk in appointments_remind()
    appointment_update(appointment=lab, starts_at=local(date(2026, 6, 8), "08:30", TZ), by=nurse)
    assert lab.pk in appointments_remind()
    bodies = list(reminders(enrolled.patient).filter(appointment_id=lab.pk).values_list("body", flat=True))
    assert len(bodies) == 2 and "08.06.2026 08:30" in bodies[1]


def test_no_reminder_after_stop_or_for_a_cancelled_appointment(enrolled, nurse, clock):
    """H11."""
    lab = Appointment.objects.get(enrollment=enrolled, plan_key="lab:d007")
    appointment_update(appointment=lab, status="cancelled", by=nurse)
    patient = enrolled.patient
    patient.sms_opted_out_at = local(DISCHARGE, "18:00", TZ)
    patient.save()
    clock.at(local(date(2026, 6, 7), "09:00", TZ))
    assert appointments_remind() == []
    assert not reminders(patient).exists()


def test_the_reminder_window_is_the_day_before(enrolled, clock):
    """Nothing is reminded two days ahead: the plan's day-30 visit waits until day 29."""
    clock.at(local(date(2026, 6, 29), "09:00", TZ))
    assert not Appointment.objects.filter(pk__in=appointments_remind(), plan_key__endswith="d030").exists()
    clock.at(local(date(2026, 6, 30), "09:00", TZ) + timedelta(minutes=1))
    assert Appointment.objects.filter(pk__in=appointments_remind(), plan_key__endswith="d030").count() == 2
