"""Appointment reminders: each scheduled or confirmed appointment is reminded once, in
the day before it, in the patient's language, outside their quiet hours (H10)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from backend.patient_texts import patient_text
from followup.models import Appointment
from followup.services.claims import (
    STEP_LIMIT,
    audit_system_update,
    textable_condition,
    update_returning_ids,
)
from followup.services.quiet_hours import awake_condition
from followup.services.triage import clinic_phone_display
from notifications.models import MessageKind
from notifications.services import sms_enqueue

# Appointment reminders go out once, in the day before the appointment.
APPOINTMENT_REMINDER_LEAD = timedelta(hours=24)


def _appointment_when(appointment: Appointment) -> str:
    local = appointment.starts_at.astimezone(zoneinfo.ZoneInfo(appointment.patient.timezone))
    # Day.month.year and 24-hour time read unambiguously in all six languages.
    return local.strftime("%d.%m.%Y %H:%M")


# What the reminder calls each kind of appointment (gettext messages).
_KIND_NAMES = {
    Appointment.Kind.CLINIC_VISIT: gettext_noop("clinic visit"),
    Appointment.Kind.TELEMEDICINE: gettext_noop("video visit"),
    Appointment.Kind.LAB: gettext_noop("blood test"),
    Appointment.Kind.IMAGING: gettext_noop("scan (imaging)"),
    Appointment.Kind.RECALL: gettext_noop("visit at the clinic"),
}
_REMINDER = gettext_noop("%(clinic)s: reminder of your %(kind)s on %(when)s.")
_VIDEO_LINK = gettext_noop("Join the video call here: %(link)s")
_TO_CHANGE = gettext_noop("To change it, call %(phone)s.")


def appointment_reminder_text(*, appointment: Appointment, clinic_phone: str) -> str:
    """The reminder in the patient's language (gettext catalogues, see locale/)."""
    patient = appointment.patient
    language = patient.language
    kind = patient_text(language=language, message=_KIND_NAMES[Appointment.Kind(appointment.kind)])
    parts = [
        patient_text(
            language=language,
            message=_REMINDER,
            clinic=patient.clinic.name,
            kind=kind,
            when=_appointment_when(appointment),
        )
    ]
    if appointment.kind == Appointment.Kind.TELEMEDICINE and appointment.video_url:
        parts.append(patient_text(language=language, message=_VIDEO_LINK, link=appointment.video_url))
    parts.append(patient_text(language=language, message=_TO_CHANGE, phone=clinic_phone))
    return " ".join(parts)


def appointments_remind(*, now: datetime | None = None) -> list[int]:
    """Remind each scheduled or confirmed appointment once, in the day before it,
    outside the patient's quiet hours, never to a patient who cannot be texted. A
    moved appointment is reminded again for its new time (moving clears
    ``reminded_at``; the outbox key names the time)."""
    now = now or timezone.now()
    with transaction.atomic():
        candidates = Appointment.objects.filter(
            textable_condition(),
            status__in=[Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED],
            reminded_at__isnull=True,
            starts_at__gt=now,
            starts_at__lte=now + APPOINTMENT_REMINDER_LEAD,
        )
        awake = awake_condition(candidates, now=now)
        if awake is None:
            return []
        selection = list(candidates.filter(awake).order_by("starts_at", "id").values_list("pk", flat=True)[:STEP_LIMIT])
        if not selection:
            return []
        won = update_returning_ids(
            Appointment.objects.filter(
                status__in=[Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED],
                reminded_at__isnull=True,
                pk__in=selection,
            ),
            {"reminded_at": now, "updated_at": now},
        )
        rows = list(Appointment.objects.filter(pk__in=won).select_related("patient__clinic").order_by("starts_at"))
        for appointment in rows:
            patient = appointment.patient
            sms_enqueue(
                clinic_id=patient.clinic_id,
                to_phone=str(patient.phone),
                body=appointment_reminder_text(
                    appointment=appointment, clinic_phone=clinic_phone_display(clinic=patient.clinic)
                ),
                kind=MessageKind.REMINDER,
                idempotency_key=f"appointment-reminder:{appointment.pk}:{appointment.starts_at:%Y%m%dT%H%M%z}",
                patient=patient,
                appointment_id=appointment.pk,
            )
        audit_system_update(object_type="appointment", rows=rows)
    return won
