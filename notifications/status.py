"""Delivery status callbacks: Twilio telling us what became of a message.

Callbacks come more than once and out of order, so a status only moves forward:
queued < sending < sent < delivered, with undelivered and failed final beside
delivered. Each move is one conditional UPDATE ("only from a lower status"), so of two
callbacks racing, the later status wins and the side effects of reaching
``undelivered`` / ``failed`` (the patient on the worklist, a staff alert for a recall
or red advice: H11) happen once. A late ``sent`` never overwrites ``delivered``.

The StatusCallback URL carries the outbox id (``?m=<id>``): when the sending worker
died before storing the sid Twilio gave it, the first callback names the row, and the
row learns its sid instead of being sent again.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from notifications.hooks import message_undeliverable
from notifications.models import MessageStatus, OutgoingMessage
from notifications.twilio_errors import describe_twilio_error

logger = logging.getLogger(__name__)

RANK: dict[str, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
}
# Twilio's statuses in ours. Anything Twilio holds but has not handed to a carrier
# yet is "sent" for us: it left the outbox.
FROM_TWILIO: dict[str, MessageStatus] = {
    "accepted": MessageStatus.SENT,
    "scheduled": MessageStatus.SENT,
    "queued": MessageStatus.SENT,
    "sending": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
FINAL = (MessageStatus.UNDELIVERED, MessageStatus.FAILED)


def sms_status_record(
    *, message_sid: str, twilio_status: str, error_code: int | None = None, outbox_id: int | None = None
) -> OutgoingMessage | None:
    """Apply one status callback; returns the message, or None when it is not ours
    (or says nothing we track)."""
    new = FROM_TWILIO.get(twilio_status.lower())
    if new is None or not message_sid:
        return None
    message = OutgoingMessage.objects.filter(twilio_sid=message_sid).first()
    if message is None and outbox_id is not None:
        # The worker that sent it died before storing the sid: adopt it.
        OutgoingMessage.objects.filter(pk=outbox_id, twilio_sid="").update(twilio_sid=message_sid)
        message = OutgoingMessage.objects.filter(pk=outbox_id, twilio_sid=message_sid).first()
    if message is None:
        return None

    lower = [status for status, rank in RANK.items() if rank < RANK[new]]
    fields: dict[str, object] = {"status": new, "updated_at": timezone.now()}
    reason = ""
    if new in FINAL:
        reason = describe_twilio_error(error_code).message if error_code is not None else "Twilio reported " + new
        fields.update(error_code=error_code, error_message=reason[:300])
    with transaction.atomic():
        moved = OutgoingMessage.objects.filter(pk=message.pk, status__in=lower).update(**fields)
        if moved and new in FINAL:
            message.refresh_from_db()
            message_undeliverable(message=message, code=error_code, reason=reason)
    if moved:
        logger.info("sms %s status %s (code %s)", message.pk, new, error_code)
    return message
