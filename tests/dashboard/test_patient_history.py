"""The dashboard's patient page over a long history (followup/dashboard/patient_history.py,
issue 17): unresolved alerts on top whatever their age, the timeline and the SMS thread
paged by keyset (every entry once, newest first, while entries arrive), charts of the
whole follow-up with each earlier week's worst value."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bench.dashboard_load import patient_history_create
from followup.dashboard.patient_history import CHART_DETAIL_DAYS, THREAD_PAGE, TIMELINE_PAGE
from followup.models import Alert, Appointment, CheckIn, Enrollment
from notifications.models import MessageHistoryEntry
from tests.factories import green_answers

pytestmark = pytest.mark.django_db


def _page(client: Client, patient, query: str = ""):  # type: ignore[no-untyped-def]
    response = client.get(f"/dashboard/patients/{patient.pk}/{query}")
    assert response.status_code == 200
    return response


@pytest.fixture
def staff(nurse) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(nurse)
    return client


def _check_in(patient, taken_at, **answers) -> CheckIn:  # type: ignore[no-untyped-def]
    enrollment = Enrollment.objects.get(patient=patient)
    return CheckIn.objects.create(
        patient=patient,
        enrollment=enrollment,
        protocol_version=enrollment.protocol_version,
        answers=green_answers(**answers),
        taken_at=taken_at,
        channel="app",
        level="green",
    )


def test_older_pages_show_every_timeline_entry_once_newest_first_while_check_ins_arrive(staff, enrolled):
    patient_history_create(patient=enrolled, check_ins=45, labs=0, alerts=6, messages=0, days=200)
    # Entries at the same moment: the order still breaks the tie (kind, then id).
    first = CheckIn.objects.filter(patient=enrolled).order_by("taken_at").first()
    alert = Alert.objects.filter(patient=enrolled).order_by("created_at").first()
    Alert.objects.filter(pk=alert.pk).update(created_at=first.taken_at)
    _check_in(enrolled, first.taken_at)
    expected = {("check_in", pk) for pk in CheckIn.objects.filter(patient=enrolled).values_list("pk", flat=True)}
    expected |= {("alert", pk) for pk in Alert.objects.filter(patient=enrolled).values_list("pk", flat=True)}
    expected |= {
        ("appointment", pk) for pk in Appointment.objects.filter(patient=enrolled).values_list("pk", flat=True)
    }

    seen, keys, query = [], [], ""
    while True:
        response = _page(staff, enrolled, query)
        entries = response.context["timeline"]
        assert len(entries) <= TIMELINE_PAGE
        seen += [(entry.kind, entry.pk) for entry in entries]
        keys += [entry.sort_key for entry in entries]
        # A check-in arrives while the surgeon reads: it is on the first page, not repeated below.
        _check_in(enrolled, timezone.now())
        older = response.context["timeline_older"]
        if older is None:
            break
        assert f"?older_than={older}" in response.content.decode()
        query = f"?older_than={older}"

    assert len(seen) == len(set(seen)), "an entry came twice"
    assert set(seen) >= expected, "an entry there from the start was skipped"
    assert keys == sorted(keys, reverse=True)


def test_an_unresolved_alert_from_long_ago_is_on_top(staff, enrolled):
    patient_history_create(patient=enrolled, check_ins=60, labs=0, alerts=3, messages=0, days=400)
    oldest = Alert.objects.filter(patient=enrolled).order_by("created_at").first()
    Alert.objects.filter(pk=oldest.pk).update(status="acknowledged", outcome="", rule_id="jaundice")
    response = _page(staff, enrolled)
    shown = [alert.pk for alert in response.context["open_alerts"]]
    assert oldest.pk in shown
    assert oldest.pk not in [entry.pk for entry in response.context["timeline"] if entry.kind == "alert"]
    assert "Unresolved alerts" in response.content.decode()


def test_charts_keep_every_recent_value_and_each_earlier_weeks_worst(staff, enrolled):
    now = timezone.now()
    old_week = now - timedelta(days=CHART_DETAIL_DAYS + 60)
    for hours, temperature, weight, pain in ((0, 37.0, 80.0, 1), (24, 38.9, 78.2, 6), (48, 37.2, 79.5, 2)):
        _check_in(
            enrolled,
            old_week + timedelta(hours=hours),
            temperature_c=temperature,
            weight_kg=weight,
            abdominal_pain=pain,
        )
    _check_in(enrolled, now - timedelta(days=3), temperature_c=37.1, weight_kg=77.0, abdominal_pain=0)
    _check_in(enrolled, now - timedelta(days=1), temperature_c=38.1, weight_kg=77.5, abdominal_pain=3)
    series = {one["id"]: one for one in _page(staff, enrolled).context["series"]}
    values = {code: [point[1] for point in series[code]["points"]] for code in series}
    # One point for the old week or two (a week may straddle): its worst, then every recent value.
    assert values["temperature_c"][-2:] == [37.1, 38.1] and max(values["temperature_c"][:-2]) == 38.9
    assert values["weight_kg"][-2:] == [77.0, 77.5] and min(values["weight_kg"][:-2]) == 78.2
    assert values["abdominal_pain"][-2:] == [0, 3] and max(values["abdominal_pain"][:-2]) == 6
    assert len(values["temperature_c"]) <= 4
    assert series["temperature_c"]["weekly_until"] is not None
    assert all(points == sorted(points) for points in ([p[0] for p in series[c]["points"]] for c in series))


def test_earlier_messages_page_back_through_the_thread_each_message_once(staff, enrolled):
    patient_history_create(patient=enrolled, check_ins=0, labs=0, alerts=0, messages=THREAD_PAGE * 2 + 5, days=10)
    every = list(MessageHistoryEntry.objects.filter(patient=enrolled).order_by("id").values_list("pk", flat=True))
    pages, query = [], ""
    while True:
        response = _page(staff, enrolled, query)
        thread = response.context["thread"]
        pages.append(thread.entry_ids)
        assert thread.entry_ids == sorted(thread.entry_ids)  # oldest first on a page
        if thread.earlier is None:
            break
        assert f"?messages_before={thread.earlier}" in response.content.decode()
        query = f"?messages_before={thread.earlier}"
    assert [pk for page in reversed(pages) for pk in page] == every
    assert len(pages) == 3


@pytest.mark.parametrize(
    "query", ["?older_than=x", "?older_than=1.9.1", "?older_than=999999999999999999.0.1", "?messages_before=-1"]
)
def test_a_position_the_page_did_not_give_is_not_found(staff, enrolled, query):
    assert staff.get(f"/dashboard/patients/{enrolled.pk}/{query}").status_code == 404
