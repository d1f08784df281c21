"""The patient's answer to an appointment: yes (confirm) or "I can't come" (decline).

Confirming is one state change whichever way the patient says it, an SMS YES
(``followup.sms.recalls.recall_confirm``) or the app's Confirm button: a conditional
update from proposed/scheduled to confirmed, so a nurse's change at the same moment
wins; audited; the dashboards hear ``appointment.updated``.

Declining is the app's (an SMS "no" stays free text for a nurse): the appointment
becomes ``declined`` and the nurses get a worklist item to call the patient and find
another time, red when the recall followed a red finding (the patient still has to be
seen soon, H2), amber otherwise."""

from __future__ import annotations

import zoneinfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Patient
from followup.models import Alert, Appointment, WorklistItem
from followup.services.appointments import appointment_updated_publish

# What a patient may still say yes or no to.
ANSWERABLE = (Appointment.Status.PROPOSED, Appointment.Status.SCHEDULED)
# Stored in English (staff pages may say it again in the reader's language).
DECLINED_DETAIL = gettext_noop("The patient cannot come to the appointment of %(when)s (%(kind)s): call them.")


def _local(appointment: Appointment, patient: Patient) -> str:
    # On the patient's clock, as the nurse will say it on the phone.
    zone = zoneinfo.ZoneInfo(patient.timezone)
    return appointment.starts_at.astimezone(zone).strftime("%d.%m.%Y %H:%M") + f" ({patient.timezone})"


def appointment_answerable(appointment: Appointment) -> bool:
    """Does the app offer Confirm and "I can't come" for it? A recall or any proposed
    appointment, not yet answered."""
    if appointment.status not in ANSWERABLE:
        return False
    return appointment.kind == Appointment.Kind.RECALL or appointment.status == Appointment.Status.PROPOSED


def _changed(*, appointment: Appointment, patient: Patient, status: str, audit: AuditContext | None) -> bool:
    changed = Appointment.objects.filter(pk=appointment.pk, patient=patient, status__in=ANSWERABLE).update(
        status=status, updated_at=timezone.now()
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
        audit=audit,
    )
    appointment_updated_publish(appointment=appointment, clinic_id=patient.clinic_id)
    return True


def appointment_patient_confirm(
    *, appointment: Appointment, patient: Patient, audit: AuditContext | None = None
) -> bool:
    """The patient says yes; whether it changed anything (False: answered already, or
    a nurse moved it on). Inside the caller's transaction when there is one."""
    with transaction.atomic():
        return _changed(appointment=appointment, patient=patient, status=Appointment.Status.CONFIRMED, audit=audit)


def appointment_patient_decline(
    *, appointment: Appointment, patient: Patient, audit: AuditContext | None = None
) -> WorklistItem | None:
    """The patient cannot come: the appointment is declined and a nurse is asked to
    call; the worklist item, or None when nothing changed."""
    with transaction.atomic():
        if not _changed(appointment=appointment, patient=patient, status=Appointment.Status.DECLINED, audit=audit):
            return None
        alert = appointment.origin_alert
        red = alert is not None and alert.severity == Alert.Severity.RED
        item = WorklistItem.objects.create(
            patient=patient,
            clinic_id=patient.clinic_id,
            kind=WorklistItem.Kind.NURSE_CALL,
            severity="red" if red else "amber",
            alert=alert,
            detail=DECLINED_DETAIL % {"when": _local(appointment, patient), "kind": appointment.kind},
        )
        audit_record(
            actor=patient.user if patient.user_id else None,
            action=AuditAction.CREATE,
            object_type="worklist_item",
            objects=[(item.pk, patient.pk)],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
    return item
