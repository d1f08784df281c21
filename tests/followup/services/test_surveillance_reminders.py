"""Protocol 2026.2's surveillance windows through the clock: a monthly check-in
stays open 72 h, is reminded once at 24 h (not half-way, at 36 h) and is missed only
when the 72 h are over; acute check-ins keep their 12 h and half-way reminder.

H8 (a patient's silence is missed or mistaken): a patient abroad who misses a
monthly message by a working day is not silent."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from followup.models import ScheduledCheckIn
from followup.services.timekeeping import scheduled_checkins_tick
from tests.factories import local

pytestmark = pytest.mark.django_db

TZ = "Europe/Istanbul"  # UTC+3 all year
DISCHARGE = date(2026, 6, 1)


@pytest.fixture
def enrollment(make_enrollment, clock):
    clock.at(local(DISCHARGE, "12:00", TZ))
    return make_enrollment(discharge=DISCHARGE, tz=TZ)


def test_a_monthly_check_in_is_reminded_at_24_hours_and_missed_at_72(enrollment, clock):
    monthly = ScheduledCheckIn.objects.filter(enrollment=enrollment, phase="surveillance").order_by("due_at").first()
    assert (monthly.window_minutes, monthly.reminder_minutes) == (72 * 60, 24 * 60)
    # Everything of the acute phase is long closed by then; ticks settle it first.
    clock.at(monthly.due_at - timedelta(minutes=1))
    while any(scheduled_checkins_tick().as_counts().values()):
        pass
    clock.at(monthly.due_at)
    assert monthly.pk in scheduled_checkins_tick().announced
    clock.at(monthly.due_at + timedelta(hours=23, minutes=59))
    assert monthly.pk not in scheduled_checkins_tick().reminded
    clock.at(monthly.due_at + timedelta(hours=24))
    assert monthly.pk in scheduled_checkins_tick().reminded
    clock.at(monthly.due_at + timedelta(hours=36))
    tick = scheduled_checkins_tick()
    assert monthly.pk not in tick.reminded and monthly.pk not in tick.missed
    clock.at(monthly.due_at + timedelta(hours=71, minutes=59))
    assert monthly.pk not in scheduled_checkins_tick().missed
    assert ScheduledCheckIn.objects.get(pk=monthly.pk).status == "sent"
    clock.at(monthly.due_at + timedelta(hours=72))
    assert monthly.pk in scheduled_checkins_tick().missed


def test_an_acute_check_in_keeps_12_hours_and_the_half_way_reminder(enrollment, clock):
    first = ScheduledCheckIn.objects.get(enrollment=enrollment, day=1)
    assert (first.window_minutes, first.reminder_minutes) == (12 * 60, None)
    clock.at(first.due_at)
    assert first.pk in scheduled_checkins_tick().announced
    clock.at(first.due_at + timedelta(hours=5, minutes=59))
    assert first.pk not in scheduled_checkins_tick().reminded
    clock.at(first.due_at + timedelta(hours=6))
    assert first.pk in scheduled_checkins_tick().reminded
