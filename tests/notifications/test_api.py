"""GET /api/v1/patients/{id}/messages/: a patient's SMS history for staff (H12)."""

from __future__ import annotations

from typing import Any

import pytest

from backend.models import AuditRecord
from followup.sms.conversations import conversation_start
from notifications.models import MessageHistoryEntry, MessageStatus
from notifications.services import enrollment_code_send

pytestmark = pytest.mark.django_db


def url(patient: Any) -> str:
    return f"/api/v1/patients/{patient.pk}/messages/"


def test_it_lists_messages_in_and_out_oldest_first_with_codes_masked(
    nurse_client: Any, nurse: Any, patient: Any, webhooks: Any
) -> None:
    code_message = enrollment_code_send(patient=patient, by=nurse)
    webhooks.sms(str(patient.phone), "my wound hurts")

    response = nurse_client.get(url(patient))

    assert response.status_code == 200
    results = response.json()["results"]
    assert [row["direction"] for row in results] == ["outbound", "inbound", "outbound"]
    assert [row["id"] for row in results] == sorted(row["id"] for row in results)
    code_row = results[0]
    assert set(code_row) >= {"id", "direction", "body", "status", "twilio_sid", "created_at"}
    assert "******" in code_row["body"]
    code = code_message.body.split("code is ")[1][:6]
    assert code not in response.content.decode()
    assert code_row["status"] == MessageStatus.QUEUED
    inbound_row = results[1]
    assert inbound_row["body"] == "my wound hurts"
    assert inbound_row["status"] == "received" and inbound_row["twilio_sid"].startswith("SM")
    assert results[2]["body"].startswith("Thank you, your message has been passed to the nurses.")


def test_since_id_returns_only_newer_messages(nurse_client: Any, patient: Any, webhooks: Any) -> None:
    webhooks.sms(str(patient.phone), "first")
    seen = nurse_client.get(url(patient)).json()["results"][-1]["id"]
    webhooks.sms(str(patient.phone), "second")

    results = nurse_client.get(url(patient), {"since_id": seen}).json()["results"]

    assert [row["body"] for row in results] == ["second"]
    assert nurse_client.get(url(patient), {"since_id": "soon"}).status_code == 400


def test_it_keeps_the_question_id_of_each_question_sent(
    nurse_client: Any, make_enrolled: Any, make_due_check_in: Any, clinic: Any
) -> None:
    """H6: staff can see which protocol question each SMS asked."""
    patient = make_enrolled(clinic=clinic)
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    [row] = nurse_client.get(url(patient)).json()["results"]
    assert row["question_id"] == "temperature_c"


def test_every_message_read_is_audited(nurse_client: Any, nurse: Any, patient: Any, webhooks: Any) -> None:
    webhooks.sms(str(patient.phone), "hello")
    nurse_client.get(url(patient))
    entries = set(MessageHistoryEntry.objects.filter(patient=patient).values_list("pk", flat=True))
    reads = AuditRecord.objects.filter(action="read", object_type="sms_message", actor_user_id=nurse.pk)
    assert {int(pk) for pk in reads.values_list("object_id", flat=True)} == entries
    assert set(reads.values_list("patient_id", flat=True)) == {patient.pk}


def test_another_clinics_patient_is_404(other_nurse_client: Any, patient: Any) -> None:
    assert other_nurse_client.get(url(patient)).status_code == 404


def test_a_patient_token_is_403_even_for_their_own_messages(patient_client: Any, patient: Any) -> None:
    assert patient_client.get(url(patient)).status_code == 403


def test_anonymous_is_401(anonymous_client: Any, patient: Any) -> None:
    assert anonymous_client.get(url(patient)).status_code == 401
