"""The first step of the check-in path: everything a check-in is checked against before
anything is judged or stored. Either a ``Submission`` comes out (the patient's row
locked, the scheduled check-in locked, the answers cleaned) or ``CheckInRejected``
with every error named, and nothing has changed (API.md: bad input changes nothing)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from backend.models import Patient, User
from followup.models import CheckIn, Enrollment, ScheduledCheckIn
from followup.protocols import ProtocolDefinition, validate_answers
from followup.protocols.answers import NON_FIELD_ERRORS, REQUIRED
from followup.selectors import OPEN_CHECKIN_STATUSES, active_enrollment_locking_patient
from followup.services.protocols import protocol_definition

CHANNELS = frozenset(CheckIn.Source.values)
# How old the answers a patient's phone queued offline may be when they reach us.
PATIENT_TAKEN_AT_MAX_AGE = timedelta(days=3)
# A phone's clock running this much fast still means "just now": refusing the time would
# make the app drop answers a patient gave (a red one among them) for a clock setting.
PATIENT_CLOCK_SKEW = timedelta(minutes=10)
_CLOSED_REASONS = {
    ScheduledCheckIn.Status.COMPLETED: "This check-in was already answered.",
    ScheduledCheckIn.Status.MISSED: "This check-in was missed and is closed; send the answers "
    "as an unscheduled check-in (scheduled_check_in null).",
    ScheduledCheckIn.Status.CANCELLED: "This check-in was cancelled; send the answers as an "
    "unscheduled check-in (scheduled_check_in null).",
}


class CheckInRejected(Exception):
    """The check-in was not stored. ``errors`` is DRF-shaped, answers nested by
    question id; ``status_code`` is 400 for bad input, 409 for a state conflict (the
    scheduled check-in was already answered, missed or cancelled)."""

    def __init__(self, errors: dict[str, Any], *, status_code: int = 400) -> None:
        super().__init__(errors)
        self.errors = errors
        self.status_code = status_code


@dataclass(frozen=True)
class Submission:
    """A check-in that passed every check: what the next steps judge and store."""

    enrollment: Enrollment
    definition: ProtocolDefinition
    scheduled: ScheduledCheckIn | None
    answers: dict[str, Any]
    unanswered: list[str]
    moment: datetime  # when the answers were given
    phase: str
    channel: str
    submitted_by: User | None
    now: datetime

    @property
    def patient(self) -> Patient:
        return self.enrollment.patient


def local_day(moment: datetime, tz: zoneinfo.ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def _taken_at_errors(
    *, taken_at: datetime | None, submitted_by: User | None, enrollment: Enrollment, now: datetime
) -> list[str]:
    if taken_at is None:
        return []
    discharge = enrollment.episode.discharge_date
    if taken_at.tzinfo is None:
        return ["Give the time with its offset (ISO 8601)."]
    if taken_at > now:
        return ["Cannot be in the future."]
    # The app sends answers given offline with the time they were given (issue 18);
    # a phone cannot hold them back longer than a patient's answers stay current.
    if submitted_by is not None and submitted_by.is_patient and taken_at < now - PATIENT_TAKEN_AT_MAX_AGE:
        return [f"Answers given more than {PATIENT_TAKEN_AT_MAX_AGE.days} days ago cannot be sent; answer again."]
    if local_day(taken_at, zoneinfo.ZoneInfo(enrollment.patient.timezone)) < discharge:
        return [f"Cannot be before the discharge date ({discharge.isoformat()})."]
    return []


def _answer_time(*, taken_at: datetime | None, submitted_by: User | None, now: datetime) -> datetime | None:
    """``taken_at`` as given, or now for a patient's phone whose clock runs a little fast."""
    patient = submitted_by is not None and submitted_by.is_patient
    if patient and taken_at is not None and taken_at.tzinfo is not None and now < taken_at <= now + PATIENT_CLOCK_SKEW:
        return now
    return taken_at


def _answers_checked(
    *,
    enrollment: Enrollment,
    definition: ProtocolDefinition,
    answers: object,
    phase: str,
    partial: bool,
    unanswered: Collection[str],
) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """(cleaned answers, unanswered question ids, errors). In ``partial`` mode (an SMS
    conversation that ended early, H16) a missing required answer is not an error but
    unanswered, with the questions the caller names (left after two unreadable replies)."""
    cleaned, errors = validate_answers(
        definition,
        answers,
        phase=phase,  # type: ignore[arg-type]
        drain_at_discharge=enrollment.episode.drain_at_discharge,
        has_pulse_device=enrollment.has_pulse_device,
    )
    unanswered_ids: list[str] = []
    if partial:
        missing = {key for key, messages in errors.items() if messages == [REQUIRED]}
        for key in missing:
            del errors[key]
        left = missing | {key for key in unanswered if key not in cleaned}
        unanswered_ids = [q.id for q in definition.questions if q.id in left]
    # Answers that are not a JSON object at all: say so under "answers" itself.
    shown: dict[str, Any] | list[str] = errors[NON_FIELD_ERRORS] if list(errors) == [NON_FIELD_ERRORS] else errors
    return cleaned, unanswered_ids, ({"answers": shown} if errors else {})


def _scheduled_locked(*, scheduled_check_in_id: int | None, patient: Patient) -> ScheduledCheckIn | None:
    if scheduled_check_in_id is None:
        return None
    return ScheduledCheckIn.objects.select_for_update().filter(pk=scheduled_check_in_id, patient=patient).first()


def _refuse_closed(scheduled: ScheduledCheckIn | None) -> None:
    if scheduled is not None and scheduled.status not in OPEN_CHECKIN_STATUSES:
        reason = _CLOSED_REASONS.get(scheduled.status, "This check-in is closed.")
        raise CheckInRejected({"scheduled_check_in": [reason]}, status_code=409)


def submission_validate(
    *,
    patient_id: int,
    answers: object,
    scheduled_check_in_id: int | None,
    channel: str,
    submitted_by: User | None,
    taken_at: datetime | None,
    partial: bool,
    unanswered: Collection[str],
    now: datetime,
) -> Submission:
    """Check one check-in inside the caller's transaction; raise ``CheckInRejected``."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    # One check-in per patient at a time: the history judged is the one stored, and
    # "unless a recall is already open" cannot race.
    enrollment = active_enrollment_locking_patient(
        patient_id=patient_id, next_check_in_after=now, answering=scheduled_check_in_id
    )
    if enrollment is None:
        raise CheckInRejected({"patient": ["This patient is not enrolled on a follow-up protocol."]})
    definition = protocol_definition(enrollment.protocol_version)
    errors: dict[str, Any] = {}
    taken_at = _answer_time(taken_at=taken_at, submitted_by=submitted_by, now=now)
    if taken_at_errors := _taken_at_errors(
        taken_at=taken_at, submitted_by=submitted_by, enrollment=enrollment, now=now
    ):
        errors["taken_at"] = taken_at_errors
    moment = taken_at if taken_at is not None and not errors else now
    day = (local_day(moment, zoneinfo.ZoneInfo(enrollment.patient.timezone)) - enrollment.episode.discharge_date).days
    phase = definition.schedule.phase_of_day(max(day, 0))
    cleaned, unanswered_ids, answer_errors = _answers_checked(
        enrollment=enrollment,
        definition=definition,
        answers=answers,
        phase=phase,
        partial=partial,
        unanswered=unanswered,
    )
    errors.update(answer_errors)
    scheduled = _scheduled_locked(scheduled_check_in_id=scheduled_check_in_id, patient=enrollment.patient)
    if scheduled_check_in_id is not None and scheduled is None:
        # Another patient's scheduled check-in reads as unknown (H12).
        errors["scheduled_check_in"] = ["No such scheduled check-in for this patient."]
    if errors:
        raise CheckInRejected(errors)
    _refuse_closed(scheduled)
    return Submission(
        enrollment=enrollment,
        definition=definition,
        scheduled=scheduled,
        answers=cleaned,
        unanswered=unanswered_ids,
        moment=moment,
        phase=phase,
        channel=channel,
        submitted_by=submitted_by,
        now=now,
    )
