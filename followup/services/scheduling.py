"""Nurse scheduling, what its two halves share: the errors a change is refused with,
the day and phase of a moment in the patient's follow-up, the checks on times and
windows, and the audit row. The changes themselves: ``scheduled_checkins`` (add,
move, cancel a check-in, send one now) and ``appointment_changes`` (add, move an
appointment; a recall a nurse adds is texted to the patient).

Every change is made by a named person (``by``) and writes its audit row in the same
transaction; nothing is deleted: a cancelled check-in or appointment stays as history.
Times are aware datetimes, stored in UTC; the patient's day count is computed in the
patient's time zone from the enrolled episode's discharge date (H14), and its phase
(acute or surveillance) from the enrollment's protocol version (``acute_last_day``).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from followup.models import Enrollment, ScheduledCheckIn
from followup.services.protocols import protocol_definition

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


def check_window(errors: dict[str, list[str]], window_minutes: int) -> None:
    if not MIN_WINDOW_MINUTES <= window_minutes <= MAX_WINDOW_MINUTES:
        errors.setdefault("window_minutes", []).append(
            f"Must be between {MIN_WINDOW_MINUTES} and {MAX_WINDOW_MINUTES} minutes."
        )


def check_aware(errors: dict[str, list[str]], field: str, value: datetime) -> None:
    # A time without its offset would be read in the server's zone, not the patient's:
    # the kind of silent shift H14 is about.
    if value.tzinfo is None or value.utcoffset() is None:
        errors.setdefault(field, []).append("Give the time with its UTC offset (ISO 8601).")
