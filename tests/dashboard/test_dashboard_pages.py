"""The dashboard's pages: the alert queue (H7), an alert, a patient, the metrics;
staff of the clinic only (H12), a fixed number of queries, patient text as text."""

from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from backend.models import AuditRecord, OnCallShift, Role
from backend.services import patient_user_get_or_create
from followup.models import Alert
from followup.services.alert_review import alert_acknowledge, alert_resolve
from followup.services.checkins import checkin_submit
from tests.dashboard.conftest import red_alert_raise
from tests.factories import LabResultFactory, PatientFactory, UserFactory, green_answers

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


_ACK_CODES = itertools.count()


def make_alert(patient, rule_id: str, severity: str = "red", **fields) -> Alert:  # type: ignore[no-untyped-def]
    return Alert.objects.create(
        patient=patient,
        clinic_id=patient.clinic_id,
        rule_id=rule_id,
        rule_version="1",
        rule_title=rule_id.replace("_", " ").capitalize(),
        severity=severity,
        evidence=[{"field": rule_id, "value": True, "condition": f"{rule_id} is true"}],
        # Unique among the clinic's unresolved alerts, as the database requires.
        ack_code=f"A{next(_ACK_CODES):03d}",
        **fields,
    )


def test_the_pages_need_a_signed_in_staff_member(client, enrolled):
    alert = make_alert(enrolled, "jaundice")
    paths = ["/dashboard/", "/dashboard/metrics/", f"/dashboard/alerts/{alert.pk}/"]
    paths.append(f"/dashboard/patients/{enrolled.pk}/")
    for path in paths:
        response = client.get(path)
        assert response.status_code == 302 and "login" in response["Location"]
    patient_user = patient_user_get_or_create(enrolled)
    assert signed_in(patient_user).get("/dashboard/").status_code == 403


def test_another_clinics_alert_and_patient_are_not_found(other_nurse, enrolled):
    """H12: a 404, never a hint that they exist."""
    alert = make_alert(enrolled, "jaundice")
    client = signed_in(other_nurse)
    assert client.get(f"/dashboard/alerts/{alert.pk}/").status_code == 404
    assert client.get(f"/dashboard/alerts/{alert.pk}/card/").status_code == 404
    assert client.get(f"/dashboard/patients/{enrolled.pk}/").status_code == 404
    assert client.post(f"/dashboard/alerts/{alert.pk}/acknowledge/").status_code == 404
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN


def test_the_queue_shows_red_before_amber_then_the_longest_waiting_first(nurse, make_enrolled):
    """H7: a red alert is never below an amber one."""
    now = timezone.now()
    first, second = make_enrolled(), make_enrolled()
    amber_old = make_alert(first, "fever", "amber")
    red_new = make_alert(first, "jaundice", "red")
    red_old = make_alert(second, "gi_bleeding", "red")
    acknowledged = make_alert(second, "confusion", "red", status=Alert.Status.ACKNOWLEDGED, acknowledged_by=nurse)
    Alert.objects.filter(pk=amber_old.pk).update(created_at=now - timedelta(hours=5))
    Alert.objects.filter(pk=red_old.pk).update(created_at=now - timedelta(hours=1))
    response = signed_in(nurse).get("/dashboard/")
    html = response.content.decode()
    order = [html.index(f'data-alert-id="{alert.pk}"') for alert in (red_old, red_new, amber_old, acknowledged)]
    assert order == sorted(order)
    assert first.family_name in html and first.mrn in html
    assert "Acknowledged by" in html


def test_patient_text_is_shown_as_text(nurse, make_enrolled):
    patient = make_enrolled(given_name="<img src=x onerror=alert(1)>", family_name="</script><b>")
    make_alert(patient, "jaundice")
    html = signed_in(nurse).get("/dashboard/").content.decode()
    assert "<img src=x" not in html and "</script><b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_first_load_with_500_open_alerts_runs_at_most_ten_queries(
    nurse, make_enrolled, care_team, django_assert_max_num_queries
):
    """No query per alert: the queue, the names, the roster and the feed position are
    read once each, and the view is audited in one row."""
    now = timezone.now()
    OnCallShift.objects.create(
        care_team=care_team, user=nurse, level=1, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3)
    )
    rules = [f"rule_{index}" for index in range(5)]
    alerts = []
    for index in range(104):
        patient = PatientFactory(clinic=nurse.clinic, care_team=care_team)
        for rule in rules:
            alerts.append(
                Alert(
                    patient=patient,
                    clinic=nurse.clinic,
                    rule_id=rule,
                    rule_version="1",
                    rule_title=rule,
                    severity="red" if index % 3 == 0 else "amber",
                    evidence=[{"field": "x", "value": index, "condition": "x > 1"}],
                    escalation_chain=[nurse.pk],
                    # 500 open, and 20 acknowledged ones besides (their acknowledger's name).
                    status=Alert.Status.ACKNOWLEDGED if index >= 100 else Alert.Status.OPEN,
                    acknowledged_by=nurse if index >= 100 else None,
                )
            )
    Alert.objects.bulk_create(alerts)
    client = signed_in(nurse)
    with django_assert_max_num_queries(10):
        response = client.get("/dashboard/")
    assert response.status_code == 200
    assert len(response.context["open_cards"]) == 500
    assert len(re.findall(r'data-alert-id="\d+"', response.content.decode())) == 520
    assert AuditRecord.objects.filter(actor_user_id=nurse.pk, object_type="alert_queue").count() == 1


def test_the_queue_warns_about_roster_gaps_and_exhausted_chains(nurse, enrolled, care_team, clinic):
    """H9: a gap in the roster and an alert past its chain are visible warnings."""
    alert = make_alert(enrolled, "jaundice", escalation_chain=[], escalation_level=1)
    html = signed_in(nurse).get("/dashboard/").content.decode()
    assert "On-call roster gaps in the next 7 days" in html
    assert care_team.name in html
    assert "fallback number is being paged" in html
    assert f'data-alert-id="{alert.pk}"' in html


def test_the_feed_starts_where_the_page_was_rendered(nurse, enrolled):
    from notifications.models import Event

    red_alert_raise(enrolled)
    html = signed_in(nurse).get("/dashboard/").content.decode()
    start = html.index('id="feed-config"')
    config = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    assert config["since"] == Event.objects.order_by("-seq").first().seq
    assert config["path"] == "/ws/alerts/"
    assert str(nurse.pk) in config["staff"]


def test_acknowledging_from_the_page_names_who_did_it(nurse, chain, enrolled):
    alert = red_alert_raise(enrolled)
    client = signed_in(nurse)
    response = client.post(f"/dashboard/alerts/{alert.pk}/acknowledge/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["card"]["status"] == "acknowledged"
    assert body["card"]["acknowledged_by_name"] == nurse.username
    assert body["alert"]["acknowledged_by"] == nurse.pk
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse and alert.next_escalation_at is None
    assert AuditRecord.objects.filter(actor_user_id=nurse.pk, object_type="alert", action="update").exists()


def test_acknowledging_without_javascript_redirects_back(nurse, enrolled):
    alert = make_alert(enrolled, "jaundice")
    response = signed_in(nurse).post(f"/dashboard/alerts/{alert.pk}/acknowledge/", {"next": "/dashboard/"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"


def test_a_post_without_the_csrf_token_is_refused(nurse, enrolled):
    alert = make_alert(enrolled, "jaundice")
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)
    assert client.post(f"/dashboard/alerts/{alert.pk}/acknowledge/").status_code == 403
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN


def test_resolving_needs_an_outcome(nurse, enrolled):
    alert = make_alert(enrolled, "jaundice")
    client = signed_in(nurse)
    resolve = f"/dashboard/alerts/{alert.pk}/resolve/"
    response = client.post(resolve, {"outcome": "maybe"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "outcome" in response.json()
    response = client.post(
        f"/dashboard/alerts/{alert.pk}/resolve/",
        {"outcome": "recalled", "complication_grade": "II", "note": "admitted"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200 and response.json()["card"]["status"] == "resolved"
    alert.refresh_from_db()
    assert (alert.outcome, alert.complication_grade, alert.resolved_by) == ("recalled", "II", nurse)
    again = client.post(resolve, {"outcome": "advised"}, HTTP_ACCEPT="application/json")
    assert again.status_code == 409


def test_the_alert_page_shows_the_escalation_steps(nurse, chain, enrolled):
    alert = red_alert_raise(enrolled)
    response = signed_in(nurse).get(f"/dashboard/alerts/{alert.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert chain[0].username in html and "paged" in html
    assert enrolled.family_name in html and enrolled.mrn in html
    assert AuditRecord.objects.filter(object_type="alert", object_id=str(alert.pk), action="read").exists()


def test_the_card_endpoint_gives_what_a_live_card_needs(nurse, enrolled):
    alert = make_alert(enrolled, "jaundice")
    card = signed_in(nurse).get(f"/dashboard/alerts/{alert.pk}/card/").json()
    assert card["patient"] == {
        "id": enrolled.pk,
        "name": f"{enrolled.given_name} {enrolled.family_name}",
        "mrn": enrolled.mrn,
        "url": f"/dashboard/patients/{enrolled.pk}/",
    }
    # An alert whose protocol version is not stored: the field's id, the value in words.
    assert card["evidence_lines"] == ["jaundice: yes (jaundice is true)"]


def test_the_patient_page_shows_the_timeline_and_the_series(nurse, chain, enrolled):
    checkin_submit(patient_id=enrolled.pk, answers=green_answers(temperature_c=38.9), channel="app")
    checkin_submit(patient_id=enrolled.pk, answers=green_answers(temperature_c=37.2, weight_kg=78.5), channel="sms")
    LabResultFactory(patient=enrolled, value=62.0)
    response = signed_in(nurse).get(f"/dashboard/patients/{enrolled.pk}/")
    assert response.status_code == 200
    series = {one["id"]: one for one in response.context["series"]}
    assert [point[1] for point in series["temperature_c"]["points"]] == [38.9, 37.2]
    assert [point[1] for point in series["weight_kg"]["points"]] == [79.0, 78.5]
    assert [point[1] for point in series["bilirubin_umol_l"]["points"]] == [62.0]
    kinds = [entry.kind for entry in response.context["timeline"]]
    assert kinds.count("check_in") == 2 and "alert" in kinds
    html = response.content.decode()
    assert "uPlot.iife.min.js" in html and "cdn" not in html.lower()


def test_the_metrics_page_shows_outcomes_per_rule_and_the_auditor(nurse, chain, enrolled):
    alert = red_alert_raise(enrolled)
    alert_acknowledge(alert=alert, by=chain[0])
    alert_resolve(alert=alert, by=chain[0], outcome="recalled", complication_grade="IIIa")
    response = signed_in(nurse).get("/dashboard/metrics/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Jaundice" in html or "jaundice" in html
    assert 'id="auditor-overdue"' in html
    rule = next(rule for rule in response.context["metrics"]["rules"] if rule["rule_id"] == "jaundice")
    assert (rule["recalled"], rule["ppv"]) == (1, 1.0)


def test_a_surgeon_of_the_clinic_sees_the_same_queue(clinic, enrolled):
    surgeon = UserFactory(clinic=clinic, role=Role.SURGEON)
    make_alert(enrolled, "jaundice")
    assert signed_in(surgeon).get("/dashboard/").status_code == 200
