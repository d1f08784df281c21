"""A nurse's reply to a patient, from the patient's message thread.

It goes by SMS through the outbox (there is no patient app yet, so no push), at once:
a nurse answering a patient's message is not a scheduled send, so quiet hours do not
hold it. It joins the patient's append-only thread (the outbox writes its history
row), is audited with its author, marks the patient's open ``patient_message``
worklist items handled (the reply is the answer they asked for), and tells the
clinic's dashboards (``message.created``: ids only, the page reads the body through
the audited messages API)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Patient, User
from followup.models import WorklistItem
from followup.services.claims import update_returning_ids
from followup.sms.outgoing import addressed
from notifications.events import event_publish
from notifications.models import MessageHistoryEntry, MessageKind
from notifications.services import sms_enqueue

# Four SMS segments of GSM text (160 each); in Cyrillic or Turkish letters (UCS-2,
# 70 a segment) ten. Long enough for a few sentences, short enough to be an SMS.
REPLY_MAX_LENGTH = 640
MESSAGE_CREATED = "message.created"


class ReplyRejected(Exception):
    """Bad input (400): ``errors`` names the field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


class ReplyConflict(Exception):
    """The patient cannot be texted (409): ``reason`` is a stable code, ``detail`` words."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class StaffReply:
    entry: MessageHistoryEntry
    items_handled: list[int]


def reply_body_clean(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ReplyRejected({"body": [gettext("Write the reply.")]})
    text = body.strip()
    if len(text) > REPLY_MAX_LENGTH:
        raise ReplyRejected(
            {"body": [gettext("A reply is at most %(limit)d characters.") % {"limit": REPLY_MAX_LENGTH}]}
        )
    return text


def staff_reply_send(*, patient: Patient, body: object, by: User, audit: AuditContext | None = None) -> StaffReply:
    """Text ``body`` to ``patient`` as the nurse ``by``; raises ReplyRejected (bad body)
    or ReplyConflict (STOP, no SMS consent), and then nothing is written."""
    text = reply_body_clean(body)
    with transaction.atomic():
        # Locked and read fresh: a STOP that arrived a moment ago wins (H11).
        locked = Patient.objects.select_for_update().select_related("clinic").get(pk=patient.pk)
        if locked.sms_opted_out_at is not None:
            raise ReplyConflict("opted_out", gettext("The patient has opted out of SMS (STOP): call them instead."))
        if not locked.sms_consent:
            raise ReplyConflict(
                "no_sms_consent", gettext("The clinic has no SMS consent from this patient: call them instead.")
            )
        message = sms_enqueue(
            clinic_id=locked.clinic_id,
            to_phone=str(locked.phone),
            # On a phone several patients share, the text says whose it is (H5).
            body=addressed(patient=locked, text=text),
            kind=MessageKind.REPLY,
            idempotency_key=f"staff-reply:{uuid.uuid4().hex}",
            patient=locked,
            opted_out=False,
        )
        entry = MessageHistoryEntry.objects.get(outgoing=message)
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            object_type="sms_message",
            objects=[(entry.pk, locked.pk)],
            clinic_id=locked.clinic_id,
            audit=audit,
        )
        handled = _message_items_handle(patient=locked, by=by, audit=audit)
        event_publish(
            clinic_id=locked.clinic_id,
            type=MESSAGE_CREATED,
            data={"id": entry.pk, "patient": locked.pk, "direction": entry.direction},
        )
    return StaffReply(entry=entry, items_handled=handled)


def _message_items_handle(*, patient: Patient, by: User, audit: AuditContext | None) -> list[int]:
    """Close the patient's open message items: the reply answers them. A conditional
    update, so an item a colleague closed a moment ago keeps their name."""
    open_items = WorklistItem.objects.filter(
        patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE, status=WorklistItem.Status.OPEN
    )
    ids = list(open_items.values_list("pk", flat=True))
    if not ids:
        return []
    ids = update_returning_ids(
        WorklistItem.objects.filter(pk__in=ids, status=WorklistItem.Status.OPEN),
        {"status": WorklistItem.Status.DONE, "done_by": by.pk, "done_at": timezone.now()},
    )
    audit_record(
        actor=by,
        action=AuditAction.UPDATE,
        object_type="worklist_item",
        objects=[(pk, patient.pk) for pk in ids],
        clinic_id=patient.clinic_id,
        audit=audit,
    )
    return ids
