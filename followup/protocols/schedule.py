"""A patient's follow-up plan from the protocol's schedule template (pure Python).

Every date is counted in the patient's time zone from the discharge date (day 1
is the day after discharge) and every local time is converted to UTC with
``zoneinfo`` for that very date, so a 09:00 check-in stays at 09:00 local across
daylight-saving changes (hazards H10, H14). The plan is computed from the
episode's dates alone: recomputing it after a date is corrected gives the same
items for what has not happened yet, and ``key`` lets the caller match them.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .definition import ProtocolDefinition, ScheduleEntry


@dataclass(frozen=True)
class PlannedItem:
    """One planned check-in, visit, lab or imaging.

    ``due_at`` is an aware UTC datetime; the item is open for ``window_minutes``
    after it. ``day`` counts days since discharge (day 1 = the day after).
    ``detail`` describes it for staff ("CT of chest, abdomen and pelvis"),
    ``labs`` lists the lab codes of a lab item. ``key`` is stable for a given
    protocol template ("check_in:d016", "lab:m06"), unique within a plan.
    """

    kind: str
    due_at: datetime
    window_minutes: int
    phase: str
    day: int
    detail: str
    labs: tuple[str, ...]
    key: str
    # A check-in's reminder, minutes after it opens, when its entry says (v2: 24 h
    # into a surveillance check-in's 72 h); None: the default timing.
    reminder_minutes: int | None = None

    @property
    def closes_at(self) -> datetime:
        return self.due_at + timedelta(minutes=self.window_minutes)

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "kind": self.kind,
            "due_at": self.due_at.isoformat(),
            "window_minutes": self.window_minutes,
            "phase": self.phase,
            "day": self.day,
            "detail": self.detail,
            "labs": list(self.labs),
        }


def add_months(start: date, months: int) -> date:
    """The same day ``months`` calendar months later (the 31st → the month's last day)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _entry_days(entry: ScheduleEntry, discharge_date: date, first_surveillance_day: int) -> list[tuple[int, str]]:
    """(day since discharge, key suffix) of each occurrence of ``entry``."""
    occurrences: list[tuple[int, str]] = []
    if entry.unit == "day":
        for day in range(entry.first, entry.last + 1, entry.every):
            if entry.weekdays and (discharge_date + timedelta(days=day)).weekday() not in entry.weekdays:
                continue
            occurrences.append((day, f"d{day:03d}"))
    else:
        for month in range(entry.first, entry.last + 1, entry.every):
            day = (add_months(discharge_date, month) - discharge_date).days
            # Three calendar months are 89-92 days: a month-3 item that would
            # fall inside the acute phase opens the surveillance phase instead.
            occurrences.append((max(day, first_surveillance_day), f"m{month:02d}"))
    return occurrences


def generate_plan(
    protocol: ProtocolDefinition,
    *,
    discharge_date: date,
    surgery_date: date | None,
    tz: str,
    enrolled_at: datetime,
) -> list[PlannedItem]:
    """The whole plan (five years for the default protocol), sorted by ``due_at``.

    Enrolling mid-way starts at today's point of the template: an item whose
    window has already closed at ``enrolled_at`` is not generated (it is not a
    missed check-in; the patient was not enrolled yet).
    Raises ``ValueError`` for an unknown time zone, a naive ``enrolled_at`` or a
    surgery date after the discharge date.
    """
    if enrolled_at.tzinfo is None or enrolled_at.utcoffset() is None:
        raise ValueError(f"enrolled_at must be timezone-aware, got {enrolled_at!r}")
    if surgery_date is not None and surgery_date > discharge_date:
        raise ValueError(f"surgery date {surgery_date} is after the discharge date {discharge_date}")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None

    template = protocol.schedule
    first_surveillance_day = template.acute_last_day + 1
    items: list[PlannedItem] = []
    for entry in template.entries:
        for day, suffix in _entry_days(entry, discharge_date, first_surveillance_day):
            local = datetime.combine(discharge_date + timedelta(days=day), entry.at, tzinfo=zone)
            due_at = local.astimezone(UTC)
            if due_at + timedelta(minutes=entry.window_minutes) <= enrolled_at:
                continue
            items.append(
                PlannedItem(
                    kind=entry.kind,
                    due_at=due_at,
                    window_minutes=entry.window_minutes,
                    phase=entry.phase,
                    day=day,
                    detail=entry.detail,
                    labs=entry.labs,
                    key=f"{entry.kind}:{suffix}",
                    reminder_minutes=entry.reminder_minutes,
                )
            )
    items.sort(key=lambda item: (item.due_at, item.kind, item.key))
    return items
