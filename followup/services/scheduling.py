"""Nurse scheduling: add, move and cancel a patient's scheduled check-ins and
appointments, and send a check-in now.

Every change is made by a named person (``by``), writes its audit row in the same
transaction and, for appointments, publishes ``appointment.updated`` for the
dashboard (``followup.services.appointments``: the appointment as the API returns it).
Nothing is deleted: a cancelled check-in or appointment stays as history. A recall a
nurse adds is texted to the patient (``followup.sms.recalls``), at the end of their
quiet hours if it is added inside them.

Times are aware datetimes, stored in UTC; the patient's day count is computed in the
patient's time zone from the enrolled episode's discharge date (H14), and its phase
(acute or surveillance) from the enrollment's protocol version (``acute_last_day``).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from backend.audit import audit_record
from backend.models import AuditAction, Patient, User
from followup.models import Appointment, Channel, Enrollment, ScheduledCheckIn
from followup.services.appointments import OPEN_APPOINTMENT_STATUSES, appointment_updated_publish
from followup.services.appointments import appointment_data as appointment_data
from followup.services.appointments import iso as iso
from followup.services.protocols import protocol_definition
from followup.services.quiet_hours import quiet_hours_end_after
from followup.sms.conversations import conversation_start
from followup.sms.outgoing import patient_can_receive_sms as patient_can_receive_sms
from followup.sms.recalls import recall_sms_queue

# ``appointment_data``, ``iso`` and ``patient_can_receive_sms`` are re-exported for the
# modules that still import them from here; their home is followup.services.appointments
# and followup.sms.outgoing.

# Statuses staff may give a check-in by hand. "sent" and "completed" are facts the
# system records (an invitation went out, answers came in), never typed in.
STAFF_CHECKIN_STATUSES = (
    ScheduledCheckIn.Status.SCHEDULED,
    ScheduledCheckIn.Status.MISSED,
    ScheduledCheckIn.Status.CANCELLED,
)
# The longest window a nurse may give a check-in: a fortnight (the surveillance labs'
# window); longer is a typing error.
MAX_WINDOW_MINUTES = 14 * 24 * 60
MIN_WINDOW_MINUTES = 15


class ScheduleRejected(Exception):
    """Bad input (400). ``errors`` is DRF-shaped: {field: [messages]}."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


class ScheduleConflict(Exception):
    """The row's state does not allow the change (409). ``reason`` is a stable code
    (``already_answered``, ``opted_out``...), ``detail`` says it in words and
    ``errors`` names the field when there is one."""

    def __init__(self, reason: str, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.errors = errors or {}

    def as_dict(self) -> dict[str, Any]:
        return {**self.errors, "reason": self.reason, "detail": self.detail}


# --- shared helpers ------------------------------------------------------------------------


def enrollment_active_get(*, patient: Patient) -> Enrollment | None:
    """The patient's active enrollment, the latest if a second operation enrolled a
    second episode."""
    return (
        Enrollment.objects.select_related("episode", "protocol_version__protocol")
        .filter(patient=patient, status=Enrollment.Status.ACTIVE)
        .order_by("-enrolled_at", "-id")
        .first()
    )


def day_since_discharge(*, enrollment: Enrollment | None, moment: datetime, tz: str) -> int | None:
    """Days since discharge of ``moment`` in the patient's zone (day 1 = the day after)."""
    if enrollment is None:
        return None
    local_day = moment.astimezone(zoneinfo.ZoneInfo(tz)).date()
    return (local_day - enrollment.episode.discharge_date).days


def phase_of_day(*, enrollment: Enrollment | None, day: int | None) -> str:
    """The phase of ``day`` in the enrollment's protocol version: acute up to its
    ``acute_last_day``, surveillance after (the check-in path reads it the same way).
    A day outside any enrollment counts as acute, the closer watch."""
    if enrollment is None or day is None:
        return "acute"
    return protocol_definition(enrollment.protocol_version).schedule.phase_of_day(day)


def checkin_closes_at(scheduled_check_in: ScheduledCheckIn) -> datetime:
    return scheduled_check_in.due_at + timedelta(minutes=scheduled_check_in.window_minutes)


def _audit(
    *,
    by: User | None,
    action: AuditAction,
    object_type: str,
    rows: list[Any],
    clinic_id: int,
    request: HttpRequest | None,
) -> None:
    if rows:
        audit_record(
            actor=by,
            action=action,
            object_type=object_type,
            objects=[(row.pk, row.patient_id) for row in rows],
            clinic_id=clinic_id,
            request=request,
        )


def _check_window(errors: dict[str, list[str]], window_minutes: int) -> None:
    if not MIN_WINDOW_MINUTES <= window_minutes <= MAX_WINDOW_MINUTES:
        errors.setdefault("window_minutes", []).append(
            f"Must be between {MIN_WINDOW_MINUTES} and {MAX_WINDOW_MINUTES} minutes."
        )


def _check_aware(errors: dict[str, list[str]], field: str, value: datetime) -> None:
    # A time without its offset would be read in the server's zone, not the patient's:
    # the kind of silent shift H14 is about.
    if value.tzinfo is None or value.utcoffset() is None:
        errors.setdefault(field, []).append("Give the time with its UTC offset (ISO 8601).")


# --- scheduled check-ins -----------------------------------------------------------------------


def scheduled_checkin_create(
    *,
    patient: Patient,
    due_at: datetime,
    by: User,
    window_minutes: int = 720,
    channel: str = Channel.SMS,
    status: str = ScheduledCheckIn.Status.SCHEDULED,
    request: HttpRequest | None = None,
) -> ScheduledCheckIn:
    """Add a check-in by hand (origin ``nurse``: a plan recompute leaves it alone).

    A new check-in is ``scheduled``; staff may enter one as ``missed`` when recording
    past history (it makes no worklist item: the nurse knows). A scheduled one whose
    window has already closed would be missed at once, so it is refused."""
    errors: dict[str, list[str]] = {}
    _check_aware(errors, "due_at", due_at)
    _check_window(errors, window_minutes)
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
        enrollment = enrollment_active_get(patient=patient)
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
        _audit(
            by=by,
            action=AuditAction.CREATE,
            object_type="scheduled_check_in",
            rows=[scheduled],
            clinic_id=patient.clinic_id,
            request=request,
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
    request: HttpRequest | None = None,
) -> ScheduledCheckIn:
    """Move a check-in (``due_at``, ``window_minutes``, ``channel``) or set its status
    (``missed`` or ``cancelled``; ``scheduled`` again is only a no-op).

    Only a check-in not yet sent can be moved: once the invitation went out the
    patient has a link for that window. A moved plan check-in becomes origin
    ``nurse``, so that a plan recompute keeps it where the nurse put it."""
    errors: dict[str, list[str]] = {}
    if due_at is not None:
        _check_aware(errors, "due_at", due_at)
    if window_minutes is not None:
        _check_window(errors, window_minutes)
    if channel is not None and channel not in Channel.values:
        errors["channel"] = [f"Must be one of: {', '.join(Channel.values)}."]
    if status is not None and status not in STAFF_CHECKIN_STATUSES:
        errors["status"] = [
            "Staff may set scheduled, missed or cancelled; sent and completed are recorded by the system."
        ]
    if errors:
        raise ScheduleRejected(errors)
    now = timezone.now()
    with transaction.atomic():
        row = ScheduledCheckIn.objects.select_for_update().select_related("patient").get(pk=scheduled_check_in.pk)
        moves = {
            name: value
            for name, value in (("due_at", due_at), ("window_minutes", window_minutes), ("channel", channel))
            if value is not None and getattr(row, name) != value
        }
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
        changed: list[str] = []
        for name, value in moves.items():
            setattr(row, name, value)
            changed.append(name)
        closes_at = checkin_closes_at(row)
        if moves and status in (None, ScheduledCheckIn.Status.SCHEDULED) and closes_at <= now:
            raise ScheduleRejected({"due_at": ["The window of this check-in would already be closed."]})
        if "due_at" in moves:
            enrollment = None
            if row.enrollment_id is not None:
                enrollment = Enrollment.objects.select_related("episode", "protocol_version__protocol").get(
                    pk=row.enrollment_id
                )
            row.day = day_since_discharge(enrollment=enrollment, moment=row.due_at, tz=row.patient.timezone)
            row.phase = phase_of_day(enrollment=enrollment, day=row.day) if row.day is not None else row.phase
            changed += ["day", "phase"]
        if moves:
            row.origin = ScheduledCheckIn.Origin.NURSE
            changed.append("origin")
        if status == ScheduledCheckIn.Status.MISSED and row.status != status:
            if row.due_at > now:
                raise ScheduleRejected({"status": ["A check-in not due yet cannot be missed; cancel it instead."]})
            if closes_at > now and row.status == ScheduledCheckIn.Status.SENT:
                # The patient holds a live link; marking it missed now would refuse
                # answers they may be typing. Cancel it instead if it must stop.
                raise ScheduleConflict("window_open", "The patient can still answer this check-in until it closes.")
            row.status = status
            row.closed_at = now
            changed += ["status", "closed_at"]
        elif status == ScheduledCheckIn.Status.CANCELLED and row.status != status:
            row.status = status
            row.closed_at = now
            # A nurse's cancellation is a decision a plan recompute must not undo.
            row.origin = ScheduledCheckIn.Origin.NURSE
            changed += ["status", "closed_at", "origin"]
        if changed:
            row.save(update_fields=[*dict.fromkeys(changed), "updated_at"])
            _audit(
                by=by,
                action=AuditAction.UPDATE,
                object_type="scheduled_check_in",
                rows=[row],
                clinic_id=row.patient.clinic_id,
                request=request,
            )
    return row


def scheduled_checkin_cancel(
    *, scheduled_check_in: ScheduledCheckIn, by: User, request: HttpRequest | None = None
) -> ScheduledCheckIn:
    """Cancel rather than delete: the row stays as history. Cancelling a cancelled
    check-in is a no-op; an answered or missed one cannot be cancelled."""
    return scheduled_checkin_update(
        scheduled_check_in=scheduled_check_in, by=by, status=ScheduledCheckIn.Status.CANCELLED, request=request
    )


def scheduled_checkin_send_now(
    *, scheduled_check_in: ScheduledCheckIn, by: User, request: HttpRequest | None = None
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
        _audit(
            by=by,
            action=AuditAction.UPDATE,
            object_type="scheduled_check_in",
            rows=[row],
            clinic_id=patient.clinic_id,
            request=request,
        )
    return row


# --- appointments ------------------------------------------------------------------------------


def _appointment_errors(
    *, kind: str, status: str, video_url: str, starts_at: datetime, reason: str, now: datetime
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    _check_aware(errors, "starts_at", starts_at)
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
    request: HttpRequest | None = None,
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
            enrollment=enrollment_active_get(patient=patient),
            kind=kind,
            starts_at=starts_at,
            status=status,
            reason=reason,
            video_url=video_url,
            created_by=by,
        )
        _audit(
            by=by,
            action=AuditAction.CREATE,
            object_type="appointment",
            rows=[appointment],
            clinic_id=patient.clinic_id,
            request=request,
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
    awake_at = quiet_hours_end_after(moment=now, clinic=patient.clinic, tz=zoneinfo.ZoneInfo(patient.timezone))
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
    request: HttpRequest | None = None,
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
        _audit(
            by=by,
            action=AuditAction.UPDATE,
            object_type="appointment",
            rows=[row],
            clinic_id=row.patient.clinic_id,
            request=request,
        )
        appointment_updated_publish(appointment=row, clinic_id=row.patient.clinic_id)
    return row
