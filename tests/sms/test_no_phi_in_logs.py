"""H13: no PHI in logs. A canary patient goes through every SMS path - a conversation,
keywords, sends that succeed, fail, time out and are verified with Twilio, status
callbacks - with every logger at DEBUG; their name, number and words appear nowhere."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from followup.sms.conversations import conversation_start
from notifications.delivery import outbox_deliver, outbox_verify
from notifications.models import MessageStatus, OutgoingMessage

pytestmark = pytest.mark.django_db(transaction=True)

CANARY_NAME = "Zebulonia"
CANARY_PHONE = "+442079460777"
CANARY_WORDS = "canarywordsbleeding"


def deliver_queued() -> None:
    for message_id in OutgoingMessage.objects.filter(status=MessageStatus.QUEUED).values_list("pk", flat=True):
        outbox_deliver(message_id=message_id)


def test_a_canary_patient_leaves_no_trace_in_any_log(
    webhooks: Any, twilio_backend: Any, make_enrolled: Any, make_due_check_in: Any, caplog: Any, settings: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("twilio").setLevel(logging.DEBUG)
    settings.SMS_SENDING_STALE_SECONDS = 1
    patient = make_enrolled(given_name=CANARY_NAME, family_name=CANARY_NAME, phone=CANARY_PHONE)

    conversation_start(scheduled_check_in=make_due_check_in(patient))
    webhooks.sms(CANARY_PHONE, "37.2")
    webhooks.sms(CANARY_PHONE, f"{CANARY_WORDS} no idea")
    webhooks.sms(CANARY_PHONE, "HELP")
    deliver_queued()  # accepted by Twilio
    sent = OutgoingMessage.objects.filter(status=MessageStatus.SENT).first()
    webhooks.status(sid=sent.twilio_sid, status="undelivered", error_code=30003)

    webhooks.sms(CANARY_PHONE, f"I am {CANARY_NAME} and {CANARY_WORDS}")
    twilio_backend.fail_next(timeout=3)  # no answer in time: verified with a lookup by number
    deliver_queued()
    twilio_backend.wait_idle(timeout=5)
    time.sleep(1.1)
    for message in OutgoingMessage.objects.filter(status=MessageStatus.SENDING):
        outbox_verify(message_id=message.pk)

    twilio_backend.mark_invalid(CANARY_PHONE)  # Twilio's 21211 text quotes the number
    webhooks.sms(CANARY_PHONE, "START")
    deliver_queued()

    assert OutgoingMessage.objects.filter(status=MessageStatus.FAILED, error_code=21211).exists()
    assert caplog.records, "the test must have logged something to be worth anything"
    text = "\n".join(f"{record.getMessage()} {record.args!r} {record.exc_text or ''}" for record in caplog.records)
    for canary in (CANARY_NAME, CANARY_PHONE, CANARY_PHONE.lstrip("+"), "%2B442079460777", CANARY_WORDS, "37.2"):
        assert canary not in text, canary
