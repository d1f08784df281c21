"""Races that matter clinically, run for real on separate database connections:
two red check-ins of one patient at once, and one retried request arriving twice
at once with the same Idempotency-Key."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from backend.services import patient_user_get_or_create
from followup.models import Alert, AlertOccurrence, Appointment, CheckIn
from followup.services.checkins import checkin_submit
from notifications.models import MessageKind, OutgoingMessage
from tests.conftest import token_client
from tests.factories import green_answers

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(work: Callable[[], Any], times: int = 2) -> list[Any]:
    """Start ``times`` threads on a barrier; each runs ``work`` on its own connection."""
    barrier = threading.Barrier(times)
    results: list[Any] = [None] * times

    def runner(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work()
        except Exception as error:  # reported to the test, not swallowed
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(index,)) for index in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_red_check_ins_at_once_open_one_alert_and_page_once(enrolled, on_call_surgeon):
    """H7: the patient row lock (and the partial unique constraint behind it) lets
    only one of two simultaneous check-ins open the alert."""
    results = run_together(
        lambda: checkin_submit(patient_id=enrolled.pk, answers=green_answers(jaundice=True), channel="app")
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    alert = Alert.objects.get()
    assert AlertOccurrence.objects.filter(alert=alert).count() == 2
    assert sorted(r.alerts_created for r in results) == [False, True]
    assert OutgoingMessage.objects.filter(kind=MessageKind.STAFF_PAGE).count() == 1
    assert Appointment.objects.filter(kind="recall").count() == 1


def test_the_same_request_twice_at_once_with_one_key_stores_one_check_in(enrolled):
    user = patient_user_get_or_create(enrolled)
    body = {"answers": green_answers(right_upper_pain=True)}

    def send() -> tuple[int, dict[str, Any]]:
        client = token_client(user)
        response = client.post("/api/v1/check-ins/", body, format="json", HTTP_IDEMPOTENCY_KEY="same-tap")
        return response.status_code, response.json()

    results = run_together(send)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert [status for status, _ in results] == [201, 201]
    assert results[0][1] == results[1][1]
    assert CheckIn.objects.count() == 1
    assert Alert.objects.get().occurrences.count() == 1
