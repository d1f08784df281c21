"""The patient app's own door for check-ins, POST /app/api/check-ins/ (issue 18): the
answers a phone queued offline are judged as they stood when the patient gave them
(taken_at), while the public API keeps its contract (a patient's check-in is taken
when it arrives: tests/followup/api/test_checkins.py). H14: the time is the patient's,
checked by the server."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from followup.models import CheckIn
from tests.factories import green_answers

DOOR = "/app/api/check-ins/"


def _post(client: Client, body: dict, *, key: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value, "HTTP_IDEMPOTENCY_KEY": key or str(uuid.uuid4())}
    return client.post(DOOR, json.dumps(body), content_type="application/json", **headers)


def test_answers_queued_offline_keep_the_time_they_were_given(enrolled, app_client):
    client = app_client(enrolled, enforce_csrf=True)
    taken_at = timezone.now() - timedelta(hours=5)
    response = _post(client, {"answers": green_answers(), "taken_at": taken_at.isoformat()})
    assert response.status_code == 201, response.content
    assert CheckIn.objects.get().taken_at == taken_at
    assert CheckIn.objects.get().channel == CheckIn.Source.APP


def test_answers_older_than_three_days_are_refused_naming_taken_at(enrolled, app_client):
    client = app_client(enrolled, enforce_csrf=True)
    taken_at = timezone.now() - timedelta(days=3, minutes=1)
    response = _post(client, {"answers": green_answers(), "taken_at": taken_at.isoformat()})
    assert response.status_code == 400
    assert list(response.json()) == ["taken_at"]
    assert not CheckIn.objects.exists()


def test_a_future_time_is_refused(enrolled, app_client):
    client = app_client(enrolled, enforce_csrf=True)
    taken_at = timezone.now() + timedelta(hours=1)
    response = _post(client, {"answers": green_answers(), "taken_at": taken_at.isoformat()})
    assert response.status_code == 400 and list(response.json()) == ["taken_at"]
    assert not CheckIn.objects.exists()


def test_a_phone_clock_a_few_minutes_fast_reads_as_now(enrolled, app_client):
    """Refusing it would make the app drop the answers (a red one among them) for a
    clock setting: a time up to ten minutes ahead is taken as the time it arrived."""
    client = app_client(enrolled, enforce_csrf=True)
    before = timezone.now()
    response = _post(client, {"answers": green_answers(), "taken_at": (before + timedelta(minutes=4)).isoformat()})
    assert response.status_code == 201, response.content
    assert before <= CheckIn.objects.get().taken_at <= timezone.now()


def test_the_same_key_stores_one_check_in(enrolled, app_client):
    client = app_client(enrolled, enforce_csrf=True)
    body = {"answers": green_answers(), "taken_at": (timezone.now() - timedelta(minutes=30)).isoformat()}
    key = str(uuid.uuid4())
    first, again = _post(client, body, key=key), _post(client, body, key=key)
    assert first.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert CheckIn.objects.count() == 1


def test_without_the_csrf_token_nothing_is_stored(enrolled, app_client):
    client = app_client(enrolled, enforce_csrf=True)
    response = client.post(DOOR, json.dumps({"answers": green_answers()}), content_type="application/json")
    assert response.status_code == 403
    assert not CheckIn.objects.exists()


def test_a_token_or_a_staff_session_cannot_use_the_door(enrolled, patient_client, nurse_client):
    """Only the app's session is a credential here (H12)."""
    body = {"answers": green_answers()}
    assert patient_client.post(DOOR, body, format="json").status_code in (401, 403)
    assert nurse_client.post(DOOR, {**body, "patient": enrolled.pk}, format="json").status_code in (401, 403)
    assert not CheckIn.objects.exists()
