"""Alerts API: evidence exposed, red first, acknowledge and resolve stop escalation,
staff of the clinic only (H1, H7, H12), metrics per rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.models import AuditRecord
from followup.models import Alert, EscalationStep, WorklistItem
from followup.services.checkins import checkin_submit
from notifications.models import Event
from tests.factories import green_answers

pytestmark = pytest.mark.django_db

URL = "/api/v1/alerts/"


@pytest.fixture
def red_alert(enrolled) -> Alert:
    result = checkin_submit(patient_id=enrolled.pk, answers=green_answers(jaundice=True), channel="app")
    return Alert.objects.get(pk=result.alert_ids[0])


@pytest.fixture
def amber_alert(enrolled) -> Alert:
    result = checkin_submit(patient_id=enrolled.pk, answers=green_answers(right_upper_pain=True), channel="app")
    return Alert.objects.get(pk=result.alert_ids[0])


def test_alert_detail_exposes_rule_and_evidence(red_alert, nurse_client):
    """H3: every alert names its rule, version and the values that fired it."""
    body = nurse_client.get(f"{URL}{red_alert.pk}/").json()
    assert body["rule"] == {"id": "jaundice", "version": "2026.2", "title": "Jaundice"}
    assert body["severity"] == "red" and body["status"] == "open"
    assert body["evidence"] == [{"field": "jaundice", "value": True, "condition": body["evidence"][0]["condition"]}]
    assert body["evidence"][0]["condition"]
    assert body["check_in"] == red_alert.check_in_id
    assert [o["check_in"] for o in body["occurrences"]] == [red_alert.check_in_id]
    assert body["occurrences"][0]["evidence"] == body["evidence"]
    for key in ("created_at", "escalation_level", "acknowledged_by", "acknowledged_at", "resolved_at", "outcome"):
        assert key in body
    assert body["escalation_level"] == 1 and body["outcome"] is None


def test_weight_evidence_names_the_baseline(enrolled, nurse_client):
    result = checkin_submit(patient_id=enrolled.pk, answers=green_answers(weight_kg=72.0), channel="app")
    body = nurse_client.get(f"{URL}{result.alert_ids[0]}/").json()
    assert body["rule"]["id"] == "weight_loss_severe"
    assert body["evidence"][0]["field"] == "weight_kg" and body["evidence"][0]["value"] == 72.0
    assert "80" in body["evidence"][0]["condition"]


def test_list_puts_red_first_then_the_oldest(enrolled, nurse_client):
    """H7: the red one is never lost among the ambers."""
    checkin_submit(patient_id=enrolled.pk, answers=green_answers(right_upper_pain=True), channel="app")
    checkin_submit(patient_id=enrolled.pk, answers=green_answers(swallowing_difficulty=True), channel="app")
    checkin_submit(patient_id=enrolled.pk, answers=green_answers(confusion=True), channel="app")
    rows = nurse_client.get(URL).json()["results"]
    assert [(row["severity"], row["rule"]["id"]) for row in rows] == [
        ("red", "confusion"),
        ("amber", "right_upper_pain"),
        ("amber", "swallowing"),
    ]


def test_list_filters_by_status_severity_and_patient(red_alert, amber_alert, nurse_client, nurse):
    from followup.services.alert_review import alert_resolve

    alert_resolve(alert=amber_alert, by=nurse, outcome="no_action")
    assert {row["id"] for row in nurse_client.get(URL).json()["results"]} == {red_alert.pk, amber_alert.pk}
    assert [row["id"] for row in nurse_client.get(f"{URL}?status=open").json()["results"]] == [red_alert.pk]
    assert [row["id"] for row in nurse_client.get(f"{URL}?status=resolved").json()["results"]] == [amber_alert.pk]
    assert [row["id"] for row in nurse_client.get(f"{URL}?severity=amber").json()["results"]] == [amber_alert.pk]
    assert nurse_client.get(f"{URL}?patient={red_alert.patient_id}").json()["count"] == 2
    assert nurse_client.get(f"{URL}?status=opened").status_code == 400
    assert list(nurse_client.get(f"{URL}?severity=green").json()) == ["severity"]


def test_other_clinic_gets_404_and_patient_gets_403(red_alert, other_nurse_client, patient_client):
    """H12."""
    for path in (f"{URL}{red_alert.pk}/",):
        assert other_nurse_client.get(path).status_code == 404
    assert other_nurse_client.post(f"{URL}{red_alert.pk}/acknowledge/").status_code == 404
    assert (
        other_nurse_client.post(f"{URL}{red_alert.pk}/resolve/", {"outcome": "advised"}, format="json").status_code
        == 404
    )
    assert other_nurse_client.get(URL).json()["count"] == 0
    assert patient_client.get(URL).status_code == 403
    assert patient_client.get(f"{URL}{red_alert.pk}/").status_code == 403
    assert patient_client.post(f"{URL}{red_alert.pk}/acknowledge/").status_code == 403
    assert (
        patient_client.post(f"{URL}{red_alert.pk}/resolve/", {"outcome": "advised"}, format="json").status_code == 403
    )
    red_alert.refresh_from_db()
    assert red_alert.status == "open"


def test_acknowledge_stops_escalation_and_is_idempotent(red_alert, nurse_client, nurse, surgeon, make_client):
    """H1: a named person owns it; the escalation deadline is cleared."""
    assert red_alert.next_escalation_at is not None
    first = nurse_client.post(f"{URL}{red_alert.pk}/acknowledge/")
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "acknowledged" and body["acknowledged_by"] == nurse.pk
    assert body["next_escalation_at"] is None
    again = nurse_client.post(f"{URL}{red_alert.pk}/acknowledge/")
    assert again.status_code == 200 and again.json() == body
    # Another clinician acknowledging after: unchanged, naming who owns it.
    by_other = make_client(surgeon).post(f"{URL}{red_alert.pk}/acknowledge/")
    assert by_other.status_code == 200
    assert by_other.json()["acknowledged_by"] == nurse.pk
    assert Event.objects.filter(type="alert.updated").count() == 1
    assert AuditRecord.objects.filter(object_type="alert", action="update", actor_user_id=nurse.pk).count() == 1


def test_acknowledged_alert_is_not_escalated_by_a_later_tick(red_alert, amber_alert, nurse):
    """H1: escalation stops at the acknowledgement; the unacknowledged one goes on."""
    from followup.services.alert_review import alert_acknowledge
    from followup.services.escalations import escalations_advance

    alert_acknowledge(alert=red_alert, by=nurse)
    steps = EscalationStep.objects.filter(alert=red_alert).count()
    result = escalations_advance(now=timezone.now() + timedelta(days=2))
    assert result.advanced == [amber_alert.pk]
    assert EscalationStep.objects.filter(alert=red_alert).count() == steps
    red_alert.refresh_from_db()
    assert red_alert.escalation_level == 1 and red_alert.status == "acknowledged"


def test_resolve_records_the_outcome_and_closes_nurse_calls(amber_alert, nurse_client, nurse):
    assert WorklistItem.objects.get(alert=amber_alert).status == "open"
    response = nurse_client.post(
        f"{URL}{amber_alert.pk}/resolve/",
        {"outcome": "recalled", "note": "Seen in clinic", "complication_grade": "IIIa"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "resolved" and body["outcome"] == "recalled"
    assert body["complication_grade"] == "IIIa" and body["note"] == "Seen in clinic"
    assert body["resolved_at"] and body["acknowledged_by"] == nurse.pk
    assert WorklistItem.objects.get(alert=amber_alert).status == "done"
    assert (
        nurse_client.post(f"{URL}{amber_alert.pk}/resolve/", {"outcome": "advised"}, format="json").status_code == 409
    )
    assert nurse_client.post(f"{URL}{amber_alert.pk}/acknowledge/").status_code == 409


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "outcome"),
        ({"outcome": "cured"}, "outcome"),
        ({"outcome": "Recalled"}, "outcome"),
        ({"outcome": "recalled", "complication_grade": "VI"}, "complication_grade"),
        ({"outcome": "recalled", "complication_grade": "ii"}, "complication_grade"),
    ],
)
def test_resolve_with_a_bad_field_is_400_and_changes_nothing(red_alert, nurse_client, body, named):
    response = nurse_client.post(f"{URL}{red_alert.pk}/resolve/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [named]
    red_alert.refresh_from_db()
    assert red_alert.status == "open" and red_alert.outcome == ""


def test_resolve_accepts_a_null_grade(red_alert, nurse_client):
    response = nurse_client.post(
        f"{URL}{red_alert.pk}/resolve/", {"outcome": "false_alarm", "complication_grade": None}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["complication_grade"] is None


def test_list_query_count_does_not_grow_with_alerts(
    enrolled, nurse_client, make_enrolled, django_assert_max_num_queries
):
    checkin_submit(patient_id=enrolled.pk, answers=green_answers(jaundice=True), channel="app")
    with django_assert_max_num_queries(10) as few:
        assert nurse_client.get(URL).json()["count"] == 1
    # Counted now: a later request resets the connection's query log.
    baseline = len(few)
    for _ in range(4):
        patient = make_enrolled()
        for _ in range(3):
            checkin_submit(
                patient_id=patient.pk, answers=green_answers(jaundice=True, right_upper_pain=True), channel="app"
            )
    with django_assert_max_num_queries(baseline):
        assert nurse_client.get(URL).json()["count"] == 9


def test_metrics_count_open_alerts_acknowledgement_times_and_ppv(enrolled, make_enrolled, nurse_client, nurse):
    """H7: per-rule outcome figures let the clinic tune thresholds."""
    from followup.services.alert_review import alert_acknowledge, alert_resolve

    patients = [enrolled] + [make_enrolled() for _ in range(3)]
    alerts = []
    for patient in patients:
        result = checkin_submit(patient_id=patient.pk, answers=green_answers(jaundice=True), channel="app")
        alerts.append(Alert.objects.get(pk=result.alert_ids[0]))
    checkin_submit(patient_id=enrolled.pk, answers=green_answers(right_upper_pain=True), channel="app")
    alert_resolve(alert=alerts[0], by=nurse, outcome="recalled")
    alert_resolve(alert=alerts[1], by=nurse, outcome="advised", complication_grade="II")
    alert_resolve(alert=alerts[2], by=nurse, outcome="false_alarm")
    alert_acknowledge(alert=alerts[3], by=nurse)
    response = nurse_client.get(f"{URL}metrics/")
    assert response.status_code == 200
    body = response.json()
    assert body["open"] == {"red": 0, "amber": 1}
    assert body["acknowledged"] == {"red": 1, "amber": 0}
    assert body["time_to_acknowledge_seconds"]["red"]["count"] == 4
    assert body["time_to_acknowledge_seconds"]["red"]["median"] is not None
    jaundice = next(row for row in body["rules"] if row["rule_id"] == "jaundice")
    assert jaundice["count"] == 4 and jaundice["resolved"] == 3
    assert jaundice["recalled"] == 1 and jaundice["false_alarm"] == 1 and jaundice["advised"] == 1
    assert jaundice["ppv"] == round(2 / 3, 3)
    amber = next(row for row in body["rules"] if row["rule_id"] == "right_upper_pain")
    assert amber["ppv"] is None
    assert body["rules"][0]["severity"] == "red"
    assert nurse_client.get(f"{URL}metrics/?since=tomorrow").status_code == 400
    assert nurse_client.get(f"{URL}metrics/?since=2020-01-01").json()["rules"]


def test_metrics_are_staff_only_and_per_clinic(red_alert, other_nurse_client, patient_client):
    assert patient_client.get(f"{URL}metrics/").status_code == 403
    assert other_nurse_client.get(f"{URL}metrics/").json()["rules"] == []
