"""A patient's scheduled check-ins, by a nurse's hand: add, move, cancel (the row stays
as history), and send one now. Shared checks and errors: ``scheduling``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.audit import AuditContext, audit_rows
from backend.models import AuditAction, Patient, User
from followup.models import Channel, Enrollment, ScheduledCheckIn
from followup.selectors import active_enrollment
from followup.services.scheduling import (
    STAFF_CHECKIN_STATUSES,
    ScheduleConflict,
    ScheduleRejected,
    check_aware,
    check_window,
    checkin_closes_at,
    day_since_discharge,
    phase_of_day,
)
from followup.sms.conversations import conversation_start


def scheduled_checkin_create(
    *,
    patient: Patient,
    due_at: datetime,
    by: User,
    window_minutes: int = 720,
    channel: str = Channel.SMS,
    status: str = ScheduledCheckIn.Status.SCHEDULED,
    audit: AuditContext | None = None,
) -> ScheduledCheckIn:
    """Add a check-in by hand (origin ``nurse``: a plan recompute leaves it alone).

    A new check-in is ``scheduled``; staff may enter one as ``missed`` when recording
    past history (it makes no worklist item: the nurse knows). A scheduled one whose
    window has already closed would be missed at once, so it is refused."""
    errors: dict[str, list[str]] = {}
    check_aware(errors, "due_at", due_at)
    check_window(errors, window_minutes)
    if channel not in Channel.values:
        errors["channel"] = [f"Must be one of: {', '.join(Channel.values)}."]
    if status not in (ScheduledCheckIn.Status.SCHEDULED, ScheduledCheckIn.Status.MISSED):
        errors["status"] = ["A new check-in is scheduled, or missed when entering past history."]
    if errors:
        raise ScheduleRejected(errors)
    now = timezone.now()
    closes_at = due_at + timedelta(minutes=window_minutes)
    if status == ScheduledCheckIn.Status.SCHEDULED and closes_at <= now:
        raise ScheduleRejected(
            {"due_at": ["The window of this check-in has already closed: choose a later time, or enter it as missed."]}
        )
    if status == ScheduledCheckIn.Status.MISSED and closes_at > now:
        raise ScheduleRejected({"status": ["A check-in can be entered as missed only once its window has closed."]})
    with transaction.atomic():
        enrollment = active_enrollment(patient_id=patient.pk)
        day = day_since_discharge(enrollment=enrollment, moment=due_at, tz=patient.timezone)
        scheduled = ScheduledCheckIn.objects.create(
            patient=patient,
            enrollment=enrollment,
            due_at=due_at,
            window_minutes=window_minutes,
            channel=channel,
            status=status,
            phase=phase_of_day(enrollment=enrollment, day=day),
            day=day,
            origin=ScheduledCheckIn.Origin.NURSE,
            closed_at=now if status == ScheduledCheckIn.Status.MISSED else None,
            created_by=by,
        )
        audit_rows(
            actor=by,
            action=AuditAction.CREATE,
            object_type="scheduled_check_in",
            rows=[scheduled],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
    return scheduled


def scheduled_checkin_update(
    *,
    scheduled_check_in: ScheduledCheckIn,
    by: User,
    due_at: datetime | None = None,
    window_minutes: int | None = None,
    channel: str | None = None,
    status: str | None = None,
    audit: AuditContext | None = None,
) -> ScheduledCheckIn:
    """Move a check-in (``due_at``, ``window_minutes``, ``channel``) or set its status
    (``missed`` or ``cancelled``; ``scheduled`` again is only a no-op).

    Only a check-in not yet sent can be moved: once the invitation went out the
    patient has a link for that window. A moved plan check-in becomes origin
    ``nurse``, so that a plan recompute keeps it where the nurse put it."""
    _update_input_check(due_at=due_at, window_minutes=window_minutes, channel=channel, status=status)
    now = timezone.now()
    with transaction.atomic():
        row = ScheduledCheckIn.objects.select_for_update().select_related("patient").get(pk=scheduled_check_in.pk)
        moves = {
            name: value
            for name, value in (("due_at", due_at), ("window_minutes", window_minutes), ("channel", channel))
            if value is not None and getattr(row, name) != value
        }
        _update_conflict_check(row=row, moves=moves, status=status)
        changed: list[str] = []
        for name, value in moves.items():
            setattr(row, name, value)
            changed.append(name)
        closes_at = checkin_closes_at(row)
        if moves and status in (None, ScheduledCheckIn.Status.SCHEDULED) and closes_at <= now:
            raise ScheduleRejected({"due_at": ["The window of this check-in would already be closed."]})
        if "due_at" in moves:
            _day_and_phase_set(row)
            changed += ["day", "phase"]
        if moves:
            row.origin = ScheduledCheckIn.Origin.NURSE
            changed.append("origin")
        changed += _status_set(row=row, status=status, closes_at=closes_at, now=now)
        if changed:
            row.save(update_fields=[*dict.fromkeys(changed), "updated_at"])
            audit_rows(
                actor=by,
                action=AuditAction.UPDATE,
                object_type="scheduled_check_in",
                rows=[row],
                clinic_id=row.patient.clinic_id,
                audit=audit,
            )
    return row


def _update_input_check(
    *, due_at: datetime | None, window_minutes: int | None, channel: str | None, status: str | None
) -> None:
    errors: dict[str, list[str]] = {}
    if due_at is not None:
        check_aware(errors, "due_at", due_at)
    if window_minutes is not None:
        check_window(errors, window_minutes)
    if channel is not None and channel not in Channel.values:
        errors["channel"] = [f"Must be one of: {', '.join(Channel.values)}."]
    if status is not None and status not in STAFF_CHECKIN_STATUSES:
        errors["status"] = [
            "Staff may set scheduled, missed or cancelled; sent and completed are recorded by the system."
        ]
    if errors:
        raise ScheduleRejected(errors)


def _update_conflict_check(*, row: ScheduledCheckIn, moves: dict[str, Any], status: str | None) -> None:
    """A check-in answered, closed or sent cannot be changed the way asked (409)."""
    if row.status == ScheduledCheckIn.Status.COMPLETED and (moves or status):
        raise ScheduleConflict("already_answered", "This check-in has already been answered.")
    if row.status in (ScheduledCheckIn.Status.CANCELLED, ScheduledCheckIn.Status.MISSED) and (
        moves or (status and status != row.status)
    ):
        raise ScheduleConflict(
            row.status, f"This check-in is {row.status} and stays as history; add a new one instead."
        )
    if moves and row.status == ScheduledCheckIn.Status.SENT:
        raise ScheduleConflict(
            "already_sent",
            "The invitation for this check-in has gone out; cancel it and add a new one to change its time.",
        )
    if status == ScheduledCheckIn.Status.SCHEDULED and row.status != ScheduledCheckIn.Status.SCHEDULED:
        raise ScheduleConflict(row.status, f"A {row.status} check-in cannot be scheduled again.")


def _day_and_phase_set(row: ScheduledCheckIn) -> None:
    enrollment = None
    if row.enrollment_id is not None:
        enrollment = Enrollment.objects.select_related("episode", "protocol_version__protocol").get(
            pk=row.enrollment_id
        )
    row.day = day_since_discharge(enrollment=enrollment, moment=row.due_at, tz=row.patient.timezone)
    row.phase = phase_of_day(enrollment=enrollment, day=row.day) if row.day is not None else row.phase


def _status_set(*, row: ScheduledCheckIn, status: str | None, closes_at: datetime, now: datetime) -> list[str]:
    """Mark the check-in missed or cancelled as asked; the fields changed."""
    if status == ScheduledCheckIn.Status.MISSED and row.status != status:
        if row.due_at > now:
            raise ScheduleRejected({"status": ["A check-in not due yet cannot be missed; cancel it instead."]})
        if closes_at > now and row.status == ScheduledCheckIn.Status.SENT:
            # The patient holds a live link; marking it missed now would refuse
            # answers they may be typing. Cancel it instead if it must stop.
            raise ScheduleConflict("window_open", "The patient can still answer this check-in until it closes.")
        row.status, row.closed_at = status, now
        return ["status", "closed_at"]
    if status == ScheduledCheckIn.Status.CANCELLED and row.status != status:
        row.status, row.closed_at = status, now
        # A nurse's cancellation is a decision a plan recompute must not undo.
        row.origin = ScheduledCheckIn.Origin.NURSE
        return ["status", "closed_at", "origin"]
    return []


def scheduled_checkin_cancel(
    *, scheduled_check_in: ScheduledCheckIn, by: User, audit: AuditContext | None = None
) -> ScheduledCheckIn:
    """Cancel rather than delete: the row stays as history. Cancelling a cancelled
    check-in is a no-op; an answered or missed one cannot be cancelled."""
    return scheduled_checkin_update(
        scheduled_check_in=scheduled_check_in, by=by, status=ScheduledCheckIn.Status.CANCELLED, audit=audit
    )


def scheduled_checkin_send_now(
    *, scheduled_check_in: ScheduledCheckIn, by: User, audit: AuditContext | None = None
) -> ScheduledCheckIn:
    """Send the check-in's invitation to the patient's phone now, instead of at
    ``due_at``.

    A nurse's explicit send is not held back by quiet hours (she may have just spoken
    to the patient). It goes through the conversation service like the clock's: the
    first SMS question for an ``sms`` check-in, a text with the form link for an
    ``app`` one. Refused (409) when the check-in was already answered, closed or
    cancelled, when its invitation already went out, and when the patient cannot be
    texted (STOP, or no consent on record).

    The window counts from now for a check-in that was not due yet."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            ScheduledCheckIn.objects.select_for_update(of=("self",))
            .select_related("patient__clinic")
            .get(pk=scheduled_check_in.pk)
        )
        if row.status == ScheduledCheckIn.Status.COMPLETED or hasattr(row, "check_in"):
            raise ScheduleConflict("already_answered", "This check-in has already been answered.")
        if row.status in (ScheduledCheckIn.Status.CANCELLED, ScheduledCheckIn.Status.MISSED):
            raise ScheduleConflict(row.status, f"This check-in is {row.status}; add a new one to ask again.")
        patient = row.patient
        if patient.sms_opted_out_at is not None:
            raise ScheduleConflict(
                "opted_out", "The patient has opted out of SMS (STOP); call them or ask them to use the app."
            )
        if not patient.sms_consent:
            raise ScheduleConflict("no_sms_consent", "The clinic has no SMS consent on record for this patient.")
        if row.status == ScheduledCheckIn.Status.SENT:
            raise ScheduleConflict(
                "already_sent",
                "The invitation already went out; the patient can answer until the window closes.",
            )
        if row.due_at > now:
            row.due_at = now
            row.origin = ScheduledCheckIn.Origin.NURSE
        elif checkin_closes_at(row) <= now:
            raise ScheduleConflict("window_closed", "The window of this check-in has closed; add a new one.")
        row.status = ScheduledCheckIn.Status.SENT
        row.announced_at = now
        row.save(update_fields=["due_at", "origin", "status", "announced_at", "updated_at"])
        conversation_start(scheduled_check_in=row)
        audit_rows(
            actor=by,
            action=AuditAction.UPDATE,
            object_type="scheduled_check_in",
            rows=[row],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
    return row
