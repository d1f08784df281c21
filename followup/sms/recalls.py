"""Recall by SMS: ask the patient to come in, and read their YES.

The recall text gives the appointment's time in the patient's own time zone and
language. It is marked ``reach_alert``: if it cannot be delivered, staff are alerted to
phone the patient (H11). A YES reply (any of the six languages' yes words) confirms
the appointment.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from backend.audit import audit_record
from backend.models import AuditAction, Patient
from followup.models import Appointment
from followup.sms.conversations import text_values
from followup.sms.texts import DATE_FORMAT, RECALL_CONFIRMED, RECALL_REQUEST, text_for
from notifications.events import event_publish
from notifications.models import MessageKind, OutgoingMessage
from notifications.services import sms_enqueue

# A YES counts for a recall texted this recently, and still ahead (or today).
RECALL_REPLY_WINDOW = timedelta(days=7)
CONFIRMABLE = (Appointment.Status.PROPOSED, Appointment.Status.SCHEDULED)


def appointment_local_time(*, appointment: Appointment, patient: Patient) -> str:
    return appointment.starts_at.astimezone(zoneinfo.ZoneInfo(patient.timezone)).strftime(DATE_FORMAT)


def recall_sms_send(*, appointment: Appointment, send_after: datetime | None = None) -> OutgoingMessage:
    """Text the patient to come in at the appointment's time. One SMS per appointment
    and time: moving the appointment and calling again sends the new time."""
    patient = Patient.objects.select_related("clinic").get(pk=appointment.patient_id)
    when = appointment_local_time(appointment=appointment, patient=patient)
    body = text_for(RECALL_REQUEST, patient.language).format(when=when, **text_values(patient=patient))
    return sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body=body,
        kind=MessageKind.RECALL,
        idempotency_key=f"recall:{appointment.pk}:{appointment.starts_at.isoformat()}",
        patient=patient,
        appointment_id=appointment.pk,
        reach_alert=True,
        send_after=send_after,
    )


def recall_awaiting_reply(*, patient: Patient) -> Appointment | None:
    """The recall a YES from this patient would confirm: one texted to them lately,
    not yet confirmed, not in the past."""
    now = timezone.now()
    return (
        Appointment.objects.filter(
            patient=patient,
            kind=Appointment.Kind.RECALL,
            status__in=CONFIRMABLE,
            starts_at__gte=now - timedelta(hours=12),
            sms_messages__kind=MessageKind.RECALL,
            sms_messages__created_at__gte=now - RECALL_REPLY_WINDOW,
        )
        .order_by("-sms_messages__created_at")
        .first()
    )


def recall_confirm(*, appointment: Appointment, patient: Patient, reply_key: str) -> bool:
    """The patient said YES: the appointment is confirmed (a conditional update, so a
    nurse's change at the same moment wins), and they are told so."""
    with transaction.atomic():
        now = timezone.now()
        changed = Appointment.objects.filter(pk=appointment.pk, status__in=CONFIRMABLE).update(
            status=Appointment.Status.CONFIRMED, updated_at=now
        )
        if not changed:
            return False
        appointment.refresh_from_db()
        audit_record(
            actor=patient.user if patient.user_id else None,
            action=AuditAction.UPDATE,
            object_type="appointment",
            objects=[(appointment.pk, patient.pk)],
            clinic_id=patient.clinic_id,
        )
        event_publish(
            clinic_id=patient.clinic_id,
            type="appointment.updated",
            data={
                "id": appointment.pk,
                "patient": patient.pk,
                "kind": appointment.kind,
                "status": appointment.status,
                "starts_at": appointment.starts_at.isoformat(),
            },
        )
        when = appointment_local_time(appointment=appointment, patient=patient)
        sms_enqueue(
            clinic_id=patient.clinic_id,
            to_phone=str(patient.phone),
            body=text_for(RECALL_CONFIRMED, patient.language).format(when=when),
            kind=MessageKind.REPLY,
            idempotency_key=reply_key,
            patient=patient,
            appointment_id=appointment.pk,
        )
    return True
