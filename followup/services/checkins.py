"""The check-in path: the one service every entry path uses (the API, the patient web
form, the end of an SMS conversation, a nurse entering answers from a phone call).

``checkin_submit`` does everything in ONE transaction: validate against the patient's
protocol version, store, close the scheduled check-in, judge the rules against the
history as it stood when the answers were given, open or update alerts (escalation
starts with them), propose a recall and text the red advice, queue nurse calls, plan
the extra check-in a fever asks for, and write the dashboard events and the outbox.
Either all of it is committed, or none of it (H1)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from backend.audit import audit_record
from backend.models import AuditAction, Clinic, Patient, User
from followup.models import AlertOccurrence, Appointment, CheckIn, Enrollment, ScheduledCheckIn, WorklistItem
from followup.protocols import ProtocolDefinition, validate_answers
from followup.protocols.answers import NON_FIELD_ERRORS, REQUIRED
from followup.rules import Evaluation, EvaluationInput, Finding, PastCheckIn
from followup.services.alerts import AlertChange, alert_follow_through, alert_record_finding
from followup.services.observations import lab_results_for
from followup.services.protocols import protocol_definition
from followup.services.triage import next_check_in_due, triage_advice
from followup.signals import check_in_stored
from notifications.events import event_publish
from notifications.models import MessageKind
from notifications.services import sms_enqueue

CHANNELS = frozenset(CheckIn.Source.values)
OPEN_SCHEDULED = (ScheduledCheckIn.Status.SCHEDULED, ScheduledCheckIn.Status.SENT)


class CheckInRejected(Exception):
    """The check-in was not stored. ``errors`` is DRF-shaped, answers nested by
    question id; ``status_code`` is 400 for bad input, 409 for a state conflict (the
    scheduled check-in was already answered, missed or cancelled)."""

    def __init__(self, errors: dict[str, Any], *, status_code: int = 400) -> None:
        super().__init__(errors)
        self.errors = errors
        self.status_code = status_code


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


# --- selectors ---------------------------------------------------------------------------


def _active_enrollments(*, patient_id: int) -> QuerySet[Enrollment]:
    # The latest first, should a second operation have enrolled a second episode.
    return (
        Enrollment.objects.select_related("episode", "protocol_version__protocol")
        .filter(patient_id=patient_id, status=Enrollment.Status.ACTIVE)
        .order_by("-enrolled_at", "-id")
    )


def enrollment_active_for(*, patient: Patient) -> Enrollment | None:
    """The patient's active enrollment."""
    return _active_enrollments(patient_id=patient.pk).first()


def enrollment_active_locking_patient(*, patient_id: int) -> Enrollment | None:
    """The active enrollment with the patient (and clinic) read fresh, the patient's row
    locked until commit: one query where a lock and a read were two. No active
    enrollment: nothing to judge, so nothing is locked."""
    return (
        _active_enrollments(patient_id=patient_id)
        .select_related("patient__clinic")
        .select_for_update(of=("patient",))
        .first()
    )


def checkin_list(*, user: User, patient_id: int | None = None) -> QuerySet[CheckIn]:
    """Check-ins the caller may see, newest first: a patient only their own (whatever
    ``patient_id`` says), staff their clinic's."""
    if user.is_patient:
        check_ins = CheckIn.objects.filter(patient__user=user)
    elif user.is_clinic_staff:
        check_ins = CheckIn.objects.filter(patient__clinic_id=user.clinic_id)
        if patient_id is not None:
            check_ins = check_ins.filter(patient_id=patient_id)
    else:
        return CheckIn.objects.none()
    return check_ins.select_related("protocol_version").order_by("-taken_at", "-id")


def checkin_alert_ids(*, check_in_ids: list[int]) -> dict[int, list[int]]:
    """Alert ids by check-in: the alerts each check-in created or added to (one query)."""
    result: dict[int, list[int]] = {pk: [] for pk in check_in_ids}
    rows = (
        AlertOccurrence.objects.filter(check_in_id__in=check_in_ids)
        .order_by("id")
        .values_list("check_in_id", "alert_id")
    )
    for check_in_id, alert_id in rows:
        if alert_id not in result[check_in_id]:
            result[check_in_id].append(alert_id)
    return result


def checkin_history(*, patient: Patient, before: datetime) -> list[PastCheckIn]:
    """Every submitted check-in of the patient taken strictly before ``before``.

    All of them, not a window: "in a row" counts have no time limit, and a patient
    followed for five years has about a hundred check-ins."""
    rows = (
        CheckIn.objects.filter(patient=patient, taken_at__lt=before)
        .order_by("taken_at", "id")
        .values_list("taken_at", "answers")
    )
    return [PastCheckIn(taken_at=taken_at, answers=answers) for taken_at, answers in rows]


# --- helpers -----------------------------------------------------------------------------


def _as_time(value: time | str) -> time:
    # A model instance built in memory keeps the field's default as written ("21:00").
    return value if isinstance(value, time) else time.fromisoformat(value)


def quiet_hours_end_after(*, moment: datetime, clinic: Clinic, tz: zoneinfo.ZoneInfo) -> datetime:
    """``moment`` itself, or the end of the quiet hours it falls in (local time, DST
    aware): nothing scheduled is sent to a patient at night (H10)."""
    start, end = _as_time(clinic.quiet_hours_start), _as_time(clinic.quiet_hours_end)
    local = moment.astimezone(tz)
    now_time = local.time()
    if start == end:
        return moment
    if start < end:
        inside = start <= now_time < end
        end_day = local.date()
    else:  # wraps midnight, as 21:00-08:00 does
        inside = now_time >= start or now_time < end
        end_day = local.date() + timedelta(days=1) if now_time >= start else local.date()
    if not inside:
        return moment
    return datetime.combine(end_day, end, tzinfo=tz)


def _local_day(moment: datetime, tz: zoneinfo.ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def _flatten_answer_errors(errors: dict[str, list[str]]) -> dict[str, Any] | list[str]:
    # Answers that are not a JSON object at all: say so under "answers" itself.
    if list(errors) == [NON_FIELD_ERRORS]:
        return errors[NON_FIELD_ERRORS]
    return errors


def _audit(
    *,
    actor: User | None,
    action: AuditAction,
    object_type: str,
    object_ids: list[int],
    patient: Patient,
    request: HttpRequest | None,
) -> None:
    if object_ids:
        audit_record(
            actor=actor,
            action=action,
            object_type=object_type,
            objects=[(pk, patient.pk) for pk in object_ids],
            clinic_id=patient.clinic_id,
            request=request,
        )


def answers_evaluate(*, enrollment: Enrollment, answers: dict[str, Any], moment: datetime, phase: str) -> Evaluation:
    """Judge ``answers`` with the enrollment's rules against the history as it stood at
    ``moment``: the check-in path's judgement, and the one an SMS conversation runs on
    the answers given so far (an absent answer never makes a condition hold)."""
    patient, episode = enrollment.patient, enrollment.episode
    definition = protocol_definition(enrollment.protocol_version)
    tz = zoneinfo.ZoneInfo(patient.timezone)
    return definition.ruleset.evaluate(
        EvaluationInput(
            answers=answers,
            taken_at=moment,
            phase=phase,  # type: ignore[arg-type]
            day_since_discharge=(_local_day(moment, tz) - episode.discharge_date).days,
            day_since_surgery=(_local_day(moment, tz) - episode.surgery_date).days,
            baseline_weight_kg=float(episode.baseline_weight_kg) if episode.baseline_weight_kg is not None else None,
            history=checkin_history(patient=patient, before=moment),
            labs=lab_results_for(patient=patient, at=moment),
            surgery_date=episode.surgery_date,
        )
    )


# --- the service -----------------------------------------------------------------------------


def checkin_submit(
    *,
    patient: Patient,
    answers: object,
    scheduled_check_in_id: int | None = None,
    channel: str,
    submitted_by: User | None = None,
    taken_at: datetime | None = None,
    partial: bool = False,
    unanswered: Collection[str] = (),
    request: HttpRequest | None = None,
) -> CheckInResult:
    """Validate, store and judge one check-in; raise ``CheckInRejected`` (nothing
    stored) on bad input.

    - ``partial``: an SMS conversation that ended before every question was answered
      (H16). What was answered is validated, stored and judged like any check-in; a
      missing required answer is not an error but is listed in ``unanswered`` (with
      the questions the caller names: those left after two unreadable replies), and
      the check-in is stored with ``complete`` false.

    - ``taken_at``: when the answers were given (staff entering a phone call, an
      import, the last answer of an SMS conversation); not in the future, not before
      the episode's discharge date (local), and never set by a patient. Defaults to now.
    - Rules judge the answers against the check-ins taken before ``taken_at`` and the
      labs observed at or before it, so a late entry is judged as things stood then.
    - ``request`` only adds the caller's address and path to the audit rows.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    now = timezone.now()
    with transaction.atomic():
        # One check-in per patient at a time: the history judged is the one stored,
        # and "unless a recall is already open" cannot race.
        enrollment = enrollment_active_locking_patient(patient_id=patient.pk)
        if enrollment is None:
            raise CheckInRejected({"patient": ["This patient is not enrolled on a follow-up protocol."]})
        patient = enrollment.patient
        episode = enrollment.episode
        definition = protocol_definition(enrollment.protocol_version)
        tz = zoneinfo.ZoneInfo(patient.timezone)

        errors: dict[str, Any] = {}
        if taken_at is not None:
            if submitted_by is not None and submitted_by.is_patient:
                errors["taken_at"] = ["Only staff may say when the answers were given."]
            elif taken_at.tzinfo is None:
                errors["taken_at"] = ["Give the time with its offset (ISO 8601)."]
            elif taken_at > now:
                errors["taken_at"] = ["Cannot be in the future."]
            elif _local_day(taken_at, tz) < episode.discharge_date:
                errors["taken_at"] = [f"Cannot be before the discharge date ({episode.discharge_date.isoformat()})."]
        moment = taken_at if taken_at is not None and "taken_at" not in errors else now
        day = (_local_day(moment, tz) - episode.discharge_date).days
        phase = definition.schedule.phase_of_day(max(day, 0))
        cleaned, answer_errors = validate_answers(
            definition,
            answers,
            phase=phase,  # type: ignore[arg-type]
            drain_at_discharge=episode.drain_at_discharge,
            has_pulse_device=enrollment.has_pulse_device,
        )
        missing = [key for key, messages in answer_errors.items() if messages == [REQUIRED]]
        if partial:
            for key in missing:
                del answer_errors[key]
            left = set(missing) | {key for key in unanswered if key not in cleaned}
            unanswered_ids = [q.id for q in definition.questions if q.id in left]
        else:
            unanswered_ids = []
        if answer_errors:
            errors["answers"] = _flatten_answer_errors(answer_errors)
        scheduled = None
        if scheduled_check_in_id is not None:
            scheduled = (
                ScheduledCheckIn.objects.select_for_update().filter(pk=scheduled_check_in_id, patient=patient).first()
            )
            if scheduled is None:
                # Another patient's scheduled check-in reads as unknown (H12).
                errors["scheduled_check_in"] = ["No such scheduled check-in for this patient."]
        if errors:
            raise CheckInRejected(errors)
        if scheduled is not None and scheduled.status not in OPEN_SCHEDULED:
            reason = {
                ScheduledCheckIn.Status.COMPLETED: "This check-in was already answered.",
                ScheduledCheckIn.Status.MISSED: "This check-in was missed and is closed; send the answers "
                "as an unscheduled check-in (scheduled_check_in null).",
                ScheduledCheckIn.Status.CANCELLED: "This check-in was cancelled; send the answers as an "
                "unscheduled check-in (scheduled_check_in null).",
            }.get(scheduled.status, "This check-in is closed.")
            raise CheckInRejected({"scheduled_check_in": [reason]}, status_code=409)

        evaluation = answers_evaluate(enrollment=enrollment, answers=cleaned, moment=moment, phase=phase)
        level = evaluation.level
        if scheduled is not None:
            scheduled.status = ScheduledCheckIn.Status.COMPLETED
            scheduled.closed_at = now
            scheduled.save(update_fields=["status", "closed_at", "updated_at"])
            _audit(
                actor=submitted_by,
                action=AuditAction.UPDATE,
                object_type="scheduled_check_in",
                object_ids=[scheduled.pk],
                patient=patient,
                request=request,
            )
        # Green advice names the next check-in: read after closing this one.
        advice = triage_advice(
            definition=definition,
            level=level,
            patient=patient,
            next_check_in_at=next_check_in_due(patient=patient, after=now) if level == "green" else None,
        )
        check_in = CheckIn.objects.create(
            patient=patient,
            enrollment=enrollment,
            protocol_version=enrollment.protocol_version,
            scheduled_check_in=scheduled,
            answers=cleaned,
            phase=phase,
            taken_at=moment,
            channel=channel,
            submitted_by=submitted_by,
            level=level,
            advice=advice,
            evaluation_trace=evaluation.trace,
            complete=not unanswered_ids,
            unanswered=unanswered_ids,
        )
        _audit(
            actor=submitted_by,
            action=AuditAction.CREATE,
            object_type="check_in",
            object_ids=[check_in.pk],
            patient=patient,
            request=request,
        )
        event_publish(
            clinic_id=patient.clinic_id,
            type="check_in.received",
            data={"id": check_in.pk, "patient": patient.pk, "level": level, "complete": check_in.complete},
        )

        changes: list[AlertChange] = [
            alert_record_finding(
                patient=patient,
                protocol_version=enrollment.protocol_version,
                finding=finding,
                check_in=check_in,
                actor=submitted_by,
                request=request,
            )
            for finding in evaluation.findings
        ]
        follow_through = alert_follow_through(
            patient=patient, enrollment=enrollment, changes=changes, actor=submitted_by, request=request
        )
        follow_up = _follow_up_schedule(
            patient=patient,
            enrollment=enrollment,
            definition=definition,
            findings=evaluation.findings,
            taken_at=moment,
            now=now,
            channel=scheduled.channel if scheduled is not None else ("app" if channel == "app" else "sms"),
            actor=submitted_by,
            request=request,
        )
        if level == "red":
            _red_advice_send(patient=patient, check_in=check_in, advice=advice)
        check_in_stored.send(sender=CheckIn, check_in=check_in)

    alert_ids = []
    for change in changes:
        if change.alert.pk not in alert_ids:
            alert_ids.append(change.alert.pk)
    return CheckInResult(
        check_in=check_in,
        level=level,
        advice=advice,
        alert_ids=alert_ids,
        created_alert_ids=[change.alert.pk for change in changes if change.created],
        recall=follow_through.recall,
        nurse_calls=follow_through.nurse_calls,
        follow_up=follow_up,
    )


def _red_advice_send(*, patient: Patient, check_in: CheckIn, advice: str) -> None:
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
    )


def _follow_up_schedule(
    *,
    patient: Patient,
    enrollment: Enrollment,
    definition: ProtocolDefinition,
    findings: list[Finding],
    taken_at: datetime,
    now: datetime,
    channel: str,
    actor: User | None,
    request: HttpRequest | None,
) -> ScheduledCheckIn | None:
    """The extra check-in a finding asks for (an amber fever: again in 12 h), moved to
    the end of the patient's quiet hours when it would fall inside them. One pending
    extra check-in is enough: a second finding before it is due does not add another."""
    hours = [finding.follow_up_check_in_hours for finding in findings if finding.follow_up_check_in_hours]
    if not hours:
        return None
    if ScheduledCheckIn.objects.filter(
        patient=patient, origin=ScheduledCheckIn.Origin.RULE, status__in=OPEN_SCHEDULED, due_at__gt=now
    ).exists():
        return None
    tz = zoneinfo.ZoneInfo(patient.timezone)
    # From when the answers were given; a late entry whose follow-up time has passed
    # asks again now rather than never.
    due = max(taken_at + timedelta(hours=min(hours)), now)
    due = quiet_hours_end_after(moment=due, clinic=patient.clinic, tz=tz)
    day = (_local_day(due, tz) - enrollment.episode.discharge_date).days
    follow_up = ScheduledCheckIn.objects.create(
        patient=patient,
        enrollment=enrollment,
        due_at=due,
        channel=channel,
        phase=definition.schedule.phase_of_day(max(day, 0)),
        day=day,
        origin=ScheduledCheckIn.Origin.RULE,
    )
    _audit(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="scheduled_check_in",
        object_ids=[follow_up.pk],
        patient=patient,
        request=request,
    )
    return follow_up
