"""Selectors of a patient's SMS history (the messages API reads through these)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from django.db.models import QuerySet

from backend.models import Patient
from notifications.models import MessageHistoryEntry

INBOUND_STATUS = "received"


class MessageRow(TypedDict):
    id: int
    direction: str
    body: str
    status: str
    twilio_sid: str
    created_at: datetime
    kind: str
    question_id: str
    error_message: str


def message_history_list(*, patient: Patient) -> QuerySet[MessageHistoryEntry]:
    """The patient's messages in and out, oldest first (two joins, no query per row)."""
    return MessageHistoryEntry.objects.filter(patient=patient).select_related("outgoing", "inbound").order_by("id")


def message_history_row(*, entry: MessageHistoryEntry) -> MessageRow:
    if entry.outgoing is not None:
        message = entry.outgoing
        return {
            "id": entry.pk,
            "direction": entry.direction,
            # Never the raw body: one-time codes are masked in the display copy.
            "body": message.display_body,
            "status": message.status,
            "twilio_sid": message.twilio_sid,
            "created_at": message.created_at,
            "kind": message.kind,
            "question_id": message.question_id,
            "error_message": message.error_message,
        }
    inbound = entry.inbound
    assert inbound is not None
    return {
        "id": entry.pk,
        "direction": entry.direction,
        "body": inbound.body,
        "status": INBOUND_STATUS,
        "twilio_sid": inbound.message_sid,
        "created_at": inbound.received_at,
        "kind": inbound.handled_as,
        "question_id": "",
        "error_message": "",
    }
