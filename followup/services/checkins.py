"""The check-in path: the one service every entry path uses (the API, the patient web
form, the end of an SMS conversation, a nurse entering answers from a phone call).

``checkin_submit`` is a pipeline of named steps in ONE transaction: validate
(``checkin_validation``), judge the rules against the history as it stood when the
answers were given, store (the check-in, the scheduled check-in closed, the dashboard
event), act (alerts, whose escalation starts with them; the recall and nurse calls;
the red advice; the extra check-in a finding asks for). Either all of it is
committed, or none of it (H1)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.audit import AuditContext, audit_rows
from backend.models import AuditAction, User
from backend.row_insert import rows_insert
from backend.write_batch import write_batch
from followup.history import history_read
from followup.models import Appointment, CheckIn, Enrollment, ScheduledCheckIn, WorklistItem
from followup.rules import Evaluation, EvaluationInput
from followup.services.alert_follow_through import alert_follow_through
from followup.services.alerts import AlertChange, alert_record_finding
from followup.services.checkin_actions import follow_up_schedule, red_advice_send
from followup.services.checkin_validation import CheckInRejected, Submission, local_day, submission_validate
from followup.services.protocols import protocol_definition
from followup.services.triage import triage_advice
from followup.signals import check_in_stored
from notifications.events import event_publish

__all__ = ["CheckInRejected", "CheckInResult", "answers_evaluate", "checkin_submit"]


@dataclass(frozen=True)
class CheckInResult:
    check_in: CheckIn
    level: str
    advice: str
    # Alerts this check-in created or added an occurrence to, in finding order.
    alert_ids: list[int]
    created_alert_ids: list[int]
    recall: Appointment | None = None
    nurse_calls: list[WorklistItem] = field(default_factory=list)
    follow_up: ScheduledCheckIn | None = None

    @property
    def alerts_created(self) -> bool:
        return bool(self.created_alert_ids)


def answers_evaluate(*, enrollment: Enrollment, answers: dict[str, Any], moment: datetime, phase: str) -> Evaluation:
    """Judge ``answers`` with the enrollment's rules against the history as it stood at
    ``moment``: the check-in path's judgement, and the one an SMS conversation runs on
    the answers given so far (an absent answer never makes a condition hold). The
    history read is what the rules can look at (``followup.history``): one statement,
    the same whatever the length of the patient's history."""
    patient, episode = enrollment.patient, enrollment.episode
    ruleset = protocol_definition(enrollment.protocol_version).ruleset
    tz = zoneinfo.ZoneInfo(patient.timezone)
    history = history_read(
        patient_id=patient.pk,
        timezone=patient.timezone,
        moment=moment,
        horizon=ruleset.history_horizon(phase=phase),
        surgery_date=episode.surgery_date,
    )
    return ruleset.evaluate(
        EvaluationInput(
            answers=answers,
            taken_at=moment,
            phase=phase,  # type: ignore[arg-type]
            day_since_discharge=(local_day(moment, tz) - episode.discharge_date).days,
            day_since_surgery=(local_day(moment, tz) - episode.surgery_date).days,
            baseline_weight_kg=float(episode.baseline_weight_kg) if episode.baseline_weight_kg is not None else None,
            history=history.check_ins,
            labs=history.labs,
            surgery_date=episode.surgery_date,
        )
    )


def checkin_submit(
    *,
    patient_id: int,
    answers: object,
    scheduled_check_in_id: int | None = None,
    channel: str,
    submitted_by: User | None = None,
    taken_at: datetime | None = None,
    partial: bool = False,
    unanswered: Collection[str] = (),
    audit: AuditContext | None = None,
) -> CheckInResult:
    """Validate, judge, store and act on one check-in; raise ``CheckInRejected``
    (nothing stored) on bad input.

    - ``partial``: an SMS conversation that ended before every question was answered
      (H16): what was answered is stored and judged like any check-in, the rest listed
      in ``unanswered`` (with the questions the caller names), ``complete`` false.
    - ``taken_at``: when the answers were given (staff entering a phone call, the last
      answer of an SMS conversation); not in the future, not before the discharge date,
      never set by a patient. Defaults to now. Rules judge the answers against the
      check-ins and labs as they stood then, so a late entry is judged as things stood.
    - ``audit`` says where the call came from (address, method, path) for the audit rows.
    """
    # The audit rows, events and outbox rows of the check-in are written together at
    # the end (one INSERT per table), still inside the transaction.
    with transaction.atomic(), write_batch():
        submission = submission_validate(
            patient_id=patient_id,
            answers=answers,
            scheduled_check_in_id=scheduled_check_in_id,
            channel=channel,
            submitted_by=submitted_by,
            taken_at=taken_at,
            partial=partial,
            unanswered=unanswered,
            now=timezone.now(),
        )
        evaluation = answers_evaluate(
            enrollment=submission.enrollment,
            answers=submission.answers,
            moment=submission.moment,
            phase=submission.phase,
        )
        check_in = _store(submission=submission, evaluation=evaluation, audit=audit)
        result = _act(submission=submission, check_in=check_in, evaluation=evaluation, audit=audit)
        check_in_stored.send(sender=CheckIn, check_in=check_in)
    return result


def _store(*, submission: Submission, evaluation: Evaluation, audit: AuditContext | None) -> CheckIn:
    """The check-in row, its scheduled check-in closed, the dashboard event."""
    patient, scheduled, actor = submission.patient, submission.scheduled, submission.submitted_by
    if scheduled is not None:
        scheduled.status = ScheduledCheckIn.Status.COMPLETED
        scheduled.closed_at = submission.now
        scheduled.save(update_fields=["status", "closed_at", "updated_at"])
        audit_rows(
            actor=actor,
            action=AuditAction.UPDATE,
            object_type="scheduled_check_in",
            rows=[scheduled],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
    level = evaluation.level
    # Green advice names the next check-in (read with the enrollment, this one left out).
    next_due = submission.enrollment.next_check_in_due_at if level == "green" else None
    check_in = CheckIn(
        patient=patient,
        enrollment=submission.enrollment,
        protocol_version=submission.enrollment.protocol_version,
        scheduled_check_in=scheduled,
        answers=submission.answers,
        phase=submission.phase,
        taken_at=submission.moment,
        channel=submission.channel,
        submitted_by=actor,
        level=level,
        advice=triage_advice(definition=submission.definition, level=level, patient=patient, next_check_in_at=next_due),
        evaluation_trace=evaluation.trace,
        complete=not submission.unanswered,
        unanswered=submission.unanswered,
    )
    rows_insert([check_in])  # what create() writes, without compiling it each time
    audit_rows(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="check_in",
        rows=[check_in],
        clinic_id=patient.clinic_id,
        audit=audit,
    )
    event_publish(
        clinic_id=patient.clinic_id,
        type="check_in.received",
        data={"id": check_in.pk, "patient": patient.pk, "level": level, "complete": check_in.complete},
    )
    return check_in


def _act(
    *, submission: Submission, check_in: CheckIn, evaluation: Evaluation, audit: AuditContext | None
) -> CheckInResult:
    """Alerts (escalation starts with them), the recall and nurse calls they ask for,
    the extra check-in a finding asks for, the red advice."""
    patient, actor = submission.patient, submission.submitted_by
    changes: list[AlertChange] = [
        alert_record_finding(
            patient=patient,
            protocol_version=submission.enrollment.protocol_version,
            finding=finding,
            check_in=check_in,
            actor=actor,
            audit=audit,
        )
        for finding in evaluation.findings
    ]
    follow_through = alert_follow_through(
        patient=patient, enrollment=submission.enrollment, changes=changes, actor=actor, audit=audit
    )
    follow_up = follow_up_schedule(submission=submission, findings=evaluation.findings, audit=audit)
    if check_in.level == "red":
        red_advice_send(patient=patient, check_in=check_in, advice=check_in.advice)
    return CheckInResult(
        check_in=check_in,
        level=check_in.level,
        advice=check_in.advice,
        alert_ids=list(dict.fromkeys(change.alert.pk for change in changes)),
        created_alert_ids=[change.alert.pk for change in changes if change.created],
        recall=follow_through.recall,
        nurse_calls=follow_through.nurse_calls,
        follow_up=follow_up,
    )
