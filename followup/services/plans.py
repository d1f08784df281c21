"""A follow-up plan: the rows generated from the protocol's schedule template, and
keeping them in step with the episode's dates and the patient's time zone.

The plan comes from the protocol's schedule template (``generate_plan``), counted
from the discharge date in the patient's time zone, both phases at once (acute and
five-year surveillance). Each generated row keeps the template's stable ``plan_key``,
so that a recompute after the discharge date or the time zone changed (H14) finds
the rows it made and moves only what has not happened yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.audit import AuditContext, audit_rows
from backend.models import AuditAction, Patient, User
from followup.models import Appointment, Channel, Enrollment, ScheduledCheckIn
from followup.protocols import PlannedItem, generate_plan
from followup.services.appointments import appointment_updated_publish
from followup.services.protocols import protocol_definition

# Which plan items become appointments, and of which kind (the rest are check-ins).
APPOINTMENT_KINDS = {
    "clinic_visit": Appointment.Kind.CLINIC_VISIT,
    "telemedicine": Appointment.Kind.TELEMEDICINE,
    "lab": Appointment.Kind.LAB,
    "imaging": Appointment.Kind.IMAGING,
}
# Appointments a recompute may move: generated, not confirmed with the patient yet,
# not moved or cancelled by a person, and still ahead.
MOVABLE_APPOINTMENT_STATUSES = (Appointment.Status.PROPOSED, Appointment.Status.SCHEDULED)


@dataclass
class PlanChange:
    """What a plan recompute did, by row id."""

    moved_check_ins: list[int] = field(default_factory=list)
    created_check_ins: list[int] = field(default_factory=list)
    cancelled_check_ins: list[int] = field(default_factory=list)
    moved_appointments: list[int] = field(default_factory=list)
    created_appointments: list[int] = field(default_factory=list)
    cancelled_appointments: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)


def default_channel(*, patient: Patient) -> str:
    """``app`` for a patient who has signed in to the app (the one-time code exchange
    creates their user), ``sms`` for everyone else: most patients go home with a phone
    that texts, not with our app."""
    return Channel.APP if patient.user_id is not None else Channel.SMS


def plan_checkin_row(*, item: PlannedItem, enrollment: Enrollment, channel: str, by: User | None) -> ScheduledCheckIn:
    return ScheduledCheckIn(
        patient_id=enrollment.patient_id,
        enrollment=enrollment,
        due_at=item.due_at,
        window_minutes=item.window_minutes,
        reminder_minutes=item.reminder_minutes,
        channel=channel,
        phase=item.phase,
        day=item.day,
        origin=ScheduledCheckIn.Origin.PLAN,
        plan_key=item.key,
        created_by=by,
    )


def _appointment_detail(item: PlannedItem) -> dict[str, Any]:
    detail: dict[str, Any] = {"description": item.detail, "day": item.day, "phase": item.phase}
    if item.labs:
        detail["labs"] = list(item.labs)
    # Labs and imaging can be done any time in their window (a fortnight in
    # surveillance): staff see until when.
    detail["window_minutes"] = item.window_minutes
    return detail


def plan_appointment_row(*, item: PlannedItem, enrollment: Enrollment, by: User | None) -> Appointment:
    return Appointment(
        patient_id=enrollment.patient_id,
        enrollment=enrollment,
        kind=APPOINTMENT_KINDS[item.kind],
        starts_at=item.due_at,
        status=Appointment.Status.SCHEDULED,
        reason=item.detail[:300],
        detail=_appointment_detail(item),
        plan_key=item.key,
        created_by=by,
    )


def plan_recompute(*, enrollment: Enrollment, by: User | None = None, audit: AuditContext | None = None) -> PlanChange:
    """Bring the plan in line with the episode's discharge date and the patient's time
    zone as they are now (H14), for what has not happened yet.

    - A generated check-in still ``scheduled`` and not announced moves to its new
      time; one whose new window has already closed is cancelled (the patient was
      never asked, so it is not missed); an item the new plan no longer has (a
      Monday/Thursday check-in when the weekdays shift) is cancelled.
    - A generated appointment still ahead and ``proposed`` or ``scheduled`` moves the
      same way. One the patient confirmed, or a person moved or cancelled, stays.
    - Check-ins a nurse added, moved or cancelled (origin ``nurse``) and everything
      sent, answered or missed stay as they are.
    - Items the new plan has and the old one did not (the discharge date moved later,
      so days that had passed at enrollment are ahead again) are created, counted
      from the enrollment time: nothing in the past is generated.
    """
    now = timezone.now()
    change = PlanChange()
    with transaction.atomic():
        enrollment = (
            Enrollment.objects.select_for_update()
            .select_related("episode", "patient__clinic", "protocol_version__protocol")
            .get(pk=enrollment.pk)
        )
        if enrollment.status != Enrollment.Status.ACTIVE:
            return change
        patient, episode = enrollment.patient, enrollment.episode
        plan = generate_plan(
            protocol_definition(enrollment.protocol_version),
            discharge_date=episode.discharge_date,
            surgery_date=episode.surgery_date,
            tz=patient.timezone,
            enrolled_at=enrollment.enrolled_at,
        )
        wanted = {item.key: item for item in plan if item.closes_at > now}
        _check_ins_recompute(enrollment=enrollment, wanted=wanted, now=now, by=by, change=change, audit=audit)
        _appointments_recompute(enrollment=enrollment, wanted=wanted, now=now, by=by, change=change, audit=audit)
    return change


def _check_in_moved(row: ScheduledCheckIn, item: PlannedItem | None, now: datetime, change: PlanChange) -> bool:
    """Move, cancel or revive one generated check-in; whether it changed."""
    pending = row.status == ScheduledCheckIn.Status.SCHEDULED and row.announced_at is None
    # A row a recompute cancelled earlier (origin still "plan") comes back when its key
    # is ahead again: the dates went back and forth.
    revivable = row.status == ScheduledCheckIn.Status.CANCELLED and item is not None
    if row.origin != ScheduledCheckIn.Origin.PLAN or not (pending or revivable):
        return False
    if item is None:
        row.status, row.closed_at = ScheduledCheckIn.Status.CANCELLED, now
        change.cancelled_check_ins.append(row.pk)
    elif (
        row.due_at != item.due_at
        or row.window_minutes != item.window_minutes
        or row.reminder_minutes != item.reminder_minutes
        or revivable
    ):
        row.due_at, row.window_minutes = item.due_at, item.window_minutes
        row.reminder_minutes = item.reminder_minutes
        row.day, row.phase = item.day, item.phase
        row.status, row.closed_at = ScheduledCheckIn.Status.SCHEDULED, None
        change.moved_check_ins.append(row.pk)
    else:
        return False
    row.updated_at = now
    return True


def _check_ins_recompute(
    *,
    enrollment: Enrollment,
    wanted: dict[str, PlannedItem],
    now: datetime,
    by: User | None,
    change: PlanChange,
    audit: AuditContext | None,
) -> None:
    check_ins = list(ScheduledCheckIn.objects.filter(enrollment=enrollment).exclude(plan_key=""))
    channel = next((row.channel for row in reversed(check_ins)), default_channel(patient=enrollment.patient))
    touched = [row for row in check_ins if _check_in_moved(row, wanted.get(row.plan_key), now, change)]
    ScheduledCheckIn.objects.bulk_update(
        touched, ["due_at", "window_minutes", "reminder_minutes", "day", "phase", "status", "closed_at", "updated_at"]
    )
    known_keys = {row.plan_key for row in check_ins}
    created = ScheduledCheckIn.objects.bulk_create(
        [
            plan_checkin_row(item=item, enrollment=enrollment, channel=channel, by=by)
            for key, item in wanted.items()
            if item.kind == "check_in" and key not in known_keys
        ]
    )
    change.created_check_ins = [row.pk for row in created]
    for action, rows in ((AuditAction.UPDATE, touched), (AuditAction.CREATE, created)):
        audit_rows(
            actor=by,
            action=action,
            object_type="scheduled_check_in",
            rows=rows,
            clinic_id=enrollment.patient.clinic_id,
            audit=audit,
        )


def _appointment_moved(appointment: Appointment, item: PlannedItem | None, now: datetime, change: PlanChange) -> bool:
    """Move, cancel or revive one generated appointment; whether it changed."""
    pending = appointment.status in MOVABLE_APPOINTMENT_STATUSES and appointment.starts_at > now
    revivable = appointment.status == Appointment.Status.CANCELLED and item is not None
    if appointment.moved_by_id is not None or not (pending or revivable):
        return False
    if item is None:
        appointment.status = Appointment.Status.CANCELLED
        change.cancelled_appointments.append(appointment.pk)
    elif appointment.starts_at != item.due_at or revivable:
        appointment.starts_at = item.due_at
        if revivable:
            appointment.status = Appointment.Status.SCHEDULED
        appointment.detail = {**appointment.detail, **_appointment_detail(item)}
        appointment.reminded_at = None
        change.moved_appointments.append(appointment.pk)
    else:
        return False
    appointment.updated_at = now
    return True


def _appointments_recompute(
    *,
    enrollment: Enrollment,
    wanted: dict[str, PlannedItem],
    now: datetime,
    by: User | None,
    change: PlanChange,
    audit: AuditContext | None,
) -> None:
    appointments = list(Appointment.objects.filter(enrollment=enrollment).exclude(plan_key=""))
    touched = [row for row in appointments if _appointment_moved(row, wanted.get(row.plan_key), now, change)]
    Appointment.objects.bulk_update(touched, ["starts_at", "status", "detail", "reminded_at", "updated_at"])
    known_keys = {appointment.plan_key for appointment in appointments}
    created = Appointment.objects.bulk_create(
        [
            plan_appointment_row(item=item, enrollment=enrollment, by=by)
            for key, item in wanted.items()
            if item.kind != "check_in" and key not in known_keys
        ]
    )
    change.created_appointments = [appointment.pk for appointment in created]
    patient = enrollment.patient
    for action, rows in ((AuditAction.UPDATE, touched), (AuditAction.CREATE, created)):
        audit_rows(
            actor=by, action=action, object_type="appointment", rows=rows, clinic_id=patient.clinic_id, audit=audit
        )
    for appointment in [*touched, *created]:
        appointment_updated_publish(appointment=appointment, clinic_id=patient.clinic_id)
