"""Enrolling a surgical episode on a protocol (its plan generated at once), ending a
follow-up, and recomputing the plan when the clinic core changes what it is counted
from (H14). The plan's rows and their recompute live in ``followup.services.plans``."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.audit import AuditContext, audit_rows
from backend.models import AuditAction, Episode, Patient, User
from followup.models import Appointment, Channel, Enrollment, ProtocolVersion, ScheduledCheckIn
from followup.protocols import generate_plan
from followup.selectors import active_enrollment
from followup.services.appointments import appointment_updated_publish
from followup.services.plans import (
    MOVABLE_APPOINTMENT_STATUSES,
    PlanChange,
    default_channel,
    plan_appointment_row,
    plan_checkin_row,
    plan_recompute,
)
from followup.services.protocols import ProtocolNotFound, protocol_definition, protocol_version_current
from followup.services.scheduling import ScheduleConflict, ScheduleRejected
from followup.sms.conversations import conversation_end_for_enrollment


def _enrollment_input_checked(*, protocol_slug: str, channel: str | None) -> ProtocolVersion:
    errors: dict[str, list[str]] = {}
    if channel is not None and channel not in Channel.values:
        errors["channel"] = [f"Must be one of: {', '.join(Channel.values)}."]
    try:
        version = protocol_version_current(protocol_slug)
    except ProtocolNotFound:
        errors["protocol"] = [f"Unknown protocol '{protocol_slug}'."]
    if errors:
        raise ScheduleRejected(errors)
    return version


def _already_enrolled(*, patient: Patient, episode: Episode) -> ScheduleConflict | None:
    active = active_enrollment(patient_id=patient.pk)
    if active is None:
        return None
    if active.episode_id == episode.pk:
        message = f"Episode {episode.pk} is already enrolled (enrollment {active.pk})."
        return ScheduleConflict("already_enrolled", "This episode is already enrolled.", {"episode": [message]})
    message = (
        f"The patient is enrolled on episode {active.episode_id} (enrollment {active.pk}); end that enrollment first."
    )
    return ScheduleConflict("already_enrolled", "The patient is followed on another episode.", {"episode": [message]})


def enrollment_create(
    *,
    episode: Episode,
    protocol_slug: str,
    has_pulse_device: bool,
    by: User,
    channel: str | None = None,
    audit: AuditContext | None = None,
) -> Enrollment:
    """Enroll an episode on the current version of a protocol and generate its plan.

    Enrolling mid-way (a patient discharged 20 days ago) starts at today's point of
    the template: items whose window closed before now are not generated, so nothing
    in the past is marked missed. An episode with an active enrollment is a conflict;
    so is a patient already followed on another episode (two plans would text them
    twice a day): end that enrollment first.

    ``channel`` is how the check-ins reach the patient; by default ``app`` for a
    patient signed in to the app and ``sms`` otherwise (see ``default_channel``)."""
    version = _enrollment_input_checked(protocol_slug=protocol_slug, channel=channel)
    with transaction.atomic():
        # The patient's row lock serialises enrollments of the patient with each other
        # and with check-ins being judged against the enrollment.
        patient = Patient.objects.select_for_update().select_related("clinic").get(pk=episode.patient_id)
        episode = Episode.objects.get(pk=episode.pk)
        if channel == Channel.APP and patient.user_id is None:
            raise ScheduleRejected({"channel": ["This patient has not signed in to the app yet; use sms."]})
        if conflict := _already_enrolled(patient=patient, episode=episode):
            raise conflict
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
        audit_rows(
            actor=by,
            action=AuditAction.CREATE,
            object_type="enrollment",
            rows=[enrollment],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
        _plan_create(enrollment=enrollment, channel=channel or default_channel(patient=patient), by=by, audit=audit)
    return enrollment


def _plan_create(*, enrollment: Enrollment, channel: str, by: User, audit: AuditContext | None) -> None:
    patient, episode = enrollment.patient, enrollment.episode
    try:
        plan = generate_plan(
            protocol_definition(enrollment.protocol_version),
            discharge_date=episode.discharge_date,
            surgery_date=episode.surgery_date,
            tz=patient.timezone,
            enrolled_at=enrollment.enrolled_at,
        )
    except ValueError as error:
        raise ScheduleRejected({"episode": [str(error)]}) from error
    check_ins = ScheduledCheckIn.objects.bulk_create(
        [
            plan_checkin_row(item=item, enrollment=enrollment, channel=channel, by=by)
            for item in plan
            if item.kind == "check_in"
        ]
    )
    appointments = Appointment.objects.bulk_create(
        [plan_appointment_row(item=item, enrollment=enrollment, by=by) for item in plan if item.kind != "check_in"]
    )
    for object_type, rows in (("scheduled_check_in", check_ins), ("appointment", appointments)):
        audit_rows(
            actor=by,
            action=AuditAction.CREATE,
            object_type=object_type,
            rows=rows,
            clinic_id=patient.clinic_id,
            audit=audit,
        )


def enrollment_end(*, enrollment: Enrollment, by: User, audit: AuditContext | None = None) -> Enrollment:
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
        cancelled = list(Appointment.objects.filter(pk__in=upcoming))
        audit_rows(
            actor=by,
            action=AuditAction.UPDATE,
            object_type="enrollment",
            rows=[row],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
        audit_rows(
            actor=by,
            action=AuditAction.UPDATE,
            object_type="scheduled_check_in",
            rows=[ScheduledCheckIn(pk=pk, patient_id=patient.pk) for pk in pending],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
        audit_rows(
            actor=by,
            action=AuditAction.UPDATE,
            object_type="appointment",
            rows=cancelled,
            clinic_id=patient.clinic_id,
            audit=audit,
        )
        for appointment in cancelled:
            appointment_updated_publish(appointment=appointment, clinic_id=patient.clinic_id)
    return row


# Fields of the clinic core a plan is computed from.
EPISODE_PLAN_FIELDS = frozenset({"discharge_date", "surgery_date"})
PATIENT_PLAN_FIELDS = frozenset({"timezone"})


def plan_follow_core_change(
    *,
    instance: object,
    changed: frozenset[str],
    by: User | None = None,
    audit: AuditContext | None = None,
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
    return [plan_recompute(enrollment=enrollment, by=by, audit=audit) for enrollment in enrollments]
