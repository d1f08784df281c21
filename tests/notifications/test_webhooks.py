"""The inbound SMS webhook: it fails closed, answers empty TwiML, and a repeated
MessageSid is processed once."""

from __future__ import annotations

from typing import Any

import pytest

from followup.sms.conversations import conversation_start
from notifications.models import InboundMessage, OutgoingMessage, SmsConversation
from notifications.webhooks import EMPTY_TWIML
from tests.factories import PUBLIC_BASE_URL, SMS_PATH, last_outbound

pytestmark = pytest.mark.django_db


def test_it_answers_a_signed_message_with_empty_twiml(webhooks: Any, make_enrolled: Any) -> None:
    patient = make_enrolled()
    response = webhooks.sms(str(patient.phone), "hello")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode() == EMPTY_TWIML == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def test_an_unsigned_request_is_403_and_changes_nothing(webhooks: Any, make_enrolled: Any) -> None:
    patient = make_enrolled()
    params = webhooks.fake.inbound_sms_params(str(patient.phone), "STOP")
    response = webhooks.post(SMS_PATH, params, signature="")
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is None
    assert not InboundMessage.objects.exists()


def test_a_wrongly_signed_request_is_403(webhooks: Any, make_enrolled: Any) -> None:
    patient = make_enrolled()
    params = webhooks.fake.inbound_sms_params(str(patient.phone), "STOP")
    forged = webhooks.fake.sign(PUBLIC_BASE_URL + SMS_PATH, {**params, "Body": "START"})
    assert webhooks.post(SMS_PATH, params, signature=forged).status_code == 403
    wrong_token = webhooks.fake.sign(PUBLIC_BASE_URL + SMS_PATH, params)[::-1]
    assert webhooks.post(SMS_PATH, params, signature=wrong_token).status_code == 403
    assert not InboundMessage.objects.exists()


def test_a_signature_over_another_url_is_403(webhooks: Any, make_enrolled: Any) -> None:
    """The signature covers the public URL Twilio called; one made for the internal
    address (what this process sees behind a TLS proxy) does not pass."""
    patient = make_enrolled()
    params = webhooks.fake.inbound_sms_params(str(patient.phone), "hello")
    internal = webhooks.fake.sign("http://testserver" + SMS_PATH, params)
    assert webhooks.post(SMS_PATH, params, signature=internal).status_code == 403


def test_without_an_auth_token_configured_every_request_is_403(
    webhooks: Any, make_enrolled: Any, settings: Any
) -> None:
    settings.TWILIO_AUTH_TOKEN = ""
    patient = make_enrolled()
    params = webhooks.fake.inbound_sms_params(str(patient.phone), "hello")
    assert webhooks.post(SMS_PATH, params).status_code == 403
    assert not InboundMessage.objects.exists()


def test_get_is_not_allowed(client: Any) -> None:
    assert client.get(SMS_PATH).status_code == 405


def test_the_same_message_sid_twice_is_handled_once(webhooks: Any, make_enrolled: Any, make_due_check_in: Any) -> None:
    """Twilio retries a webhook it got no answer to: the conversation step must not run
    twice (the second delivery would otherwise answer the next question)."""
    patient = make_enrolled()
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    webhooks.sms(str(patient.phone), "37.4", message_sid="SM" + "a" * 32)
    after_first = OutgoingMessage.objects.count()
    second = webhooks.sms(str(patient.phone), "37.4", message_sid="SM" + "a" * 32)

    assert second.content.decode() == EMPTY_TWIML
    assert InboundMessage.objects.count() == 1
    assert OutgoingMessage.objects.count() == after_first
    conversation = SmsConversation.objects.get(patient=patient)
    assert conversation.answers == {"temperature_c": 37.4}
    assert conversation.current_question == "chills"
    assert last_outbound(patient).question_id == "chills"


def test_the_body_is_stored_for_the_history_but_never_logged(webhooks: Any, make_enrolled: Any, caplog: Any) -> None:
    """H13: the message body and the number go to the database, not to the logs."""
    patient = make_enrolled(given_name="Canarygiven")
    caplog.set_level("DEBUG")
    webhooks.sms(str(patient.phone), "my wound canarybody is leaking")
    inbound = InboundMessage.objects.get()
    assert inbound.body == "my wound canarybody is leaking"
    text = caplog.text
    assert "canarybody" not in text
    assert str(patient.phone) not in text
    assert "Canarygiven" not in text
