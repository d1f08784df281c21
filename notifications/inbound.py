"""Inbound SMS, delivery's side: claim each message once, then hand it to the router.

``inbound_receive`` is the one service the webhook calls. The ``MessageSid`` is
claimed first (a unique row, committed on its own), so a message Twilio delivers
twice is handled once; the routing then runs in one transaction with the claim row
locked and marked processed at the end, so a retry after a crash re-runs it and a
concurrent duplicate waits and finds it done.

What a message means (a check-in answer, STOP, an on-call ACK, free text) is
follow-up logic: the router is named in settings (``VIGIL_SMS_INBOUND_ROUTER``), so
delivery imports nothing from the follow-up app.
"""

from __future__ import annotations

import logging

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.models import STAFF_ROLES, Patient, User
from notifications.hooks import inbound_route
from notifications.models import InboundMessage

logger = logging.getLogger(__name__)


def phone_e164(value: str) -> str | None:
    """The number in E.164, or None for what is not a phone number (a short code)."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _known(sender: str | None) -> bool:
    if sender is None:
        return False
    return (
        Patient.objects.filter(phone=sender).exists()
        or User.objects.filter(phone=sender, is_active=True, role__in=STAFF_ROLES, clinic__isnull=False).exists()
    )


def inbound_receive(*, message_sid: str, from_phone: str, to_phone: str, body: str) -> InboundMessage:
    """Claim ``message_sid`` and handle the message once; a repeat does nothing."""
    sender = phone_e164(from_phone)
    known = _known(sender)
    try:
        # The claim: a unique row, committed before any work. For a number that
        # matches nobody only the claim is kept: no number, no body.
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                message_sid=message_sid,
                to_phone=to_phone[:20],
                from_phone=sender if known and sender else "",
                body=body if known else "",
            )
    except IntegrityError:
        inbound = InboundMessage.objects.get(message_sid=message_sid)  # a repeat
    if inbound.processed_at is None:
        inbound_process(inbound_id=inbound.pk, sender=sender, body=body)
    return inbound


def inbound_process(*, inbound_id: int, sender: str | None, body: str) -> None:
    with transaction.atomic():
        inbound = InboundMessage.objects.select_for_update().get(pk=inbound_id)
        if inbound.processed_at is not None:
            return
        inbound.handled_as = inbound_route(inbound=inbound, sender=sender, body=body)
        inbound.processed_at = timezone.now()
        inbound.save(update_fields=["handled_as", "processed_at", "patient", "clinic", "staff_user", "conversation"])
    logger.info("inbound sms %s handled as %s", inbound.pk, inbound.handled_as)
