"""The dashboard's patient page reads the same queries, and a bounded number of rows,
for a patient with two years of surveillance history (about 300 check-ins, 40 labs,
20 alerts, 6,000 SMS) as for one with ten check-ins (issue 17). The history is the one
bench/dashboard_load.py measures."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.dashboard_load import SHORT, TWO_YEARS, patient_history_create
from followup.dashboard.patient_history import (
    CHART_DETAIL_LIMIT,
    CHART_LAB_LIMIT,
    CHART_WEEKS_LIMIT,
    THREAD_PAGE,
    TIMELINE_PAGE,
)
from followup.selectors import PAST_CHECKIN_PAGE

pytestmark = pytest.mark.django_db


def _load(client: Client, patient) -> tuple[int, list[str], object]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/dashboard/patients/{patient.pk}/")
    assert response.status_code == 200
    return len(captured), [query["sql"] for query in captured.captured_queries], response


def test_the_patient_page_reads_the_same_queries_after_two_years_as_after_ten_check_ins(nurse, make_enrolled):
    short, long = make_enrolled(), make_enrolled()
    patient_history_create(patient=short, **SHORT)
    patient_history_create(patient=long, **TWO_YEARS)
    client = Client()
    client.force_login(nurse)
    client.get(f"/dashboard/patients/{short.pk}/")  # the protocol definition cached, as in a running server

    few, _few_sql, _response = _load(client, short)
    many, many_sql, response = _load(client, long)

    assert many == few, f"{few} queries for 10 check-ins, {many} for two years:\n" + "\n".join(many_sql)
    # Bounded rows: a page of the timeline and of the thread; charts of weeks, not check-ins.
    assert len(response.context["timeline"]) == TIMELINE_PAGE
    assert response.context["timeline_older"] is not None
    assert len(response.context["thread"].messages) == THREAD_PAGE
    assert response.context["thread"].earlier is not None
    series = {one["id"]: one for one in response.context["series"]}
    for code in ("temperature_c", "weight_kg", "abdominal_pain"):
        assert 0 < len(series[code]["points"]) <= CHART_WEEKS_LIMIT + CHART_DETAIL_LIMIT
        assert len(series[code]["points"]) < TWO_YEARS["check_ins"], "the charts read every check-in"
    assert 0 < len(series["bilirubin_umol_l"]["points"]) <= CHART_LAB_LIMIT
    assert [alert.status for alert in response.context["open_alerts"]] == ["open"]


def test_the_plan_page_reads_the_same_queries_after_two_years_as_after_ten_check_ins(nurse, make_enrolled):
    """The staff plan page (followup/views/staff.py): what is to come whole, the closed
    check-ins a page at a time."""
    short, long = make_enrolled(), make_enrolled()
    patient_history_create(patient=short, **SHORT)
    patient_history_create(patient=long, **TWO_YEARS)
    client = Client()
    client.force_login(nurse)
    client.get(f"/plans/patients/{short.pk}/")

    counts = {}
    for name, patient in (("short", short), ("long", long)):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/plans/patients/{patient.pk}/")
        assert response.status_code == 200
        counts[name] = (len(captured), [query["sql"] for query in captured.captured_queries])

    assert counts["long"][0] == counts["short"][0], "\n".join(counts["long"][1])
    assert len(response.context["past_check_ins"]) == PAST_CHECKIN_PAGE
    assert response.context["past_total"] == TWO_YEARS["check_ins"] + TWO_YEARS["check_ins"] // 10
    assert response.context["past_older"] is not None
