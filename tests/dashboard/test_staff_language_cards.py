"""The dashboard's data in the reader's stored language (issue 19): the card JSON the
script draws a live alert from, the rule titles of a page of alerts read in one query,
the metrics rule table, a nurse call on the worklist and the patient's time beside the
clinic's. H6: staff read the warning sign in their own language."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from backend.models import User
from followup.dashboard import labels
from followup.dashboard.labels import dashboard_script_texts
from followup.models import Alert, Appointment, CheckIn, ScheduledCheckIn, WorklistItem
from followup.rule_titles import alert_rule_titles
from followup.services.checkins import checkin_submit
from followup.services.worklist import MISSED_RUN_TEXT
from followup.templatetags.staff_labels import time_with_patient_time, with_patient_time
from notifications.models import MessageStatus
from tests.dashboard.conftest import red_alert_raise
from tests.factories import green_answers

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_the_card_json_names_the_rule_status_and_severity_in_the_readers_language(
    nurse: User, make_enrolled: Any
) -> None:
    nurse.language = "tr"
    nurse.save(update_fields=["language"])
    alert = red_alert_raise(make_enrolled())
    card = _client(nurse).get(f"/dashboard/alerts/{alert.pk}/card/", HTTP_ACCEPT="application/json").json()
    assert card["rule"]["title"] == "Sarılık"
    assert card["severity_label"] == "KIRMIZI" and card["severity"] == "red"
    assert card["status_label"] == "açık" and card["status"] == "open"


def test_the_rule_titles_of_a_page_of_alerts_are_read_in_one_query(make_enrolled: Any) -> None:
    alerts = [red_alert_raise(make_enrolled()) for _ in range(3)]
    with CaptureQueriesContext(connection) as queries:
        titles = alert_rule_titles(alerts=alerts, language="de")
    assert len(queries) == 1
    assert set(titles.values()) == {"Gelbsucht"}


def test_a_nurse_call_on_the_worklist_names_the_rule_in_the_readers_language(nurse: User, make_enrolled: Any) -> None:
    nurse.language = "tr"
    nurse.save(update_fields=["language"])
    patient = make_enrolled()
    checkin_submit(patient_id=patient.pk, answers=green_answers(temperature_c=38.2), channel="app")
    assert WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.NURSE_CALL).exists()
    html = _client(nurse).get("/plans/today/").content.decode()
    assert "Hastayı bugün arayın: Ateş" in html
    assert "Call the patient today" not in html


def test_the_metrics_rule_table_names_the_rules_in_the_readers_language(nurse: User, make_enrolled: Any) -> None:
    nurse.language = "tr"
    nurse.save(update_fields=["language"])
    red_alert_raise(make_enrolled())
    html = _client(nurse).get("/dashboard/metrics/").content.decode()
    assert "Sarılık" in html and "KIRMIZI" in html
    assert ">Jaundice<" not in html and " Jaundice</th>" not in html


def test_the_patients_time_shows_beside_the_clinics_only_where_the_clocks_differ() -> None:
    moment = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
    with translation.override("en"), timezone.override("Europe/Istanbul"):
        assert with_patient_time(moment, "Europe/Istanbul") == "07.12.2026 00:00"
        shown = with_patient_time(moment, "Asia/Baku")
        time_only = time_with_patient_time(moment, "Asia/Baku")
    assert time_only.startswith("00:00 ") and "01:00 (Asia/Baku)" in time_only
    assert shown.startswith("07.12.2026 00:00 ")
    assert "patient's time 01:00 (Asia/Baku)" in shown.replace("&#x27;", "'")


def test_the_script_texts_are_in_the_active_language() -> None:
    with translation.override("tr"):
        texts = dashboard_script_texts()
    assert texts["minutes_ago"] == "%(minutes)s dk önce açıldı"
    assert texts["severity"]["red"] == "KIRMIZI"
    with translation.override("en"):
        assert dashboard_script_texts()["title_red"] == "(%(count)s) RED — Vigil"


def test_a_no_response_item_stored_in_english_reads_in_the_readers_language(nurse: User, patient: Any) -> None:
    nurse.language = "de"
    nurse.save(update_fields=["language"])
    WorklistItem.objects.create(
        patient=patient,
        clinic_id=patient.clinic_id,
        kind=WorklistItem.Kind.NO_RESPONSE,
        detail=MISSED_RUN_TEXT % {"count": 3, "day": 18},
    )
    html = _client(nurse).get("/plans/today/").content.decode()
    assert "3 Abfragen in Folge verpasst (die letzte an Tag 18): Patient/in anrufen." in html
    assert "missed in a row" not in html


@pytest.mark.parametrize(
    ("table", "choices"),
    [
        ("SEVERITY", Alert.Severity),
        ("ALERT_STATUS", Alert.Status),
        ("OUTCOME", Alert.Outcome),
        ("CHANNEL", CheckIn.Source),
        ("SEVERITY", CheckIn.Level),
        ("PLAN_STATUS", ScheduledCheckIn.Status),
        ("PLAN_STATUS", Appointment.Status),
        ("KIND", Appointment.Kind),
        ("KIND", WorklistItem.Kind),
        ("MESSAGE_STATUS", MessageStatus),
    ],
)
def test_every_stored_code_has_a_label_for_staff(table: str, choices: Any) -> None:
    """A status added to a model later must get its words, or it shows as a code."""
    assert set(choices.values) <= set(getattr(labels, table)), set(choices.values) - set(getattr(labels, table))
