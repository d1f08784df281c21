"""The follow-up plan: local 09:00 across time zones and DST, bands, mid-way enrollment."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from followup.protocols import generate_plan, load_protocol
from tests.factories import DEFAULT_PROTOCOL_DIR

BAKU = "Asia/Baku"
BERLIN = "Europe/Berlin"


@pytest.fixture(scope="module")
def protocol():
    return load_protocol(DEFAULT_PROTOCOL_DIR)


def plan_for(protocol, discharge, tz, *, enrolled_at=None, surgery=None):
    if enrolled_at is None:
        enrolled_at = datetime.combine(discharge, time(12), tzinfo=ZoneInfo(tz))
    return generate_plan(
        protocol,
        discharge_date=discharge,
        surgery_date=surgery or date.fromordinal(discharge.toordinal() - 6),
        tz=tz,
        enrolled_at=enrolled_at,
    )


def check_ins(plan, first_day=1, last_day=10_000):
    return [i for i in plan if i.kind == "check_in" and first_day <= i.day <= last_day]


def test_day_1_is_the_day_after_discharge_at_0900_local_in_baku(protocol):
    plan = plan_for(protocol, date(2026, 3, 20), BAKU)
    first = plan[0]
    assert (first.kind, first.day, first.phase) == ("check_in", 1, "acute")
    assert first.due_at == datetime(2026, 3, 21, 5, 0, tzinfo=UTC)
    assert first.due_at.tzinfo is UTC
    assert first.window_minutes == 12 * 60


def test_exact_counts_per_phase_band(protocol):
    plan = plan_for(protocol, date(2026, 3, 20), BAKU)
    assert [i.day for i in check_ins(plan, 1, 14)] == list(range(1, 15))
    assert [i.day for i in check_ins(plan, 15, 30)] == list(range(16, 31, 2))
    # Day 31 is Monday 2026-04-20: Mondays 20, 27 Apr, 4 May; Thursdays 23, 30 Apr.
    assert [i.day for i in check_ins(plan, 31, 45)] == [31, 34, 38, 41, 45]
    assert [i.day for i in check_ins(plan, 46, 90)] == [46, 53, 60, 67, 74, 81, 88]
    surveillance = [i for i in plan if i.kind == "check_in" and i.phase == "surveillance"]
    assert len(surveillance) == 22 + 12  # monthly months 3-24, then every 3 months to year 5
    assert surveillance[0].due_at == datetime(2026, 6, 20, 5, 0, tzinfo=UTC)  # month 3, day 92
    assert surveillance[0].day == 92
    assert surveillance[21].key == "check_in:m24"
    assert surveillance[22].key == "check_in:m27"
    assert surveillance[-1].due_at == datetime(2031, 3, 20, 5, 0, tzinfo=UTC)  # five years

    assert Counter(i.kind for i in plan) == {
        "check_in": 14 + 8 + 5 + 7 + 22 + 12,
        "lab": 3 + 7 + 6,
        "imaging": 1 + 7 + 6,
        "telemedicine": 2,
        "clinic_visit": 1,
    }
    assert all(i.phase == protocol.schedule.phase_of_day(i.day) for i in plan)
    assert (protocol.schedule.phase_of_day(90), protocol.schedule.phase_of_day(91)) == ("acute", "surveillance")
    assert len({i.key for i in plan}) == len(plan)


def test_visits_labs_and_imaging_of_the_acute_phase(protocol):
    plan = plan_for(protocol, date(2026, 3, 20), BAKU)
    liver_panel = ("bilirubin_umol_l", "inr", "alt_u_l", "ast_u_l", "alp_u_l", "albumin_g_l")
    events = [(i.day, i.kind, i.labs) for i in plan if i.kind != "check_in" and i.day <= 90]
    assert events == [
        (7, "lab", liver_panel),
        (7, "telemedicine", ()),
        (30, "lab", liver_panel),
        (30, "telemedicine", ()),
        (90, "clinic_visit", ()),
        (90, "imaging", ()),
        (90, "lab", ("cea_ng_ml",)),
    ]
    imaging = next(i for i in plan if i.kind == "imaging")
    assert "CT of chest, abdomen and pelvis" in imaging.detail


def test_surveillance_cea_and_imaging_every_3_then_every_6_months(protocol):
    plan = plan_for(protocol, date(2026, 3, 20), BAKU)
    cea = [i.key for i in plan if i.kind == "lab" and i.phase == "surveillance"]
    assert cea == [f"lab:m{m:02d}" for m in (6, 9, 12, 15, 18, 21, 24, 30, 36, 42, 48, 54, 60)]
    scans = [i.key for i in plan if i.kind == "imaging" and i.phase == "surveillance"]
    assert scans == [f"imaging:m{m:02d}" for m in (6, 9, 12, 15, 18, 21, 24, 30, 36, 42, 48, 54, 60)]
    assert all(i.labs == ("cea_ng_ml",) for i in plan if i.kind == "lab" and i.phase == "surveillance")


def test_the_monday_thursday_band_lands_on_those_weekdays(protocol):
    for offset in range(7):  # a discharge on every day of the week
        discharge = date(2026, 5, 4 + offset)
        plan = plan_for(protocol, discharge, BERLIN)
        band = check_ins(plan, 31, 45)
        local_days = {i.due_at.astimezone(ZoneInfo(BERLIN)).strftime("%a") for i in band}
        assert local_days == {"Mon", "Thu"}, discharge
        assert len(band) in (4, 5)


def test_0900_berlin_across_the_spring_dst_change(protocol):
    plan = plan_for(protocol, date(2026, 3, 25), BERLIN)
    by_day = {i.day: i for i in check_ins(plan, 1, 14)}
    assert by_day[3].due_at == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # CET, UTC+1
    assert by_day[4].due_at == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # CEST, UTC+2
    for item in check_ins(plan):
        assert item.due_at.astimezone(ZoneInfo(BERLIN)).time() == time(9, 0)


def test_0900_berlin_across_the_autumn_dst_change(protocol):
    plan = plan_for(protocol, date(2026, 10, 20), BERLIN)
    by_day = {i.day: i for i in check_ins(plan, 1, 14)}
    assert by_day[4].due_at == datetime(2026, 10, 24, 7, 0, tzinfo=UTC)
    assert by_day[5].due_at == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)


def test_enrolling_20_days_after_discharge_generates_nothing_before_day_20(protocol):
    discharge = date(2026, 3, 20)
    enrolled_at = datetime(2026, 4, 9, 10, 0, tzinfo=ZoneInfo(BAKU))  # day 20, 10:00 local
    plan = plan_for(protocol, discharge, BAKU, enrolled_at=enrolled_at)
    assert min(i.day for i in plan) == 20
    first = plan[0]
    assert (first.kind, first.day) == ("check_in", 20)  # its window is still open
    assert first.due_at < enrolled_at < first.closes_at
    assert [i.day for i in check_ins(plan, 15, 30)] == [20, 22, 24, 26, 28, 30]
    assert not [i for i in plan if i.day == 7]
    full = plan_for(protocol, discharge, BAKU)
    assert plan == [i for i in full if i.day >= 20]


def test_an_item_whose_window_closed_at_enrollment_is_not_generated(protocol):
    closes = datetime(2026, 4, 9, 21, 0, tzinfo=ZoneInfo(BAKU))  # day 20 at 09:00 + 12 h
    plan = plan_for(protocol, date(2026, 3, 20), BAKU, enrolled_at=closes)
    assert plan[0].day == 22


def test_a_month_3_that_falls_inside_the_acute_phase_opens_surveillance_on_day_91(protocol):
    # 31 Jan + 3 months = 30 Apr, only 89 days later.
    plan = plan_for(protocol, date(2026, 1, 31), "Europe/Istanbul")
    first = next(i for i in plan if i.phase == "surveillance")
    assert (first.key, first.day) == ("check_in:m03", 91)
    assert first.due_at == datetime(2026, 5, 2, 6, 0, tzinfo=UTC)


def test_plan_inputs_are_checked(protocol):
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_plan(
            protocol,
            discharge_date=date(2026, 3, 20),
            surgery_date=None,
            tz=BAKU,
            enrolled_at=datetime(2026, 3, 20, 12, 0),
        )
    with pytest.raises(ValueError, match="unknown time zone"):
        generate_plan(
            protocol,
            discharge_date=date(2026, 3, 20),
            surgery_date=None,
            tz="Mars/Olympus_Mons",
            enrolled_at=datetime(2026, 3, 20, tzinfo=UTC),
        )
    with pytest.raises(ValueError, match="after the discharge date"):
        plan_for(protocol, date(2026, 3, 20), BAKU, surgery=date(2026, 3, 21))
