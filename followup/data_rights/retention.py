"""When the law allows a patient's data to be erased.

The follow-up ends with its last clinical event (discharge, check-in, lab result,
appointment, scheduled check-in) once no enrollment is active. The record is then kept
for the retention period of every country that applies (the clinic's and the
patient's, by the country codes of their phone numbers: settings ``VIGIL_RETENTION``),
the longest one winning. A withdrawal of consent allows erasure at once only where no
retention duty applies (``retention_duty`` false for every country concerned)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import phonenumbers
from django.conf import settings
from django.db.models import DateField, DateTimeField, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from backend.models import Episode, Patient
from followup.models import Appointment, CheckIn, Enrollment, Observation, ScheduledCheckIn


@dataclass(frozen=True)
class CountryRule:
    country: str
    years: int
    retention_duty: bool
    basis: str


@dataclass(frozen=True)
class RetentionStatus:
    """What the law says about one patient's data today."""

    rules: tuple[CountryRule, ...]
    follow_up_active: bool
    follow_up_ended_on: date | None
    retention_until: date | None
    consent_withdrawn: bool
    erased: bool
    erasable: bool

    @property
    def years(self) -> int:
        return max(rule.years for rule in self.rules)

    @property
    def countries(self) -> list[str]:
        return [rule.country for rule in self.rules]


def _country_of(number: object) -> str | None:
    try:
        parsed = phonenumbers.parse(str(number), None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed)


def country_rule(country: str | None) -> CountryRule:
    entry = settings.VIGIL_RETENTION.get(country or "")
    if entry is None:
        return CountryRule(
            country=country or "?",
            years=settings.VIGIL_RETENTION_DEFAULT_YEARS,
            retention_duty=True,
            basis="VIGIL_RETENTION_DEFAULT_YEARS",
        )
    return CountryRule(
        country=country or "?", years=entry["years"], retention_duty=entry["retention_duty"], basis=entry["basis"]
    )


def retention_rules(*, patient: Patient) -> tuple[CountryRule, ...]:
    """The clinic's country first, then the patient's where it differs."""
    countries = [_country_of(patient.clinic.phone), _country_of(patient.phone)]
    unique = list(dict.fromkeys(countries))
    return tuple(country_rule(country) for country in unique)


def years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return day.replace(year=day.year + years, day=28)


def _latest(model: type, field: str, *, exclude: Q | None = None) -> Subquery:
    rows: QuerySet = model.objects.filter(patient_id=OuterRef("pk"))  # type: ignore[attr-defined]
    if exclude is not None:
        rows = rows.exclude(exclude)
    latest = rows.order_by().values("patient_id").annotate(latest=Max(field)).values("latest")
    return Subquery(latest, output_field=DateTimeField())


def patients_with_follow_up_end(queryset: QuerySet[Patient]) -> QuerySet[Patient]:
    """Annotates ``follow_up_last_at`` (the last clinical event, a datetime or the
    discharge date at midnight) and ``follow_up_active`` (an enrollment still runs):
    one query for any number of patients (the nightly review reads them all)."""
    discharge = Subquery(
        Episode.objects.filter(patient_id=OuterRef("pk"))
        .order_by()
        .values("patient_id")
        .annotate(latest=Max("discharge_date"))
        .values("latest"),
        output_field=DateField(),
    )
    cancelled = Q(status="cancelled")
    candidates = [
        _latest(CheckIn, "taken_at"),
        _latest(Observation, "observed_at"),
        _latest(Appointment, "starts_at", exclude=cancelled | Q(status="proposed")),
        _latest(ScheduledCheckIn, "due_at", exclude=cancelled),
    ]
    active = Enrollment.objects.filter(patient_id=OuterRef("pk"), status=Enrollment.Status.ACTIVE)
    return queryset.annotate(
        follow_up_active=Exists(active),
        follow_up_discharge=discharge,
        **{f"follow_up_last_{index}": value for index, value in enumerate(candidates)},
    )


def _last_day(patient: Patient) -> date | None:
    """The day of the last clinical event (in the server's zone, UTC)."""
    moments = [getattr(patient, f"follow_up_last_{index}", None) for index in range(4)]
    # A patient registered and never followed up: their record ends when it began.
    days = [timezone.localdate(moment) for moment in [*moments, patient.created_at] if moment is not None]
    if patient.follow_up_discharge is not None:  # type: ignore[attr-defined]
        days.append(patient.follow_up_discharge)  # type: ignore[attr-defined]
    return max(days) if days else None


def retention_status(*, patient: Patient, today: date | None = None) -> RetentionStatus:
    """The retention date of one patient and whether erasure is allowed ``today``.
    A patient read without the annotations is read again with them."""
    if not hasattr(patient, "follow_up_active"):
        patient = patients_with_follow_up_end(Patient.objects.select_related("clinic").filter(pk=patient.pk)).get()
    today = today or timezone.localdate()
    rules = retention_rules(patient=patient)
    active = bool(patient.follow_up_active)  # type: ignore[attr-defined]
    ended_on = None if active else _last_day(patient)
    until = years_after(ended_on, max(rule.years for rule in rules)) if ended_on is not None else None
    withdrawn = patient.consent_withdrawn_at is not None
    no_duty = not any(rule.retention_duty for rule in rules)
    erasable = patient.erased_at is None and (
        (until is not None and today >= until) or (withdrawn and no_duty and not active)
    )
    return RetentionStatus(
        rules=rules,
        follow_up_active=active,
        follow_up_ended_on=ended_on,
        retention_until=until,
        consent_withdrawn=withdrawn,
        erased=patient.erased_at is not None,
        erasable=erasable,
    )
