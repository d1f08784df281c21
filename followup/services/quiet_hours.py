"""Quiet hours: the clinic's night (21:00-08:00 by default) read on the patient's own
clock, DST aware. Nothing scheduled is texted to a patient inside them (H10); what a
patient's own message or a red finding sends is never held by them (H2). The one
reading of quiet hours: the clock's ticks ask ``in_quiet_hours``, a planned send asks
``quiet_hours_end_after``."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

from backend.models import Clinic


def _as_time(value: time | str) -> time:
    # A model instance built in memory keeps the field's default as written ("21:00").
    return value if isinstance(value, time) else time.fromisoformat(value)


def _quiet_until(local: datetime, start: time, end: time) -> date | None:
    """The local day the quiet hours around ``local`` end on, or None outside them."""
    now = local.time()
    if start == end:
        return None
    if start < end:
        return local.date() if start <= now < end else None
    # Wraps midnight, as 21:00-08:00 does.
    if now >= start:
        return local.date() + timedelta(days=1)
    return local.date() if now < end else None


def in_quiet_hours(*, now: datetime, tz: str, start: time | str, end: time | str) -> bool:
    """Whether ``now`` falls in the quiet hours, read on the patient's local clock."""
    local = now.astimezone(zoneinfo.ZoneInfo(tz))
    return _quiet_until(local, _as_time(start), _as_time(end)) is not None


def quiet_hours_end_after(*, moment: datetime, clinic: Clinic, tz: zoneinfo.ZoneInfo) -> datetime:
    """``moment`` itself, or the end of the quiet hours it falls in."""
    end = _as_time(clinic.quiet_hours_end)
    until = _quiet_until(moment.astimezone(tz), _as_time(clinic.quiet_hours_start), end)
    return moment if until is None else datetime.combine(until, end, tzinfo=tz)
