"""A patient's message written in the app, and the thread the app shows them.

A message from the app joins the patient's append-only thread exactly as an inbound
SMS outside any conversation would (an ``InboundMessage`` handled as free text, with
its ``MessageHistoryEntry``), and puts the patient before the nurses: the open
``patient_message`` worklist item is bumped, never rewritten, or a new one opens
(H17). Unlike an SMS, no "we received it" text goes back: the app shows it sent. The
clinic's dashboards hear ``message.created`` (ids only), as for a staff reply.

The patient reads their own messages and the staff's replies; the rest of the SMS
traffic (check-in questions, codes, reminders) is not conversation and stays out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Patient
from followup.models import WorklistItem
from followup.services.staff_replies import MESSAGE_CREATED
from notifications.events import event_publish
from notifications.models import InboundMessage, MessageHistoryEntry

MESSAGE_MAX_LENGTH = 1000
STAFF_REPLY_KEY = "staff-reply:"
# Stored in English like the SMS free text's item (staff pages translate it).
APP_MESSAGE_DETAIL = gettext_noop("Message from the patient in the app: %(body)s")


class MessageRejected(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class ThreadMessage:
    id: int
    mine: bool
    body: str
    at: datetime


def patient_thread_entries(*, patient: Patient) -> QuerySet[MessageHistoryEntry]:
    """The patient's own free-text messages (app or SMS) and the staff's replies."""
    return (
        MessageHistoryEntry.objects.filter(patient=patient)
        .filter(
            Q(inbound__handled_as=InboundMessage.HandledAs.FREE_TEXT)
            | Q(outgoing__idempotency_key__startswith=STAFF_REPLY_KEY)
        )
        .select_related("inbound", "outgoing")
        .order_by("id")
    )


def patient_thread_list(*, patient: Patient, limit: int = 100) -> list[ThreadMessage]:
    rows = list(patient_thread_entries(patient=patient).order_by("-id")[:limit])
    rows.reverse()
    messages = []
    for entry in rows:
        if entry.inbound is not None:
            messages.append(ThreadMessage(entry.pk, True, entry.inbound.body, entry.inbound.received_at))
        elif entry.outgoing is not None:
            messages.append(ThreadMessage(entry.pk, False, entry.outgoing.display_body, entry.outgoing.created_at))
    return messages


def patient_replies_unread(*, patient: Patient, seen_id: int) -> int:
    """Staff replies after the last one the patient saw (``seen_id``, a thread id)."""
    return (
        MessageHistoryEntry.objects.filter(
            patient=patient, pk__gt=seen_id, outgoing__idempotency_key__startswith=STAFF_REPLY_KEY
        )
        .only("pk")
        .count()
    )


def patient_message_send(*, patient: Patient, body: object, audit: AuditContext | None = None) -> MessageHistoryEntry:
    """Store the patient's message in their thread and put it before the nurses;
    raises ``MessageRejected`` (nothing stored) on an empty or too long text."""
    if not isinstance(body, str) or not body.strip():
        raise MessageRejected({"body": [gettext("Write your message.")]})
    text = body.strip()
    if len(text) > MESSAGE_MAX_LENGTH:
        raise MessageRejected(
            {"body": [gettext("A message is at most %(limit)d characters.") % {"limit": MESSAGE_MAX_LENGTH}]}
        )
    now = timezone.now()
    with transaction.atomic():
        inbound = InboundMessage.objects.create(
            message_sid=f"app:{uuid.uuid4().hex}",
            from_phone=str(patient.phone),
            body=text,
            clinic_id=patient.clinic_id,
            patient=patient,
            handled_as=InboundMessage.HandledAs.FREE_TEXT,
            processed_at=now,
        )
        entry = MessageHistoryEntry.objects.create(
            patient=patient, inbound=inbound, direction=MessageHistoryEntry.Direction.INBOUND
        )
        actor = patient.user if patient.user_id else None
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            object_type="sms_message",
            objects=[(entry.pk, patient.pk)],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
        _worklist_item_open_or_bump(patient=patient, text=text, now=now, audit=audit)
        event_publish(
            clinic_id=patient.clinic_id,
            type=MESSAGE_CREATED,
            data={"id": entry.pk, "patient": patient.pk, "direction": entry.direction},
        )
    return entry


def _worklist_item_open_or_bump(*, patient: Patient, text: str, now: datetime, audit: AuditContext | None) -> None:
    """The nurses' open message item is bumped (never rewritten, H17), or one opens."""
    item = (
        WorklistItem.objects.select_for_update()
        .filter(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE, status=WorklistItem.Status.OPEN)
        .order_by("-id")
        .first()
    )
    if item is None:
        item = WorklistItem.objects.create(
            patient=patient,
            clinic_id=patient.clinic_id,
            kind=WorklistItem.Kind.PATIENT_MESSAGE,
            severity="amber",
            detail=(APP_MESSAGE_DETAIL % {"body": text})[:1000],
        )
        action = AuditAction.CREATE
    else:
        item.bumped_at = now
        item.save(update_fields=["bumped_at"])
        action = AuditAction.UPDATE
    audit_record(
        actor=patient.user if patient.user_id else None,
        action=action,
        object_type="worklist_item",
        objects=[(item.pk, patient.pk)],
        clinic_id=patient.clinic_id,
        audit=audit,
    )
