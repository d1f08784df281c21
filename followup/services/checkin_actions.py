"""What a stored check-in sets going besides its alerts: the red advice texted at once
and the extra check-in a finding asks for (an amber fever: again in 12 h)."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

from backend.audit import AuditContext, audit_rows
from backend.models import AuditAction, Patient
from followup.models import CheckIn, ScheduledCheckIn
from followup.rules import Finding
from followup.selectors import OPEN_CHECKIN_STATUSES
from followup.services.checkin_validation import Submission, local_day
from followup.services.quiet_hours import quiet_hours_end_after
from notifications.models import MessageKind
from notifications.services import sms_enqueue


def red_advice_send(*, patient: Patient, check_in: CheckIn, advice: str) -> None:
    """Text the red advice to the patient at once, quiet hours or not (H2).

    Not for a check-in that came by SMS: the conversation's own reply carries the
    advice, and a second text would say the same thing twice. Not without the
    clinic's record of SMS consent. To a patient who opted out (STOP) the outbox
    stores it as suppressed, never sent, so the history shows what was held back
    (H11); the advice is in the API reply and the red alert has the team calling
    them. ``reach_alert``: if it cannot be delivered, staff are told to phone (H11)."""
    if check_in.channel == CheckIn.Source.SMS or not patient.sms_consent:
        return
    sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body=advice,
        kind=MessageKind.ADVICE,
        idempotency_key=f"checkin-red-advice:{check_in.pk}",
        patient=patient,
        send_after=None,
        reach_alert=True,
        # The check-in path holds the patient's row locked: its STOP is read fresh.
        opted_out=patient.sms_opted_out_at is not None,
    )


def follow_up_schedule(
    *, submission: Submission, findings: list[Finding], audit: AuditContext | None
) -> ScheduledCheckIn | None:
    """The extra check-in a finding asks for, moved to the end of the patient's quiet
    hours when it would fall inside them. One pending extra check-in is enough: a
    second finding before it is due does not add another."""
    hours = [finding.follow_up_check_in_hours for finding in findings if finding.follow_up_check_in_hours]
    patient, now = submission.patient, submission.now
    if not hours:
        return None
    if ScheduledCheckIn.objects.filter(
        patient=patient, origin=ScheduledCheckIn.Origin.RULE, status__in=OPEN_CHECKIN_STATUSES, due_at__gt=now
    ).exists():
        return None
    tz = zoneinfo.ZoneInfo(patient.timezone)
    # From when the answers were given; a late entry whose follow-up time has passed
    # asks again now rather than never.
    due = quiet_hours_end_after(moment=max(submission.moment + timedelta(hours=min(hours)), now), patient=patient)
    day = (local_day(due, tz) - submission.enrollment.episode.discharge_date).days
    scheduled = submission.scheduled
    follow_up = ScheduledCheckIn.objects.create(
        patient=patient,
        enrollment=submission.enrollment,
        due_at=due,
        channel=scheduled.channel if scheduled is not None else ("app" if submission.channel == "app" else "sms"),
        phase=submission.definition.schedule.phase_of_day(max(day, 0)),
        day=day,
        origin=ScheduledCheckIn.Origin.RULE,
    )
    audit_rows(
        actor=submission.submitted_by,
        action=AuditAction.CREATE,
        object_type="scheduled_check_in",
        rows=[follow_up],
        clinic_id=patient.clinic_id,
        audit=audit,
    )
    return follow_up
