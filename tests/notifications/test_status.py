"""Delivery status callbacks: signed, forward only, idempotent; undelivered recalls and
red advice reach staff (H11)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from followup.models import Alert, Appointment, WorklistItem
from followup.sms.recalls import recall_sms_send
from notifications.delivery import outbox_deliver
from notifications.models import MessageKind, MessageStatus, OutgoingMessage
from notifications.services import sms_enqueue
from tests.factories import PUBLIC_BASE_URL, STATUS_PATH, PatientFactory

pytestmark = pytest.mark.django_db


def sent_message(**fields: Any) -> OutgoingMessage:
    patient = fields.pop("patient", None) or PatientFactory()
    message = sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body="Eyes or skin yellow?",
        kind=fields.pop("kind", MessageKind.CHECK_IN),
        idempotency_key=f"status-{patient.pk}",
        patient=patient,
        **fields,
    )
    OutgoingMessage.objects.filter(pk=message.pk).update(status=MessageStatus.SENT, twilio_sid=f"SM{message.pk:032d}")
    message.refresh_from_db()
    return message


def status_of(message: OutgoingMessage) -> str:
    message.refresh_from_db()
    return message.status


def test_a_signed_callback_moves_the_status_forward(webhooks: Any) -> None:
    message = sent_message()
    response = webhooks.status(sid=message.twilio_sid, status="delivered", outbox_id=message.pk)
    assert response.status_code == 200
    assert status_of(message) == MessageStatus.DELIVERED


def test_a_late_sent_never_overwrites_delivered(webhooks: Any) -> None:
    message = sent_message()
    webhooks.status(sid=message.twilio_sid, status="delivered")
    webhooks.status(sid=message.twilio_sid, status="sent")
    webhooks.status(sid=message.twilio_sid, status="queued")
    assert status_of(message) == MessageStatus.DELIVERED


def test_undelivered_is_final(webhooks: Any) -> None:
    message = sent_message()
    webhooks.status(sid=message.twilio_sid, status="undelivered", error_code=30003)
    webhooks.status(sid=message.twilio_sid, status="delivered")
    message.refresh_from_db()
    assert message.status == MessageStatus.UNDELIVERED
    assert message.error_code == 30003 and "unreachable" in message.error_message


def test_an_unsigned_or_wrongly_signed_callback_is_403(webhooks: Any, settings: Any) -> None:
    message = sent_message()
    params = {"MessageSid": message.twilio_sid, "MessageStatus": "delivered"}
    assert webhooks.post(STATUS_PATH, params, signature="").status_code == 403
    assert webhooks.post(STATUS_PATH, params, signature="bm9wZQ==").status_code == 403
    settings.TWILIO_AUTH_TOKEN = ""
    assert webhooks.post(STATUS_PATH, params).status_code == 403
    assert status_of(message) == MessageStatus.SENT


def test_the_outbox_id_in_the_url_is_signed_too(webhooks: Any) -> None:
    message = sent_message()
    params = {"MessageSid": message.twilio_sid, "MessageStatus": "delivered"}
    signed_for_other_row = webhooks.fake.sign(f"{PUBLIC_BASE_URL}{STATUS_PATH}?m={message.pk + 1}", params)
    response = webhooks.post(STATUS_PATH, params, signature=signed_for_other_row, query=f"m={message.pk}")
    assert response.status_code == 403


def test_an_unknown_message_sid_is_answered_200_and_ignored(webhooks: Any) -> None:
    response = webhooks.status(sid="SM" + "f" * 32, status="delivered")
    assert response.status_code == 200
    assert not OutgoingMessage.objects.exists()


def test_a_row_whose_worker_died_before_storing_the_sid_adopts_it_from_the_callback(webhooks: Any) -> None:
    message = sent_message()
    OutgoingMessage.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING, twilio_sid="")
    webhooks.status(sid="SM" + "e" * 32, status="sent", outbox_id=message.pk)
    message.refresh_from_db()
    assert (message.status, message.twilio_sid) == (MessageStatus.SENT, "SM" + "e" * 32)


def test_an_undelivered_recall_raises_one_staff_alert_however_often_twilio_says_so(webhooks: Any) -> None:
    """H11: the patient did not get their recall: staff must phone them."""
    patient = PatientFactory()
    appointment = Appointment.objects.create(
        patient=patient, kind=Appointment.Kind.RECALL, starts_at=timezone.now() + timedelta(hours=5)
    )
    message = recall_sms_send(appointment=appointment)
    OutgoingMessage.objects.filter(pk=message.pk).update(status=MessageStatus.SENT, twilio_sid="SM" + "d" * 32)

    for _ in range(3):
        webhooks.status(sid="SM" + "d" * 32, status="undelivered", error_code=30005)

    alert = Alert.objects.get(patient=patient)
    assert (alert.rule_id, alert.severity) == ("sms_unreachable", "amber")
    assert alert.occurrences.count() == 1
    assert WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.UNREACHABLE).count() == 1


def test_undelivered_red_advice_raises_a_staff_alert(webhooks: Any) -> None:
    message = sent_message(kind=MessageKind.ADVICE, reach_alert=True)
    webhooks.status(sid=message.twilio_sid, status="failed", error_code=30006)
    assert Alert.objects.filter(patient=message.patient, rule_id="sms_unreachable").exists()


def test_an_undelivered_question_puts_the_patient_on_the_worklist_only(webhooks: Any) -> None:
    message = sent_message()
    webhooks.status(sid=message.twilio_sid, status="undelivered", error_code=30003)
    assert WorklistItem.objects.filter(patient=message.patient, kind=WorklistItem.Kind.UNREACHABLE).exists()
    assert not Alert.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_twilio_calls_back_over_http_to_the_status_callback_it_was_given(
    twilio_backend: Any, live_server: Any, settings: Any
) -> None:
    """End to end: the message goes to (fake) Twilio with our StatusCallback URL; Twilio
    posts signed callbacks to it, out of order and twice."""
    settings.PUBLIC_BASE_URL = live_server.url
    patient = PatientFactory()
    message = sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body="Eyes or skin yellow?",
        kind=MessageKind.CHECK_IN,
        idempotency_key="over-http",
        patient=patient,
    )
    outbox_deliver(message_id=message.pk)
    message.refresh_from_db()

    assert twilio_backend.send_status_callback(message.twilio_sid, "delivered") == 200
    assert twilio_backend.send_status_callback(message.twilio_sid, "sent") == 200
    assert twilio_backend.send_status_callback(message.twilio_sid, "delivered") == 200
    assert status_of(message) == MessageStatus.DELIVERED
