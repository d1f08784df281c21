"""Issues 9 and 17 (H18): the check-in POST is the hot path, bound by database round trips. Its query
count must not grow with the patient's history, and must not creep up unnoticed: the
budgets below are today's counts (inside a test transaction, where BEGIN and COMMIT
show as SAVEPOINT and RELEASE). Raising one is a decision to write down, not a fix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.services import patient_user_get_or_create
from followup.models import CheckIn, Enrollment, Observation
from tests.conftest import token_client
from tests.factories import LabResultFactory, green_answers, red_answers

# Issue 17: BEGIN, the enrollment with the patient locked and the next check-in due
# (green advice), the history and labs the rules can look at (one statement), the
# check-in, its audit row, its event, COMMIT. Authentication is answered from the cache
# (backend.token_auth), the patient's id with it.
GREEN_BUDGET = 7
# A red one (one finding): BEGIN, enrollment, history, the check-in; the rule's
# unresolved alert (locked), the on-call chain with its people, the new alert in its
# savepoint (3), its occurrence, the page's escalation step; the recall's facts (one
# open already? an SMS check-in running? a shared phone?), the recall; then, written
# together at the end (backend.write_batch), the audit rows, the events, the outbox rows
# (page, recall SMS, red advice) in their savepoint (3) and their history entries;
# COMMIT.
RED_BUDGET = 20


def _history(patient, *, check_ins: int, labs: int) -> None:
    enrollment = Enrollment.objects.get(patient=patient)
    now = timezone.now()
    CheckIn.objects.bulk_create(
        CheckIn(
            patient=patient,
            enrollment=enrollment,
            protocol_version=enrollment.protocol_version,
            answers=green_answers(),
            taken_at=now - timedelta(hours=1 + index),
            channel=CheckIn.Source.APP,
            level="green",
        )
        for index in range(check_ins)
    )
    Observation.objects.bulk_create(
        LabResultFactory.build(patient=patient, value=12.0, observed_at=now - timedelta(hours=2 + index))
        for index in range(labs)
    )


def _post_counting(patient, body: dict) -> tuple[int, dict]:
    client = token_client(patient_user_get_or_create(patient))
    # The patient's app has been signed in for a while: the token is remembered (the
    # budget is the steady state; a first request after sign-in adds knox's reads).
    assert client.get("/api/v1/me/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/check-ins/", body, format="json")
    assert response.status_code == 201, response.content
    return len(queries.captured_queries), response.json()


@pytest.mark.parametrize("past", [1, 30])
def test_a_green_check_in_costs_the_same_queries_whatever_the_history(make_enrolled, past):
    short = make_enrolled(discharged_days_ago=5)
    long = make_enrolled(discharged_days_ago=5)
    _history(short, check_ins=1, labs=1)
    _history(long, check_ins=past, labs=past)
    few, reply = _post_counting(short, {"answers": green_answers()})
    many, _ = _post_counting(long, {"answers": green_answers()})
    assert reply["triage"]["level"] == "green"
    assert many == few
    assert few <= GREEN_BUDGET, f"a green check-in ran {few} queries (budget {GREEN_BUDGET})"


def test_a_red_check_in_with_page_recall_and_advice_stays_within_its_budget(make_enrolled, on_call_surgeon):
    patient = make_enrolled(discharged_days_ago=5)
    _history(patient, check_ins=30, labs=12)
    count, reply = _post_counting(patient, {"answers": red_answers()})
    assert reply["triage"]["level"] == "red" and reply["triage"]["alerts"]
    assert count <= RED_BUDGET, f"a red check-in ran {count} queries (budget {RED_BUDGET})"
