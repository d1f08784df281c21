"""Quiet hours, read on the patient's own clock, DST aware: the patient's own when
staff set them (``Patient.quiet_hours_start``/``_end``, a night-shift worker sleeps by
day), else the clinic's night (21:00-08:00 by default). Nothing scheduled is texted to
a patient inside them (H10); what a patient's own message, a red finding or a nurse's
explicit send or reply sends is never held by them (H2).

The one reading of quiet hours: the clock's ticks select the patients awake now with
``awake_condition``, a planned send asks ``quiet_hours_end_after``."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Patient, User


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


def quiet_hours_of(
    *,
    own_start: time | str | None,
    own_end: time | str | None,
    clinic_start: time | str,
    clinic_end: time | str,
) -> tuple[time, time]:
    """The hours that apply: the patient's own when set (both are, or neither: a
    database constraint), else the clinic's."""
    if own_start is not None and own_end is not None:
        return _as_time(own_start), _as_time(own_end)
    return _as_time(clinic_start), _as_time(clinic_end)


def patient_quiet_hours(patient: Patient) -> tuple[time, time]:
    return quiet_hours_of(
        own_start=patient.quiet_hours_start,
        own_end=patient.quiet_hours_end,
        clinic_start=patient.clinic.quiet_hours_start,
        clinic_end=patient.clinic.quiet_hours_end,
    )


def in_quiet_hours(*, now: datetime, tz: str, start: time | str, end: time | str) -> bool:
    """Whether ``now`` falls in the quiet hours ``start``-``end``, read on the clock of ``tz``."""
    local = now.astimezone(zoneinfo.ZoneInfo(tz))
    return _quiet_until(local, _as_time(start), _as_time(end)) is not None


def quiet_hours_end_after(*, moment: datetime, patient: Patient) -> datetime:
    """``moment`` itself, or the end of the patient's quiet hours it falls in."""
    start, end = patient_quiet_hours(patient)
    tz = zoneinfo.ZoneInfo(patient.timezone)
    until = _quiet_until(moment.astimezone(tz), start, end)
    return moment if until is None else datetime.combine(until, end, tzinfo=tz)


_GROUP_FIELDS = (
    "patient__timezone",
    "patient__quiet_hours_start",
    "patient__quiet_hours_end",
    "patient__clinic__quiet_hours_start",
    "patient__clinic__quiet_hours_end",
)


def _same_value(field: str, value: Any) -> Q:
    return Q(**{f"{field}__isnull": True}) if value is None else Q(**{field: value})


def awake_condition(candidates: QuerySet[Any], *, now: datetime) -> Q | None:
    """A condition selecting the candidates (rows with a ``patient``) whose patient is
    outside quiet hours now; None when nobody is.

    Quiet hours depend on (time zone, the patient's own hours, the clinic's): one query
    lists the combinations among the candidates, a handful whatever the number of
    patients, and each is judged here."""
    groups = candidates.order_by().values_list(*_GROUP_FIELDS).distinct()
    awake = Q(pk__in=[])
    any_awake = False
    for tz, own_start, own_end, clinic_start, clinic_end in groups:
        start, end = quiet_hours_of(
            own_start=own_start, own_end=own_end, clinic_start=clinic_start, clinic_end=clinic_end
        )
        if in_quiet_hours(now=now, tz=tz, start=start, end=end):
            continue
        group = Q()
        for field, value in zip(_GROUP_FIELDS, (tz, own_start, own_end, clinic_start, clinic_end), strict=True):
            group &= _same_value(field, value)
        awake |= group
        any_awake = True
    return awake if any_awake else None


class QuietHoursRejected(ValueError):
    """Only one end given (400): ``errors`` names the field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def patient_quiet_hours_set(
    *, patient: Patient, start: time | None, end: time | None, by: User, audit: AuditContext | None = None
) -> Patient:
    """Give the patient their own quiet hours, or (both None) hand them back to the
    clinic's. Every tick and planned send reads them from then on; what is already in
    the outbox keeps the time it was given."""
    if (start is None) != (end is None):
        missing = "quiet_hours_start" if start is None else "quiet_hours_end"
        raise QuietHoursRejected({missing: [gettext("Give both times, or clear both for the clinic's quiet hours.")]})
    with transaction.atomic():
        Patient.objects.filter(pk=patient.pk).update(
            quiet_hours_start=start, quiet_hours_end=end, updated_at=timezone.now()
        )
        patient.quiet_hours_start, patient.quiet_hours_end = start, end
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            object_type="patient",
            objects=[(patient.pk, patient.pk)],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
    return patient
