"""Enrolling a surgical episode on a protocol, and keeping its plan in step with the
episode's dates and the patient's time zone.

The plan comes from the protocol's schedule template (``generate_plan``), counted
from the discharge date in the patient's time zone, both phases at once (acute and
five-year surveillance). Each generated row keeps the template's stable ``plan_key``,
so that a recompute after the discharge date or the time zone changed (H14) finds
the rows it made and moves only what has not happened yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from backend.audit import audit_record
from backend.models import AuditAction, Episode, Patient, User
from followup.models import Appointment, Channel, Enrollment, ScheduledCheckIn
from followup.protocols import PlannedItem, generate_plan
from followup.services.protocols import ProtocolNotFound, protocol_definition, protocol_version_current
from followup.services.scheduling import ScheduleConflict, ScheduleRejected, appointment_data
from followup.sms.conversations import conversation_end_for_enrollment
from notifications.events import event_publish

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


def _checkin_row(*, item: PlannedItem, enrollment: Enrollment, channel: str, by: User | None) -> ScheduledCheckIn:
    return ScheduledCheckIn(
        patient_id=enrollment.patient_id,
        enrollment=enrollment,
        due_at=item.due_at,
        window_minutes=item.window_minutes,
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


def _appointment_row(*, item: PlannedItem, enrollment: Enrollment, by: User | None) -> Appointment:
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


def _audit_rows(
    *, by: User | None, action: AuditAction, object_type: str, rows: list[Any], patient: Patient, request: Any
) -> None:
    if rows:
        audit_record(
            actor=by,
            action=action,
            object_type=object_type,
            objects=[(row.pk, patient.pk) for row in rows],
            clinic_id=patient.clinic_id,
            request=request,
        )


def enrollment_create(
    *,
    episode: Episode,
    protocol_slug: str,
    has_pulse_device: bool,
    by: User,
    channel: str | None = None,
    request: HttpRequest | None = None,
) -> Enrollment:
    """Enroll an episode on the current version of a protocol and generate its plan.

    Enrolling mid-way (a patient discharged 20 days ago) starts at today's point of
    the template: items whose window closed before now are not generated, so nothing
    in the past is marked missed. An episode with an active enrollment is a conflict;
    so is a patient already followed on another episode (two plans would text them
    twice a day): end that enrollment first.

    ``channel`` is how the check-ins reach the patient; by default ``app`` for a
    patient signed in to the app and ``sms`` otherwise (see ``default_channel``)."""
    errors: dict[str, list[str]] = {}
    if channel is not None and channel not in Channel.values:
        errors["channel"] = [f"Must be one of: {', '.join(Channel.values)}."]
    try:
        version = protocol_version_current(protocol_slug)
    except ProtocolNotFound:
        errors["protocol"] = [f"Unknown protocol '{protocol_slug}'."]
    if errors:
        raise ScheduleRejected(errors)
    definition = protocol_definition(version)

    with transaction.atomic():
        # The patient's row lock serialises enrollments of the patient with each other
        # and with check-ins being judged against the enrollment.
        patient = Patient.objects.select_for_update().select_related("clinic").get(pk=episode.patient_id)
        episode = Episode.objects.get(pk=episode.pk)
        if channel == Channel.APP and patient.user_id is None:
            raise ScheduleRejected({"channel": ["This patient has not signed in to the app yet; use sms."]})
        chosen_channel = channel or default_channel(patient=patient)
        active = Enrollment.objects.filter(patient=patient, status=Enrollment.Status.ACTIVE).first()
        if active is not None:
            same = active.episode_id == episode.pk
            raise ScheduleConflict(
                "already_enrolled",
                "This episode is already enrolled." if same else "The patient is followed on another episode.",
                {
                    "episode": [
                        f"Episode {episode.pk} is already enrolled (enrollment {active.pk})."
                        if same
                        else f"The patient is enrolled on episode {active.episode_id} (enrollment {active.pk}); "
                        "end that enrollment first."
                    ]
                },
            )
        try:
            with transaction.atomic():
                enrollment = Enrollment.objects.create(
                    episode=episode,
                    patient=patient,
                    protocol_version=version,
                    has_pulse_device=has_pulse_device,
                    enrolled_by=by,
                )
        except IntegrityError as error:  # a concurrent enrollment of the same episode won
            raise ScheduleConflict(
                "already_enrolled", "This episode is already enrolled.", {"episode": ["Already enrolled."]}
            ) from error
        try:
            plan = generate_plan(
                definition,
                discharge_date=episode.discharge_date,
                surgery_date=episode.surgery_date,
                tz=patient.timezone,
                enrolled_at=enrollment.enrolled_at,
            )
        except ValueError as error:
            raise ScheduleRejected({"episode": [str(error)]}) from error
        check_ins = ScheduledCheckIn.objects.bulk_create(
            [
                _checkin_row(item=item, enrollment=enrollment, channel=chosen_channel, by=by)
                for item in plan
                if item.kind == "check_in"
            ]
        )
        appointments = Appointment.objects.bulk_create(
            [_appointment_row(item=item, enrollment=enrollment, by=by) for item in plan if item.kind != "check_in"]
        )
        _audit_rows(
            by=by,
            action=AuditAction.CREATE,
            object_type="enrollment",
            rows=[enrollment],
            patient=patient,
            request=request,
        )
        _audit_rows(
            by=by,
            action=AuditAction.CREATE,
            object_type="scheduled_check_in",
            rows=check_ins,
            patient=patient,
            request=request,
        )
        _audit_rows(
            by=by,
            action=AuditAction.CREATE,
            object_type="appointment",
            rows=appointments,
            patient=patient,
            request=request,
        )
    return enrollment


def enrollment_end(*, enrollment: Enrollment, by: User, request: HttpRequest | None = None) -> Enrollment:
    """End a follow-up: what is still to come is cancelled (kept as history); what
    happened stays. Ending an ended enrollment changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        row = Enrollment.objects.select_for_update().select_related("patient").get(pk=enrollment.pk)
        if row.status == Enrollment.Status.ENDED:
            return row
        # Before the enrollment ends: the check-in path takes the answers of a
        # conversation still going only while the enrollment is active (H16).
        conversation_end_for_enrollment(enrollment_id=row.pk)
        row.status = Enrollment.Status.ENDED
        row.save(update_fields=["status"])
        pending = list(
            ScheduledCheckIn.objects.filter(enrollment=row, status=ScheduledCheckIn.Status.SCHEDULED).values_list(
                "pk", flat=True
            )
        )
        ScheduledCheckIn.objects.filter(pk__in=pending, status=ScheduledCheckIn.Status.SCHEDULED).update(
            status=ScheduledCheckIn.Status.CANCELLED, closed_at=now, updated_at=now
        )
        upcoming = list(
            Appointment.objects.filter(
                enrollment=row, status__in=MOVABLE_APPOINTMENT_STATUSES, starts_at__gt=now
            ).values_list("pk", flat=True)
        )
        Appointment.objects.filter(pk__in=upcoming).update(
            status=Appointment.Status.CANCELLED, moved_by=by, updated_at=now
        )
        patient = row.patient
        _audit_rows(
            by=by, action=AuditAction.UPDATE, object_type="enrollment", rows=[row], patient=patient, request=request
        )
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            object_type="scheduled_check_in",
            objects=[(pk, patient.pk) for pk in pending],
            clinic_id=patient.clinic_id,
            request=request,
        )
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            object_type="appointment",
            objects=[(pk, patient.pk) for pk in upcoming],
            clinic_id=patient.clinic_id,
            request=request,
        )
        for appointment in Appointment.objects.filter(pk__in=upcoming):
            event_publish(
                clinic_id=patient.clinic_id, type="appointment.updated", data=appointment_data(appointment=appointment)
            )
    return row


def plan_recompute(*, enrollment: Enrollment, by: User | None = None, request: HttpRequest | None = None) -> PlanChange:
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
        patient = enrollment.patient
        episode = enrollment.episode
        plan = generate_plan(
            protocol_definition(enrollment.protocol_version),
            discharge_date=episode.discharge_date,
            surgery_date=episode.surgery_date,
            tz=patient.timezone,
            enrolled_at=enrollment.enrolled_at,
        )
        wanted = {item.key: item for item in plan if item.closes_at > now}

        check_ins = list(ScheduledCheckIn.objects.filter(enrollment=enrollment).exclude(plan_key=""))
        channel = next((row.channel for row in reversed(check_ins)), default_channel(patient=patient))
        touched_check_ins: list[ScheduledCheckIn] = []
        for row in check_ins:
            if row.origin != ScheduledCheckIn.Origin.PLAN:
                continue
            item = wanted.get(row.plan_key)
            pending = row.status == ScheduledCheckIn.Status.SCHEDULED and row.announced_at is None
            # A row this function cancelled earlier (origin still "plan") comes back
            # when its key is ahead again: the dates went back and forth.
            revivable = row.status == ScheduledCheckIn.Status.CANCELLED and item is not None
            if not (pending or revivable):
                continue
            if item is None:
                row.status = ScheduledCheckIn.Status.CANCELLED
                row.closed_at = now
                change.cancelled_check_ins.append(row.pk)
            elif row.due_at != item.due_at or row.window_minutes != item.window_minutes or revivable:
                row.due_at, row.window_minutes = item.due_at, item.window_minutes
                row.day, row.phase = item.day, item.phase
                row.status, row.closed_at = ScheduledCheckIn.Status.SCHEDULED, None
                change.moved_check_ins.append(row.pk)
            else:
                continue
            row.updated_at = now
            touched_check_ins.append(row)
        ScheduledCheckIn.objects.bulk_update(
            touched_check_ins, ["due_at", "window_minutes", "day", "phase", "status", "closed_at", "updated_at"]
        )
        known_keys = {row.plan_key for row in check_ins}
        created_check_ins = ScheduledCheckIn.objects.bulk_create(
            [
                _checkin_row(item=item, enrollment=enrollment, channel=channel, by=by)
                for key, item in wanted.items()
                if item.kind == "check_in" and key not in known_keys
            ]
        )
        change.created_check_ins = [row.pk for row in created_check_ins]

        appointments = list(Appointment.objects.filter(enrollment=enrollment).exclude(plan_key=""))
        touched_appointments: list[Appointment] = []
        for appointment in appointments:
            if appointment.moved_by_id is not None:
                continue
            item = wanted.get(appointment.plan_key)
            pending = appointment.status in MOVABLE_APPOINTMENT_STATUSES and appointment.starts_at > now
            revivable = appointment.status == Appointment.Status.CANCELLED and item is not None
            if not (pending or revivable):
                continue
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
                continue
            appointment.updated_at = now
            touched_appointments.append(appointment)
        Appointment.objects.bulk_update(
            touched_appointments, ["starts_at", "status", "detail", "reminded_at", "updated_at"]
        )
        known_appointment_keys = {appointment.plan_key for appointment in appointments}
        created_appointments = Appointment.objects.bulk_create(
            [
                _appointment_row(item=item, enrollment=enrollment, by=by)
                for key, item in wanted.items()
                if item.kind != "check_in" and key not in known_appointment_keys
            ]
        )
        change.created_appointments = [appointment.pk for appointment in created_appointments]

        _audit_rows(
            by=by,
            action=AuditAction.UPDATE,
            object_type="scheduled_check_in",
            rows=touched_check_ins,
            patient=patient,
            request=request,
        )
        _audit_rows(
            by=by,
            action=AuditAction.CREATE,
            object_type="scheduled_check_in",
            rows=created_check_ins,
            patient=patient,
            request=request,
        )
        _audit_rows(
            by=by,
            action=AuditAction.UPDATE,
            object_type="appointment",
            rows=touched_appointments,
            patient=patient,
            request=request,
        )
        _audit_rows(
            by=by,
            action=AuditAction.CREATE,
            object_type="appointment",
            rows=created_appointments,
            patient=patient,
            request=request,
        )
        for appointment in [*touched_appointments, *created_appointments]:
            event_publish(
                clinic_id=patient.clinic_id, type="appointment.updated", data=appointment_data(appointment=appointment)
            )
    return change


# Fields of the clinic core a plan is computed from.
EPISODE_PLAN_FIELDS = frozenset({"discharge_date", "surgery_date"})
PATIENT_PLAN_FIELDS = frozenset({"timezone"})


def plan_follow_core_change(
    *,
    instance: object,
    changed: frozenset[str],
    by: User | None = None,
    request: HttpRequest | None = None,
    **_signal: Any,
) -> list[PlanChange]:
    """Receiver of ``backend.signals.record_changed``: the clinic-core API sends it,
    inside the update's transaction, when a patient or an episode changed. A changed
    discharge date or time zone recomputes the active enrollments concerned (H14).

    A receiver rather than an import: backend must not import followup (the arrows
    point one way), and a signal sent explicitly by the API's write path, unlike a
    post_save, does not fire for factories, fixtures or migrations."""
    if isinstance(instance, Episode) and changed & EPISODE_PLAN_FIELDS:
        enrollments = Enrollment.objects.filter(episode=instance, status=Enrollment.Status.ACTIVE)
    elif isinstance(instance, Patient) and changed & PATIENT_PLAN_FIELDS:
        enrollments = Enrollment.objects.filter(patient=instance, status=Enrollment.Status.ACTIVE)
    else:
        return []
    return [plan_recompute(enrollment=enrollment, by=by, request=request) for enrollment in enrollments]
