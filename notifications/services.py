"""The notifications service interface other apps call: put a message in the outbox.

Nothing here talks to Twilio: rows are written inside the caller's transaction and the
relay task delivers them after commit, so a rollback never sends and a crash after
commit never loses (the sweeper re-drives what the task did not finish)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction

from backend.models import Patient, User
from backend.services import enrollment_code_create
from notifications.models import MessageKind, OutgoingMessage
from notifications.tasks import sms_send


def sms_enqueue(
    *,
    clinic_id: int,
    to_phone: str,
    body: str,
    kind: MessageKind,
    idempotency_key: str,
    patient: Patient | None = None,
    staff_user: User | None = None,
    display_body: str | None = None,
    send_after: datetime | None = None,
) -> OutgoingMessage:
    message, created = OutgoingMessage.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults={
            "clinic_id": clinic_id,
            "to_phone": to_phone,
            "body": body,
            "display_body": display_body if display_body is not None else body,
            "kind": kind,
            "patient": patient,
            "staff_user": staff_user,
            "send_after": send_after,
        },
    )
    if created:
        message_id = message.pk
        transaction.on_commit(lambda: sms_send.delay(message_id))
    return message


def enrollment_code_send(*, patient: Patient, by: User) -> OutgoingMessage:
    """Text a patient a fresh one-time sign-in code (the app exchanges it for a token)."""
    with transaction.atomic():
        code = enrollment_code_create(patient=patient, by=by)
        body = f"Your {patient.clinic.name} sign-in code is {code}. It expires in 15 minutes."
        return sms_enqueue(
            clinic_id=patient.clinic_id,
            to_phone=str(patient.phone),
            body=body,
            display_body=body.replace(code, "******"),
            kind=MessageKind.ENROLLMENT_CODE,
            idempotency_key=f"enrollment-code:{uuid.uuid4().hex}",
            patient=patient,
        )
