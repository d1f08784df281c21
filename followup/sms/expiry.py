"""The clock's side of SMS conversations: a window that closes mid-way.

A conversation lives as long as its check-in's window (``due_at`` plus
``window_minutes``). When that passes, the scheduled check-in is marked missed by the
timekeeping service - the same step beat runs every minute, which also puts the
silence on the nurses' worklist (H8) and raises the alert for three early misses -
and the conversation is closed as expired with the answers given so far kept on it
for the nurse who calls.

(Separate from ``followup.sms.conversations`` because the timekeeping service
imports that module to start conversations.)
"""

from __future__ import annotations

from django.utils import timezone

from followup.services.timekeeping import scheduled_checkins_miss
from followup.sms.conversations import conversation_expire
from notifications.models import SmsConversation


def conversations_expire_run() -> int:
    """Mark closed windows missed, then close their conversations; returns how many."""
    now = timezone.now()
    scheduled_checkins_miss(now=now)
    due = SmsConversation.objects.filter(state=SmsConversation.State.ACTIVE, expires_at__lte=now)
    return sum(conversation_expire(conversation_id=pk) for pk in due.values_list("pk", flat=True))
