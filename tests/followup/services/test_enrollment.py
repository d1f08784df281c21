"""Enrollment generates the plan from the schedule template, counted from the discharge
date in the patient's time zone (H10, H14)."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from backend.services import patient_user_get_or_create
from followup.models import Appointment, ScheduledCheckIn
from tests.factories import PatientFactory, local

pytestmark = pytest.mark.django_db


def _local_times(rows, tz: str) -> set[str]:
    zone = zoneinfo.ZoneInfo(tz)
    return {row.due_at.astimezone(zone).strftime("%H:%M") for row in rows}


def test_baku_discharge_plans_every_band_at_nine_local(make_enrollment, clock):
    """H10, H14: Asia/Baku (UTC+4, no DST): every check-in at 09:00 local = 05:00 UTC,
    and the exact number of items of each band of the template."""
    discharge = date(2026, 3, 2)  # a Monday
    clock.at(local(discharge, "15:00", "Asia/Baku"))
    enrollment = make_enrollment(discharge=discharge, tz="Asia/Baku")

    check_ins = list(ScheduledCheckIn.objects.filter(enrollment=enrollment).order_by("due_at"))
    days = [row.day for row in check_ins if row.phase == "acute"]
    assert [day for day in days if day <= 14] == list(range(1, 15))  # daily, days 1-14
    assert [day for day in days if 15 <= day <= 30] == list(range(16, 31, 2))  # every other day
    # Days 31-45 on Mondays and Thursdays: day 31 is Thursday 2 April.
    assert [day for day in days if 31 <= day <= 45] == [31, 35, 38, 42, 45]
    assert [day for day in days if 46 <= day <= 90] == [46, 53, 60, 67, 74, 81, 88]  # weekly
    surveillance = [row for row in check_ins if row.phase == "surveillance"]
    assert len(surveillance) == 22 + 12  # monthly months 3-24, every 3 months 27-60
    assert len(check_ins) == 14 + 8 + 5 + 7 + 34

    assert _local_times(check_ins, "Asia/Baku") == {"09:00"}
    assert {row.due_at.astimezone(UTC).hour for row in check_ins} == {5}
    first = check_ins[0]
    assert first.due_at == datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    assert first.window_minutes == 720
    assert {row.status for row in check_ins} == {"scheduled"}
    assert {row.origin for row in check_ins} == {"plan"}
    assert {row.channel for row in check_ins} == {"sms"}

    appointments = Appointment.objects.filter(enrollment=enrollment)
    acute = Counter(row.kind for row in appointments if row.detail["phase"] == "acute")
    assert acute == {"telemedicine": 2, "lab": 3, "clinic_visit": 1, "imaging": 1}
    later = Counter(row.kind for row in appointments if row.detail["phase"] == "surveillance")
    assert later == {"lab": 7 + 6, "imaging": 7 + 6}  # every 3 months to 24, every 6 to 60
    day7_lab = appointments.get(plan_key="lab:d007")
    assert day7_lab.detail["labs"] == ["bilirubin_umol_l", "inr", "alt_u_l", "ast_u_l", "alp_u_l", "albumin_g_l"]
    assert day7_lab.starts_at == datetime(2026, 3, 9, 5, 0, tzinfo=UTC)
    assert appointments.get(plan_key="lab:d090").detail["labs"] == ["cea_ng_ml"]
    assert appointments.get(plan_key="imaging:d090").reason.startswith("CT of chest")


def test_berlin_plan_stays_at_nine_local_across_the_march_clock_change(make_enrollment, clock):
    """H10, H14: Europe/Berlin moves from UTC+1 to UTC+2 on 29 March 2026: the daily
    check-in stays at 09:00 local, so its UTC time moves from 08:00 to 07:00."""
    discharge = date(2026, 3, 20)
    clock.at(local(discharge, "12:00", "Europe/Berlin"))
    enrollment = make_enrollment(discharge=discharge, tz="Europe/Berlin")
    early = list(ScheduledCheckIn.objects.filter(enrollment=enrollment, day__lte=14).order_by("due_at"))

    assert len(early) == 14
    assert _local_times(early, "Europe/Berlin") == {"09:00"}
    utc_hours = {row.due_at.date(): row.due_at.astimezone(UTC).hour for row in early}
    assert utc_hours[date(2026, 3, 28)] == 8  # Saturday, still winter time
    assert utc_hours[date(2026, 3, 29)] == 7  # Sunday: summer time from 02:00
    assert set(utc_hours.values()) == {7, 8}


def test_enrolling_twenty_days_after_discharge_starts_at_today(make_enrollment, clock):
    """H8, H14: enrolled on day 20 at 10:00: nothing is generated before day 20 (the day
    20 check-in is still open until 21:00), so days 1-19 cannot be missed."""
    discharge = date(2026, 5, 1)
    clock.at(local(discharge + timedelta(days=20), "10:00", "Europe/Istanbul"))
    enrollment = make_enrollment(discharge=discharge)

    days = sorted(ScheduledCheckIn.objects.filter(enrollment=enrollment).values_list("day", flat=True))
    assert days[0] == 20
    assert not ScheduledCheckIn.objects.filter(enrollment=enrollment, day__lt=20).exists()
    assert not ScheduledCheckIn.objects.filter(status="missed").exists()
    # The day-7 video visit and lab were in the past: not generated; day 30's are.
    keys = set(Appointment.objects.filter(enrollment=enrollment).values_list("plan_key", flat=True))
    assert "telemedicine:d007" not in keys and "lab:d007" not in keys
    assert {"telemedicine:d030", "lab:d030"} <= keys


def test_a_patient_signed_in_to_the_app_gets_app_check_ins(make_enrollment, clock, clinic):
    clock.at(datetime(2026, 5, 1, 12, tzinfo=UTC))
    patient = PatientFactory(clinic=clinic)
    patient_user_get_or_create(patient)
    enrollment = make_enrollment(discharge=date(2026, 5, 1), patient=patient)
    assert set(ScheduledCheckIn.objects.filter(enrollment=enrollment).values_list("channel", flat=True)) == {"app"}
