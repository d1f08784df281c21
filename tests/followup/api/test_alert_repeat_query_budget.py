"""Issue 17 (H7, H18): the amber repeat path. A check-in that fires a rule whose alert is
still unresolved adds an occurrence to that alert and tells the dashboards with an
``alert.updated`` event carrying the whole alert, every occurrence included. Its
statement count is pinned here and does not grow with the alert's occurrences (the
event's SIZE does, by contract: it is the alert as ``GET /api/v1/alerts/{id}/`` returns
it)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.services import patient_user_get_or_create
from followup.models import Alert, AlertOccurrence
from followup.services.alert_review import alert_acknowledge
from followup.services.checkins import checkin_submit
from notifications.models import Event
from tests.conftest import token_client
from tests.factories import green_answers

# BEGIN, the enrollment with the patient locked and the next check-in due, the history
# and labs (one statement), the check-in; the rule's unresolved alert locked and its
# updated_at set (one UPDATE ... RETURNING), the new occurrence, the alert's
# occurrences and escalation steps (one statement, for the event), whether the nurse
# call is on the worklist already (alert_follow_through); then, written together at
# the end (backend.write_batch), the audit rows, the events; COMMIT. It was 13: a
# SELECT ... FOR UPDATE and a separate UPDATE of updated_at, occurrences and steps
# read in two statements.
AMBER_REPEAT_BUDGET = 11

RULE = "right_upper_pain"


def _amber_alert(patient, *, occurrences: int) -> Alert:
    """The patient's open amber alert for RULE, fired by ``occurrences`` check-ins."""
    for _ in range(occurrences):
        checkin_submit(patient_id=patient.pk, answers=green_answers(right_upper_pain=True), channel="app")
    alert = Alert.objects.get(patient=patient, rule_id=RULE)
    assert alert.status == Alert.Status.OPEN and alert.severity == "amber"
    assert alert.occurrences.count() == occurrences
    return alert


def _repeat_counting(patient) -> tuple[int, dict]:
    client = token_client(patient_user_get_or_create(patient))
    assert client.get("/api/v1/me/").status_code == 200  # the token is remembered
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/check-ins/", {"answers": green_answers(right_upper_pain=True)}, format="json")
    assert response.status_code == 201, response.content
    for query in queries.captured_queries:  # shown when the budget test fails
        print(query["sql"][:200])
    return len(queries.captured_queries), response.json()


@pytest.mark.parametrize("past", [1, 25])
def test_a_repeat_amber_finding_costs_the_same_statements_whatever_the_alert_history(make_enrolled, past):
    few_patient = make_enrolled(discharged_days_ago=5)
    many_patient = make_enrolled(discharged_days_ago=5)
    few_alert = _amber_alert(few_patient, occurrences=1)
    many_alert = _amber_alert(many_patient, occurrences=past)
    few, reply = _repeat_counting(few_patient)
    many, _ = _repeat_counting(many_patient)
    assert reply["triage"]["level"] == "amber"
    # Still one alert per rule: the repeat became an occurrence, not a second alert.
    assert list(Alert.objects.filter(patient=few_patient, rule_id=RULE)) == [few_alert]
    assert AlertOccurrence.objects.filter(alert=many_alert).count() == past + 1
    assert many == few, f"{many} statements with {past} occurrences against {few} with 1"
    assert few <= AMBER_REPEAT_BUDGET, f"an amber repeat ran {few} statements (budget {AMBER_REPEAT_BUDGET})"


@pytest.mark.parametrize("acknowledged", [False, True])
def test_the_repeat_event_is_the_alert_as_the_api_returns_it(make_enrolled, nurse, nurse_client, acknowledged):
    """The ``alert.updated`` event of a repeat carries every occurrence (the new one
    last) and the escalation steps, field for field what a GET returns after commit;
    an acknowledged alert takes the repeat as an open one does (H7)."""
    patient = make_enrolled(discharged_days_ago=5)
    alert = _amber_alert(patient, occurrences=3)
    if acknowledged:
        alert_acknowledge(alert=alert, by=nurse)
        alert.refresh_from_db()
    before = alert.updated_at
    _, reply = _repeat_counting(patient)
    event = Event.objects.filter(type="alert.updated", data__id=alert.pk).latest("seq")
    body = nurse_client.get(f"/api/v1/alerts/{alert.pk}/").json()
    assert event.data == body
    assert len(body["occurrences"]) == 4
    assert body["occurrences"][-1]["check_in"] == reply["id"]
    assert body["status"] == ("acknowledged" if acknowledged else "open")
    alert.refresh_from_db()
    assert alert.updated_at > before


def test_a_repeat_red_finding_event_carries_the_escalation_steps(make_enrolled, on_call_surgeon, nurse_client):
    """The occurrences and the escalation steps come back from one statement, each in
    its own order; the event still equals the GET (H1: the page's step is in it)."""
    patient = make_enrolled(discharged_days_ago=5)
    first = checkin_submit(patient_id=patient.pk, answers=green_answers(jaundice=True), channel="app")
    alert = Alert.objects.get(pk=first.alert_ids[0])
    assert alert.escalation_steps.count() >= 1
    again = checkin_submit(patient_id=patient.pk, answers=green_answers(jaundice=True), channel="app")
    assert again.alert_ids == [alert.pk] or alert.pk in again.alert_ids
    event = Event.objects.filter(type="alert.updated", data__id=alert.pk).latest("seq")
    body = nurse_client.get(f"/api/v1/alerts/{alert.pk}/").json()
    assert event.data == body
    assert body["escalation_steps"] and len(body["occurrences"]) == 2
