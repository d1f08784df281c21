"""Issue 19, must-show 5: a patient's own quiet hours (the clinic's are the default).

A night-shift patient in Baku asleep 00:00-12:00 on their own clock gets no check-in
reminder and no appointment reminder at 10:00 local: each is held until 12:00, while
a patient of the same clinic on the clinic's hours (21:00-08:00) gets theirs at 10:00
(H10). Red advice and the recall after a red finding go at once, inside the patient's
quiet hours (H2). Staff set the hours through the API (PATCH on the patient) and the
plan page's form; one end alone is refused naming the field."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.test import Client

from backend.models import AuditRecord, Patient
from followup.models import Appointment
from followup.services.appointment_reminders import appointments_remind
from followup.services.checkins import checkin_submit
from followup.services.quiet_hours import quiet_hours_end_after
from followup.services.scheduled_checkins import scheduled_checkin_create
from followup.services.timekeeping import scheduled_checkins_tick
from notifications.delivery import outbox_deliver
from notifications.models import MessageKind, MessageStatus, OutgoingMessage
from tests.factories import local, red_answers

pytestmark = pytest.mark.django_db

TZ = "Asia/Baku"  # UTC+4 all year; the clinic is in Istanbul
DISCHARGE = date(2026, 6, 1)


def day_at(day: int, at: str) -> datetime:
    return local(DISCHARGE + timedelta(days=day), at, TZ)


def texts(patient: Patient, kind: str | None = None, *, since: datetime | None = None) -> list[OutgoingMessage]:
    rows = OutgoingMessage.objects.filter(patient=patient)
    if kind is not None:
        rows = rows.filter(kind=kind)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    return list(rows)


@pytest.fixture
def night_and_day(make_enrollment: Any, clock: Any) -> tuple[Patient, Patient]:
    """Two patients in Baku: one sleeps 00:00-12:00 (their own hours), one keeps the clinic's."""
    clock.at(local(DISCHARGE, "12:00", TZ))
    night = make_enrollment(discharge=DISCHARGE, tz=TZ, quiet_hours_start=time(0), quiet_hours_end=time(12))
    day = make_enrollment(discharge=DISCHARGE, tz=TZ)
    return night.patient, day.patient


def test_a_patient_asleep_until_noon_gets_no_reminder_at_10_local_and_gets_it_at_12(
    night_and_day: tuple[Patient, Patient], nurse: Any, clock: Any
) -> None:
    """H10, on the patient's own hours: the check-in reminder and the appointment
    reminder due at 10:00 wait until 12:00; the clinic-hours patient's go at 10:00."""
    night, day = night_and_day
    # Announced at 20:00 with a 24 h window: the reminder falls due at 08:00 next day.
    check_ins = {
        patient.pk: scheduled_checkin_create(patient=patient, due_at=day_at(1, "20:00"), window_minutes=1440, by=nurse)
        for patient in (night, day)
    }
    visits = {
        patient.pk: Appointment.objects.create(
            patient=patient, kind=Appointment.Kind.CLINIC_VISIT, starts_at=day_at(3, "09:00")
        )
        for patient in (night, day)
    }
    clock.at(day_at(1, "20:00"))
    announced = scheduled_checkins_tick().announced
    assert {check_ins[night.pk].pk, check_ins[day.pk].pk} <= set(announced)

    clock.at(day_at(2, "10:00"))
    reminded = scheduled_checkins_tick().reminded
    assert check_ins[day.pk].pk in reminded
    assert check_ins[night.pk].pk not in reminded
    appointment_reminded = appointments_remind()
    assert visits[day.pk].pk in appointment_reminded
    assert visits[night.pk].pk not in appointment_reminded
    # Nothing at all was texted to the sleeping patient this morning.
    assert texts(night, since=day_at(2, "00:00")) == []
    assert texts(day, since=day_at(2, "10:00")) != []

    clock.at(day_at(2, "11:59"))
    assert check_ins[night.pk].pk not in scheduled_checkins_tick().reminded
    assert visits[night.pk].pk not in appointments_remind()

    clock.at(day_at(2, "12:00"))
    assert check_ins[night.pk].pk in scheduled_checkins_tick().reminded
    assert visits[night.pk].pk in appointments_remind()
    assert len(texts(night, MessageKind.REMINDER)) == 1  # the appointment's
    assert texts(night, since=day_at(2, "12:00")) != []


@pytest.mark.django_db(transaction=True)
def test_red_advice_and_the_recall_go_at_once_inside_the_patients_quiet_hours(
    night_and_day: tuple[Patient, Patient], clock: Any, sms_settings: None
) -> None:
    """H2: at 10:00 local, inside the patient's own quiet hours, a red check-in's
    advice and its recall are queued to go now and are sent by the worker at once."""
    night, _day = night_and_day
    clock.at(day_at(2, "10:00"))
    checkin_submit(patient_id=night.pk, answers=red_answers(), channel="app")
    [advice] = texts(night, MessageKind.ADVICE)
    [recall] = texts(night, MessageKind.RECALL)
    for message in (advice, recall):
        assert message.send_after is None and message.status == MessageStatus.QUEUED
        outbox_deliver(message_id=message.pk)
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT


def test_a_planned_send_is_moved_to_the_end_of_the_patients_own_quiet_hours(
    night_and_day: tuple[Patient, Patient],
) -> None:
    night, day = night_and_day
    assert quiet_hours_end_after(moment=day_at(2, "10:00"), patient=night) == day_at(2, "12:00")
    assert quiet_hours_end_after(moment=day_at(2, "10:00"), patient=day) == day_at(2, "10:00")
    assert quiet_hours_end_after(moment=day_at(2, "23:00"), patient=day) == day_at(3, "08:00")


def test_staff_set_and_clear_a_patients_quiet_hours_through_the_api(nurse_client: Any, patient: Patient) -> None:
    path = f"/api/v1/patients/{patient.pk}/"
    response = nurse_client.patch(path, {"quiet_hours_start": "00:00", "quiet_hours_end": "12:00"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["quiet_hours_start"], response.json()["quiet_hours_end"]) == ("00:00", "12:00")
    patient.refresh_from_db()
    assert (patient.quiet_hours_start, patient.quiet_hours_end) == (time(0), time(12))

    half = nurse_client.patch(path, {"quiet_hours_start": None}, format="json")
    assert half.status_code == 400 and list(half.json()) == ["quiet_hours_start"]
    wrong = nurse_client.patch(path, {"quiet_hours_end": 12}, format="json")
    assert wrong.status_code == 400 and "quiet_hours_end" in wrong.json()

    cleared = nurse_client.patch(path, {"quiet_hours_start": None, "quiet_hours_end": None}, format="json")
    assert cleared.status_code == 200
    assert (cleared.json()["quiet_hours_start"], cleared.json()["quiet_hours_end"]) == (None, None)


def test_staff_set_a_patients_quiet_hours_on_the_plan_page(nurse: Any, patient: Patient) -> None:
    client = Client()
    client.force_login(nurse)
    page = client.get(f"/plans/patients/{patient.pk}/").content.decode()
    assert 'id="quiet-hours"' in page
    form = {"patient": patient.pk, "quiet_hours_start": "00:00", "quiet_hours_end": "12:00"}
    response = client.post(f"/plans/patients/{patient.pk}/quiet-hours/", form)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.quiet_hours_start, patient.quiet_hours_end) == (time(0), time(12))
    assert AuditRecord.objects.filter(actor_user_id=nurse.pk, object_type="patient", action="update").exists()

    # One end alone changes nothing.
    client.post(f"/plans/patients/{patient.pk}/quiet-hours/", {**form, "quiet_hours_end": ""})
    patient.refresh_from_db()
    assert patient.quiet_hours_end == time(12)
