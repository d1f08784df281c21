"""The notifications service interface other apps call: put a message in the outbox.

Nothing here talks to Twilio: rows are written inside the caller's transaction and the
relay task delivers them after commit, so a rollback never sends and a crash after
commit never loses (the sweeper re-drives what the task did not finish).

The task is named, not imported: the delivery side calls back into `followup` (an
undeliverable recall raises an alert), and `followup` calls this module, so importing
the task here would close an import cycle.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from backend.models import Patient, User
from backend.patient_texts import patient_text
from backend.services import enrollment_code_create
from backend.write_batch import insert_rows, write_batch_open
from config.celery import app as celery_app
from notifications.identities import sender_expressions
from notifications.models import MessageHistoryEntry, MessageKind, MessageStatus, OutgoingMessage

SMS_SEND_TASK = "notifications.tasks.sms_send"
SMS_VERIFY_TASK = "notifications.tasks.sms_verify"
OPTED_OUT_REASON = "Not sent: the patient opted out of SMS (STOP)"


# Countdowns past this are left to the sweeper: Redis redelivers an unacknowledged task
# after its visibility timeout, so long ETAs are unreliable there, and the database
# already says when the row is due (`send_after`).
MAX_COUNTDOWN_SECONDS = 300.0


def outbox_task_schedule(*, message_id: int, countdown: float | None = None, verify: bool = False) -> None:
    """Ask a worker to send (or to verify) one outbox row. Carries the id only."""
    if countdown is not None and countdown > MAX_COUNTDOWN_SECONDS:
        return  # outbox_sweep sends it when it is due
    celery_app.send_task(SMS_VERIFY_TASK if verify else SMS_SEND_TASK, args=[message_id], countdown=countdown)


def patient_opted_out(*, patient_id: int) -> bool:
    """Read fresh from the database: a STOP may have arrived a moment ago (H11)."""
    return Patient.objects.filter(pk=patient_id, sms_opted_out_at__isnull=False).exists()


ENROLLMENT_CODE = gettext_noop("Your %(clinic)s sign-in code is %(code)s. It expires in 15 minutes.")


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
    question_id: str = "",
    conversation_id: int | None = None,
    appointment_id: int | None = None,
    reach_alert: bool = False,
    opt_out_exempt: bool = False,
    opted_out: bool | None = None,
    sent_from: str = "",
) -> OutgoingMessage:
    """Write one outgoing SMS to the outbox; a worker sends it after commit.

    The same ``idempotency_key`` returns the row already written. A message to a
    patient who opted out (STOP) is stored ``suppressed`` and never sent, so the
    history shows what was held back, unless ``opt_out_exempt`` (the STOP confirmation
    and the HELP answer, which carriers require). ``send_after`` (quiet hours) is the
    caller's decision. ``reach_alert`` marks recalls and red advice: undeliverable,
    they alert staff to phone the patient (H11). ``opted_out``: the caller's fresh
    reading of the patient's STOP (the check-in path holds the row locked); None reads
    it. The sender is chosen in the INSERT and kept on the row
    (``notifications.identities``), ``sent_from`` (the number a patient texted) first.
    In a ``write_batch`` the row is written with the batch's others (its id set then).
    """
    suppressed = _suppressed(patient=patient, opt_out_exempt=opt_out_exempt, opted_out=opted_out)
    fields = dict(
        idempotency_key=idempotency_key,
        clinic_id=clinic_id,
        to_phone=to_phone,
        body=body,
        display_body=display_body if display_body is not None else body,
        kind=kind,
        patient=patient,
        staff_user=staff_user,
        send_after=send_after,
        question_id=question_id,
        conversation_id=conversation_id,
        appointment_id=appointment_id,
        reach_alert=reach_alert,
        opt_out_exempt=opt_out_exempt,
        status=MessageStatus.SUPPRESSED if suppressed else MessageStatus.QUEUED,
        error_message=OPTED_OUT_REASON if suppressed else "",
        **sender_expressions(clinic_id=clinic_id, to_phone=to_phone, sent_from=sent_from),
    )
    if write_batch_open():
        message = OutgoingMessage(**fields)
        insert_rows([message], writer=_outbox_write_batched, then=_outbox_written_batched)
        return message
    message, created = _outbox_insert(**fields)
    if created:
        _send_after_commit(message)
    return message


def _suppressed(*, patient: Patient | None, opt_out_exempt: bool, opted_out: bool | None) -> bool:
    if patient is None or opt_out_exempt:
        return False
    return patient_opted_out(patient_id=patient.pk) if opted_out is None else opted_out


def _send_after_commit(message: OutgoingMessage) -> None:
    if message.status != MessageStatus.QUEUED:
        return
    message_id, send_after = message.pk, message.send_after
    countdown = max(0.0, (send_after - timezone.now()).total_seconds()) if send_after else None
    # robust: with the broker down, the caller's work (a check-in, its red advice)
    # is committed and stands; the error is logged and the sweeper sends the row
    # once the broker is back.
    transaction.on_commit(lambda: outbox_task_schedule(message_id=message_id, countdown=countdown), robust=True)


def _outbox_write_batched(messages: list[OutgoingMessage]) -> None:
    """A batch's outbox rows in one INSERT; should a key be taken already (a retried
    unit of work), one row at a time, each falling back to the row already there."""
    try:
        with transaction.atomic():
            OutgoingMessage.objects.bulk_create(messages)
    except IntegrityError:
        for message in messages:
            fields = {f.attname: getattr(message, f.attname) for f in OutgoingMessage._meta.concrete_fields}
            del fields["id"]
            stored, created = _outbox_insert(**fields)
            message.pk = stored.pk
            message.from_number, message.messaging_service_sid = stored.from_number, stored.messaging_service_sid
            message._outbox_duplicate = not created  # type: ignore[attr-defined]
        return
    insert_rows(
        [
            MessageHistoryEntry(
                patient_id=message.patient_id, direction=MessageHistoryEntry.Direction.OUTBOUND, outgoing=message
            )
            for message in messages
            if message.patient_id is not None
        ]
    )


def _outbox_written_batched(messages: list[OutgoingMessage]) -> None:
    for message in messages:
        if not getattr(message, "_outbox_duplicate", False):
            _send_after_commit(message)


def _outbox_insert(**fields: Any) -> tuple[OutgoingMessage, bool]:
    """(the row, whether it is new). Insert first and fall back to the row already
    there: one query fewer than get_or_create on the common path, where the key is new."""
    try:
        with transaction.atomic():
            message = OutgoingMessage.objects.create(**fields)
            if message.patient_id is not None:
                MessageHistoryEntry.objects.create(
                    patient_id=message.patient_id, direction=MessageHistoryEntry.Direction.OUTBOUND, outgoing=message
                )
    except IntegrityError:
        existing = OutgoingMessage.objects.filter(idempotency_key=fields["idempotency_key"]).first()
        if existing is None:
            raise
        return existing, False
    return message, True


def enrollment_code_send(*, patient: Patient, by: User) -> OutgoingMessage:
    """Text a patient a fresh one-time sign-in code (the app exchanges it for a token)."""
    with transaction.atomic():
        code = enrollment_code_create(patient=patient, by=by)
        body = patient_text(language=patient.language, message=ENROLLMENT_CODE, clinic=patient.clinic.name, code=code)
        return sms_enqueue(
            clinic_id=patient.clinic_id,
            to_phone=str(patient.phone),
            body=body,
            display_body=body.replace(code, "******"),
            kind=MessageKind.ENROLLMENT_CODE,
            idempotency_key=f"enrollment-code:{uuid.uuid4().hex}",
            patient=patient,
        )
