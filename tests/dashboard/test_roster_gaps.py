"""Gaps in a care team's on-call coverage over the next seven days (H9)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from backend.models import OnCallShift, Role
from followup.escalation import on_call_gaps
from tests.factories import CareTeamFactory, UserFactory

pytestmark = pytest.mark.django_db

START = datetime.fromisoformat("2031-03-03T00:00:00+00:00")


def shift(team, user, level: int, from_hours: float, to_hours: float) -> None:  # type: ignore[no-untyped-def]
    OnCallShift.objects.create(
        care_team=team,
        user=user,
        level=level,
        starts_at=START + timedelta(hours=from_hours),
        ends_at=START + timedelta(hours=to_hours),
    )


def test_a_fully_covered_roster_has_no_gap(clinic):
    team = CareTeamFactory(clinic=clinic)
    first, second = UserFactory(clinic=clinic, role=Role.SURGEON), UserFactory(clinic=clinic, role=Role.SURGEON)
    shift(team, first, 1, -10, 24 * 3)
    shift(team, first, 1, 24 * 3, 24 * 8)
    shift(team, second, 2, 0, 24 * 7)
    assert on_call_gaps(clinic_id=clinic.pk, start=START) == []


def test_it_reports_each_uncovered_period_by_team_and_level(clinic):
    team = CareTeamFactory(clinic=clinic, name="Liver A")
    first, second = UserFactory(clinic=clinic), UserFactory(clinic=clinic)
    shift(team, first, 1, 0, 48)
    shift(team, first, 1, 60, 24 * 7)
    shift(team, second, 2, 0, 24 * 7)
    gaps = on_call_gaps(clinic_id=clinic.pk, start=START)
    assert [(gap.care_team_name, gap.level, gap.starts_at, gap.ends_at) for gap in gaps] == [
        ("Liver A", 1, START + timedelta(hours=48), START + timedelta(hours=60))
    ]


def test_a_team_with_no_roster_is_one_gap_per_level(clinic):
    CareTeamFactory(clinic=clinic)
    gaps = on_call_gaps(clinic_id=clinic.pk, start=START)
    week = timedelta(days=7)
    assert [(gap.level, gap.ends_at - gap.starts_at) for gap in gaps] == [(1, week), (2, week)]


def test_someone_who_cannot_be_paged_covers_nothing(clinic):
    """No phone, or no longer active: their shift pages nobody (H9)."""
    team = CareTeamFactory(clinic=clinic)
    silent = UserFactory(clinic=clinic, phone="")
    gone = UserFactory(clinic=clinic, is_active=False)
    shift(team, silent, 1, 0, 24 * 7)
    shift(team, gone, 2, 0, 24 * 7)
    assert {gap.level for gap in on_call_gaps(clinic_id=clinic.pk, start=START)} == {1, 2}


def test_other_clinics_rosters_are_not_reported(clinic, other_clinic):
    CareTeamFactory(clinic=other_clinic)
    assert on_call_gaps(clinic_id=clinic.pk, start=START) == []


def test_it_takes_two_queries_whatever_the_roster(clinic, django_assert_num_queries):
    for _ in range(5):
        team = CareTeamFactory(clinic=clinic)
        for level in (1, 2, 3):
            shift(team, UserFactory(clinic=clinic), level, 0, 30)
    with django_assert_num_queries(2):
        on_call_gaps(clinic_id=clinic.pk, start=START)
