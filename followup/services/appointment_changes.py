"""Appointments by a nurse's hand: add, move, change status, kind, reason or video link.
Every change publishes ``appointment.updated`` (``followup.services.appointments``: the
appointment as the API returns it). A recall a nurse adds is texted to the patient
(``followup.sms.recalls``), at the end of their quiet hours if it is added inside them.
Shared checks and errors: ``scheduling``."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from backend.audit import AuditContext, audit_rows
from backend.models import AuditAction, Patient, User
from followup.models import Appointment
from followup.selectors import active_enrollment
from followup.services.appointments import OPEN_APPOINTMENT_STATUSES, appointment_updated_publish
from followup.services.quiet_hours import quiet_hours_end_after
from followup.services.scheduling import ScheduleConflict, ScheduleRejected, check_aware
from followup.sms.recalls import recall_sms_queue


def _appointment_errors(
    *, kind: str, status: str, video_url: str, starts_at: datetime, reason: str, now: datetime
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    check_aware(errors, "starts_at", starts_at)
    if kind not in Appointment.Kind.values:
        errors["kind"] = [f"Must be one of: {', '.join(Appointment.Kind.values)}."]
    if status not in Appointment.Status.values:
        errors["status"] = [f"Must be one of: {', '.join(Appointment.Status.values)}."]
    if len(reason) > 300:
        errors["reason"] = ["At most 300 characters."]
    if video_url:
        if kind != Appointment.Kind.TELEMEDICINE:
            errors["video_url"] = ["Only a telemedicine appointment has a video link."]
        elif not video_url.lower().startswith("https://"):
            # The link carries the patient into a consultation: never in clear text.
            errors["video_url"] = ["The video link must start with https://."]
    elif kind == Appointment.Kind.TELEMEDICINE and status == Appointment.Status.CONFIRMED:
        # A plan's video visit may wait for its link, but the patient cannot be told
        # "confirmed" without the link to join.
        errors["video_url"] = ["A confirmed telemedicine appointment needs its video link."]
    past_only = status in (Appointment.Status.ATTENDED, Appointment.Status.MISSED)
    if past_only and "starts_at" not in errors and starts_at > now:
        errors["status"] = [f"An appointment in the future cannot be {status}."]
    return errors


def appointment_create(
    *,
    patient: Patient,
    kind: str,
    starts_at: datetime,
    by: User,
    status: str = Appointment.Status.SCHEDULED,
    reason: str = "",
    video_url: str = "",
    audit: AuditContext | None = None,
) -> Appointment:
    now = timezone.now()
    errors = _appointment_errors(
        kind=kind, status=status, video_url=video_url, starts_at=starts_at, reason=reason, now=now
    )
    if errors:
        raise ScheduleRejected(errors)
    with transaction.atomic():
        appointment = Appointment.objects.create(
            patient=patient,
            enrollment=active_enrollment(patient_id=patient.pk),
            kind=kind,
            starts_at=starts_at,
            status=status,
            reason=reason,
            video_url=video_url,
            created_by=by,
        )
        audit_rows(
            actor=by,
            action=AuditAction.CREATE,
            object_type="appointment",
            rows=[appointment],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
        appointment_updated_publish(appointment=appointment, clinic_id=patient.clinic_id)
        _recall_text(appointment=appointment, patient=patient, now=now)
    return appointment


def _recall_text(*, appointment: Appointment, patient: Patient, now: datetime) -> None:
    """A recall a nurse adds is texted to the patient (YES confirms it), at the end of
    the patient's quiet hours if it is added inside them (H10): unlike the recall a red
    finding proposes, which goes at once (``followup.services.alerts``)."""
    if appointment.kind != Appointment.Kind.RECALL:
        return
    if appointment.status not in (Appointment.Status.PROPOSED, Appointment.Status.SCHEDULED):
        return  # confirmed with the patient already, or entered as history
    awake_at = quiet_hours_end_after(moment=now, patient=patient)
    recall_sms_queue(appointment=appointment, patient=patient, send_after=awake_at if awake_at > now else None)


def appointment_update(
    *,
    appointment: Appointment,
    by: User,
    starts_at: datetime | None = None,
    status: str | None = None,
    reason: str | None = None,
    video_url: str | None = None,
    kind: str | None = None,
    audit: AuditContext | None = None,
) -> Appointment:
    """Move an appointment, change its status, reason, kind or video link.

    Moving one clears its reminder so that the patient is reminded of the new time,
    and records who moved it: a plan recompute then leaves it where it is. An
    attended, missed or cancelled appointment is history: it cannot be moved."""
    now = timezone.now()
    with transaction.atomic():
        row = Appointment.objects.select_for_update(of=("self",)).select_related("patient").get(pk=appointment.pk)
        new = {
            "kind": kind if kind is not None else row.kind,
            "starts_at": starts_at if starts_at is not None else row.starts_at,
            "status": status if status is not None else row.status,
            "reason": reason if reason is not None else row.reason,
            "video_url": video_url if video_url is not None else row.video_url,
        }
        errors = _appointment_errors(now=now, **new)
        if errors:
            raise ScheduleRejected(errors)
        changed = [name for name, value in new.items() if getattr(row, name) != value]
        closed = row.status not in OPEN_APPOINTMENT_STATUSES
        if closed and ("starts_at" in changed or "kind" in changed):
            raise ScheduleConflict(
                row.status, f"This appointment is {row.status} and stays as history; add a new one instead."
            )
        if row.status == Appointment.Status.CANCELLED and "status" in changed:
            raise ScheduleConflict("cancelled", "A cancelled appointment stays cancelled; add a new one instead.")
        if not changed:
            return row
        for name in changed:
            setattr(row, name, new[name])
        if "starts_at" in changed or new["status"] == Appointment.Status.CANCELLED:
            row.moved_by = by
            changed.append("moved_by")
        if "starts_at" in changed:
            row.reminded_at = None
            changed.append("reminded_at")
        row.save(update_fields=[*changed, "updated_at"])
        audit_rows(
            actor=by,
            action=AuditAction.UPDATE,
            object_type="appointment",
            rows=[row],
            clinic_id=row.patient.clinic_id,
            audit=audit,
        )
        appointment_updated_publish(appointment=row, clinic_id=row.patient.clinic_id)
    return row
