"""The plan page of a patient followed for a long time (followup/views/staff.py,
issue 17): the closed check-ins come a page at a time, newest first, each once, with
an Older link; a position the page did not give is a 404."""

from __future__ import annotations

import pytest
from django.test import Client

from bench.dashboard_load import patient_history_create
from followup.models import ScheduledCheckIn
from followup.selectors import CLOSED_CHECKIN_STATUSES, PAST_CHECKIN_PAGE

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(nurse) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(nurse)
    return client


def test_older_pages_show_every_past_check_in_once_newest_first(staff, enrolled):
    patient_history_create(patient=enrolled, check_ins=70, labs=0, alerts=0, messages=0, days=300)
    closed = ScheduledCheckIn.objects.filter(patient=enrolled, status__in=CLOSED_CHECKIN_STATUSES)
    seen, keys, query = [], [], ""
    while True:
        response = staff.get(f"/plans/patients/{enrolled.pk}/{query}")
        assert response.status_code == 200
        rows = [item["row"] for item in response.context["past_check_ins"]]
        assert len(rows) <= PAST_CHECKIN_PAGE
        seen += [row.pk for row in rows]
        keys += [(row.due_at, row.pk) for row in rows]
        assert response.context["past_total"] == closed.count()
        older = response.context["past_older"]
        if older is None:
            break
        assert f"?past_before={older}" in response.content.decode()
        query = f"?past_before={older}"
    assert sorted(seen) == sorted(closed.values_list("pk", flat=True))
    assert keys == sorted(keys, reverse=True)
    assert query and 'id="past-check-ins" open' in response.content.decode()


@pytest.mark.parametrize("position", ["x", "1.", ".1", "١٢.3", "9999999999999999999.1"])
def test_a_past_position_the_page_did_not_give_is_not_found(staff, enrolled, position):
    assert staff.get(f"/plans/patients/{enrolled.pk}/?past_before={position}").status_code == 404
