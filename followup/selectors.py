"""Reads: the active enrollment, check-ins, plans, scheduled check-ins, appointments and
the worklist. Lists are scoped to the caller: staff see their clinic's rows, a patient
only their own; anything else is simply not found (H12). Each selector costs a fixed number of queries whatever the
number of rows (select_related / prefetch), so lists and pages have no N+1."""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

from django.db import connection, models
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from backend.joined_rows import Joined, JoinedRow, conversion_of, convert
from backend.models import Clinic, Episode, Patient, User
from backend.prepared import prepared_cursor
from followup.models import (
    Alert,
    AlertOccurrence,
    Appointment,
    CheckIn,
    Enrollment,
    ScheduledCheckIn,
    WorklistItem,
)
from followup.services.protocols import protocol_version_stored

OPEN_CHECKIN_STATUSES = (ScheduledCheckIn.Status.SCHEDULED, ScheduledCheckIn.Status.SENT)
UPCOMING_APPOINTMENT_STATUSES = (
    Appointment.Status.PROPOSED,
    Appointment.Status.SCHEDULED,
    Appointment.Status.CONFIRMED,
)


# --- enrollment and check-ins ------------------------------------------------------------------


def _active_enrollments(*, patient_id: int) -> QuerySet[Enrollment]:
    # The latest first, should a second operation have enrolled a second episode.
    return (
        Enrollment.objects.select_related("episode", "protocol_version__protocol")
        .filter(patient_id=patient_id, status=Enrollment.Status.ACTIVE)
        .order_by("-enrolled_at", "-id")
    )


def active_enrollment(*, patient_id: int) -> Enrollment | None:
    """The patient's active enrollment (with its episode and protocol version): the one
    reading of "the enrollment a patient is followed on"."""
    return _active_enrollments(patient_id=patient_id).first()


_ENROLLMENT_ROW = JoinedRow(
    [
        Joined(Enrollment, "e"),
        Joined(Episode, "ep", via=("e", "episode")),
        Joined(Patient, "p", via=("e", "patient")),
        Joined(Clinic, "c", via=("p", "clinic")),
    ]
)
_NEXT_DUE = models.DateTimeField()


@cache
def _enrollment_sql(vendor: str, *, next_due: bool, excluding_answered: bool) -> str:
    """The statement of ``active_enrollment_locking_patient``, built once per shape."""
    next_due_sql = "NULL"
    if next_due:
        excluded = "AND s.id <> %s" if excluding_answered else ""
        next_due_sql = (
            f"(SELECT s.due_at FROM {ScheduledCheckIn._meta.db_table} s WHERE s.patient_id = e.patient_id "  # noqa: S608
            f"AND s.status IN (%s, %s) AND s.due_at > %s {excluded} ORDER BY s.due_at LIMIT 1)"
        )
    lock = " FOR UPDATE OF p" if connection.features.has_select_for_update_of else ""
    return (
        f"SELECT {_ENROLLMENT_ROW.select_list()}, {next_due_sql} FROM {Enrollment._meta.db_table} e "  # noqa: S608
        f"JOIN {Patient._meta.db_table} p ON p.id = e.patient_id "
        f"JOIN {Episode._meta.db_table} ep ON ep.id = e.episode_id "
        f"JOIN {Clinic._meta.db_table} c ON c.id = p.clinic_id "
        f"WHERE e.patient_id = %s AND e.status = %s "
        # The latest first, should a second operation have enrolled a second episode.
        f"ORDER BY e.enrolled_at DESC, e.id DESC LIMIT 1{lock}"
    )


def active_enrollment_locking_patient(
    *, patient_id: int, next_check_in_after: datetime | None = None, answering: int | None = None
) -> Enrollment | None:
    """The active enrollment with its episode, protocol version and the patient (and
    clinic) read fresh, the patient's row locked until commit: one query where a lock
    and a read were two. No active enrollment: nothing to judge, so nothing is locked.

    With ``next_check_in_after``, the enrollment also carries ``next_check_in_due_at``:
    when the patient's next open check-in falls due after that time, not counting the
    scheduled check-in being ``answering`` (the green advice names it; read in this
    query rather than in one of its own, on the check-in path).

    The check-in path's first statement, so written in SQL (``backend.joined_rows``):
    the same rows and instances as ``_active_enrollments(...).select_related(
    "patient__clinic").select_for_update(of=("patient",))``, without compiling that
    queryset on every check-in (issue 17); the protocol version comes from
    ``protocol_version_stored``."""
    params: list[object] = []
    if next_check_in_after is not None:
        params += [*OPEN_CHECKIN_STATUSES, connection.ops.adapt_datetimefield_value(next_check_in_after)]
        params += [answering] if answering is not None else []
    sql = _enrollment_sql(
        connection.vendor, next_due=next_check_in_after is not None, excluding_answered=answering is not None
    )
    with prepared_cursor() as cursor:
        cursor.execute(sql, [*params, patient_id, Enrollment.Status.ACTIVE])
        row = cursor.fetchone()
    if row is None:
        return None
    enrollment = _ENROLLMENT_ROW.instances(row)["e"]
    # Its version never changes: remembered per process, not joined (two tables fewer
    # to plan, about 0.8 ms of PostgreSQL's time per check-in).
    Enrollment.protocol_version.field.set_cached_value(
        enrollment, protocol_version_stored(enrollment.protocol_version_id)
    )
    if next_check_in_after is not None:
        enrollment.next_check_in_due_at = convert([row[-1]], [conversion_of(_NEXT_DUE, Value(None, _NEXT_DUE))])[0]
    return enrollment  # type: ignore[return-value]


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


# --- alerts ------------------------------------------------------------------------------------------


def alert_list(
    *,
    clinic_id: int,
    statuses: Sequence[str] = (),
    severities: Sequence[str] = (),
    patient_id: int | None = None,
) -> QuerySet[Alert]:
    """A clinic's alerts, red first, then oldest first (the one waiting longest on
    top: H7). Without a status filter every status is listed."""
    alerts = Alert.objects.filter(clinic_id=clinic_id)
    if statuses:
        alerts = alerts.filter(status__in=statuses)
    if severities:
        alerts = alerts.filter(severity__in=severities)
    if patient_id is not None:
        alerts = alerts.filter(patient_id=patient_id)
    return alerts.annotate(
        severity_rank=Case(
            When(severity=Alert.Severity.RED, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    ).order_by("severity_rank", "created_at", "id")


def alert_list_with_detail(alerts: QuerySet[Alert]) -> QuerySet[Alert]:
    """What ``alert_data`` reads, fetched in two queries for any number of alerts."""
    return alerts.prefetch_related("occurrences", "escalation_steps")


# --- plans, appointments, worklist -----------------------------------------------------------------


def _clinic_filter(user: User) -> Q | None:
    if getattr(user, "is_clinic_staff", False):
        return Q(patient__clinic_id=user.clinic_id)
    return None


def scheduled_checkin_list(*, user: User) -> QuerySet[ScheduledCheckIn]:
    """The clinic's scheduled check-ins for staff; nothing for anyone else."""
    condition = _clinic_filter(user)
    if condition is None:
        return ScheduledCheckIn.objects.none()
    return ScheduledCheckIn.objects.filter(condition).select_related("check_in").order_by("due_at", "id")


def appointment_list(*, user: User) -> QuerySet[Appointment]:
    condition = _clinic_filter(user)
    if condition is None:
        return Appointment.objects.none()
    return Appointment.objects.filter(condition).order_by("starts_at", "id")


def worklist_item_list(*, user: User) -> QuerySet[WorklistItem]:
    """The clinic's worklist, oldest first: the call waiting longest on top."""
    if not getattr(user, "is_clinic_staff", False):
        return WorklistItem.objects.none()
    return (
        WorklistItem.objects.filter(clinic_id=user.clinic_id)
        .select_related("patient", "scheduled_check_in")
        .order_by("created_at", "id")
    )


def enrollment_list(*, user: User) -> QuerySet[Enrollment]:
    condition = _clinic_filter(user)
    if condition is None:
        return Enrollment.objects.none()
    return Enrollment.objects.filter(condition).select_related("protocol_version__protocol").order_by("id")


def patient_get(*, user: User, patient_id: int) -> Patient | None:
    """A patient of the staff member's clinic, or None (not found, whatever the reason)."""
    if not getattr(user, "is_clinic_staff", False):
        return None
    return Patient.objects.select_related("clinic").filter(pk=patient_id, clinic_id=user.clinic_id).first()


# --- the patient's own view (GET /api/v1/me/) ----------------------------------------------------


@dataclass(frozen=True)
class PatientSummary:
    patient: Patient
    next_check_in: ScheduledCheckIn | None
    upcoming_appointments: list[Appointment]
    open_recall: Appointment | None
    recent_check_ins: list[CheckIn]
    check_in_counts: dict[str, int]
    missed_check_ins: int
    enrollment: Enrollment | None


def patient_summary_get(*, patient: Patient, now: datetime, recent: int = 10) -> PatientSummary:
    """What a patient sees about themselves: the next check-in they can answer (one
    open now first, else the next ahead), upcoming appointments, an open recall, and
    their history in short. Seven queries whatever the history's length."""
    # A window is at most a fortnight long (scheduling.MAX_WINDOW_MINUTES), so an
    # answerable check-in was due within the last fortnight. Closed windows still
    # "sent" wait for the next tick to be marked missed: not answerable, skipped.
    candidates = ScheduledCheckIn.objects.filter(
        patient=patient, status__in=OPEN_CHECKIN_STATUSES, due_at__gte=now - timedelta(days=14)
    ).order_by("due_at", "id")[:20]
    open_or_ahead = [row for row in candidates if row.due_at + timedelta(minutes=row.window_minutes) > now]
    upcoming = list(
        Appointment.objects.filter(
            patient=patient, status__in=UPCOMING_APPOINTMENT_STATUSES, starts_at__gte=now - timedelta(hours=2)
        )
        .exclude(kind=Appointment.Kind.RECALL)
        .order_by("starts_at", "id")[:20]
    )
    recall = (
        Appointment.objects.filter(
            patient=patient, kind=Appointment.Kind.RECALL, status__in=UPCOMING_APPOINTMENT_STATUSES
        )
        .order_by("starts_at", "id")
        .first()
    )
    recent_check_ins = list(CheckIn.objects.filter(patient=patient).order_by("-taken_at", "-id")[:recent])
    counts = dict.fromkeys(CheckIn.Level.values, 0)
    for level, count in CheckIn.objects.filter(patient=patient).values_list("level").annotate(count=Count("id")):
        counts[level] = count
    missed = ScheduledCheckIn.objects.filter(patient=patient, status=ScheduledCheckIn.Status.MISSED).count()
    enrollment = active_enrollment(patient_id=patient.pk)
    return PatientSummary(
        patient=patient,
        next_check_in=open_or_ahead[0] if open_or_ahead else None,
        upcoming_appointments=upcoming,
        open_recall=recall,
        recent_check_ins=recent_check_ins,
        check_in_counts=counts,
        missed_check_ins=missed,
        enrollment=enrollment,
    )


# --- staff pages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClinicDay:
    day: date
    tz: str
    check_ins: list[ScheduledCheckIn]
    appointments: list[Appointment]
    worklist: list[WorklistItem]
    red_alerts_open: int


def local_day_bounds(*, day: date, tz: str) -> tuple[datetime, datetime]:
    zone = zoneinfo.ZoneInfo(tz)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def clinic_day_get(*, user: User, day: date) -> ClinicDay:
    """What is due across the clinic on a day of the clinic's calendar: check-ins,
    appointments (recall proposals of that day included) and the open worklist. Four
    queries whatever the number of patients."""
    clinic = user.clinic
    assert clinic is not None
    start, end = local_day_bounds(day=day, tz=clinic.timezone)
    check_ins = list(
        scheduled_checkin_list(user=user)
        .filter(due_at__gte=start, due_at__lt=end)
        .exclude(status=ScheduledCheckIn.Status.CANCELLED)
        .select_related("patient")
    )
    appointments = list(
        appointment_list(user=user)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("patient")
    )
    worklist = list(worklist_item_list(user=user).filter(status=WorklistItem.Status.OPEN))
    red_alerts_open = Alert.objects.filter(
        clinic_id=clinic.pk, severity=Alert.Severity.RED, status__in=[Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED]
    ).count()
    return ClinicDay(
        day=day,
        tz=clinic.timezone,
        check_ins=check_ins,
        appointments=appointments,
        worklist=worklist,
        red_alerts_open=red_alerts_open,
    )


# The plan page's closed check-ins (answered, missed, cancelled) come a page at a time,
# newest first: two years of follow-up are hundreds of them, and the page must not grow
# with them. What is still to come is shown whole: the five-year plan bounds it.
PAST_CHECKIN_PAGE = 30
CLOSED_CHECKIN_STATUSES = (
    ScheduledCheckIn.Status.COMPLETED,
    ScheduledCheckIn.Status.MISSED,
    ScheduledCheckIn.Status.CANCELLED,
)


@dataclass(frozen=True)
class PatientPlan:
    patient: Patient
    enrollment: Enrollment | None
    # Scheduled or sent (a sent one whose window closed waits for the tick to be
    # missed), oldest first.
    check_ins: list[ScheduledCheckIn]
    # A page of the closed ones, newest first, below ``past_before`` when given.
    past_check_ins: list[ScheduledCheckIn]
    past_count: int
    # The position of the next older page (due_at, id), None on the last.
    past_older: tuple[datetime, int] | None
    appointments: list[Appointment]
    worklist: list[WorklistItem]


def patient_plan_get(
    *, patient: Patient, past_before: tuple[datetime, int] | None = None, past_page: int = PAST_CHECKIN_PAGE
) -> PatientPlan:
    """A patient's plan for the plan page: what is to come whole, oldest first (about a
    hundred rows for five years, nothing hidden behind paging), the closed check-ins a
    page at a time below ``past_before`` (keyset on due_at, id). Six queries however
    long the history."""
    enrollment = (
        Enrollment.objects.select_related("episode", "protocol_version__protocol")
        .filter(patient=patient)
        .order_by("status", "-enrolled_at")  # "active" before "ended"
        .first()
    )
    closed = ScheduledCheckIn.objects.filter(patient=patient, status__in=CLOSED_CHECKIN_STATUSES)
    page = closed
    if past_before is not None:
        due_at, pk = past_before
        page = closed.filter(Q(due_at__lt=due_at) | Q(due_at=due_at, pk__lt=pk))
    past = list(page.select_related("check_in").order_by("-due_at", "-id")[: past_page + 1])
    shown = past[:past_page]
    return PatientPlan(
        patient=patient,
        enrollment=enrollment,
        check_ins=list(
            ScheduledCheckIn.objects.filter(patient=patient, status__in=OPEN_CHECKIN_STATUSES)
            .select_related("check_in")
            .order_by("due_at", "id")
        ),
        past_check_ins=shown,
        past_count=closed.count(),
        past_older=(shown[-1].due_at, shown[-1].pk) if len(past) > past_page else None,
        appointments=list(Appointment.objects.filter(patient=patient).order_by("starts_at", "id")),
        worklist=list(
            WorklistItem.objects.filter(patient=patient, status=WorklistItem.Status.OPEN).order_by("created_at")
        ),
    )
