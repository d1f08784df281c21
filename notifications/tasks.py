"""Celery doorways of the outbox: each loads a row by id and delivers it."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from notifications.backends import get_sms_backend
from notifications.backends.base import SmsDeliveryError, SmsMessage
from notifications.models import MessageStatus, OutgoingMessage

logger = logging.getLogger(__name__)

MAX_TRANSIENT_ATTEMPTS = 6


@shared_task(acks_late=True, ignore_result=True)
def sms_send(message_id: int) -> None:
    now = timezone.now()
    # Claim the row with a conditional UPDATE: of two workers holding the same id, only
    # the one whose UPDATE changed a row sends it.
    claimed = OutgoingMessage.objects.filter(
        Q(send_after__isnull=True) | Q(send_after__lte=now),
        pk=message_id,
        status=MessageStatus.QUEUED,
    ).update(status=MessageStatus.SENDING, claimed_at=now)
    if not claimed:
        return
    message = OutgoingMessage.objects.get(pk=message_id)
    message.attempts += 1
    try:
        result = get_sms_backend().send(
            SmsMessage(to=message.to_phone, body=message.body, idempotency_key=message.idempotency_key)
        )
    except SmsDeliveryError as error:
        message.error_code = error.code
        message.error_message = error.message[:300]
        if error.permanent or message.attempts >= MAX_TRANSIENT_ATTEMPTS:
            message.status = MessageStatus.FAILED
            message.save(update_fields=["status", "attempts", "error_code", "error_message", "updated_at"])
            logger.warning("sms %s failed permanently (code %s)", message.pk, error.code)
            return
        delay = error.retry_after or min(300, 2**message.attempts)
        message.status = MessageStatus.QUEUED
        message.send_after = timezone.now() + timedelta(seconds=delay)
        message.save(update_fields=["status", "attempts", "error_code", "error_message", "send_after", "updated_at"])
        logger.info("sms %s transient failure (code %s), retry in %ss", message.pk, error.code, delay)
        sms_send.apply_async((message.pk,), countdown=delay)
        return
    message.status = MessageStatus.SENT
    message.twilio_sid = result.sid
    message.save(update_fields=["status", "attempts", "twilio_sid", "updated_at"])
