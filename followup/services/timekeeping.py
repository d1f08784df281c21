"""Time: what beat does every minute to scheduled check-ins and appointments.

Each step selects what is due (one query, at most ``STEP_LIMIT`` ids), claims those
with ONE conditional UPDATE that re-checks "still unprocessed" and returns the ids
it changed (``UPDATE … WHERE status = … AND announced_at IS NULL AND id IN (…)
RETURNING id``), then does the work for exactly those rows in the same transaction:
the outbox rows, worklist items and audit rows commit with the claim or not at all.
Two ticks running at once never announce, remind or miss the same row twice: the
database lets one UPDATE win each row.

Quiet hours (the clinic's, 21:00–08:00 by default, in the patient's own time zone)
hold back announcements and reminders; they go out at the first tick after the
quiet hours end (H10). A patient who sent STOP or whose SMS consent the clinic does
not hold gets no text (H11): their check-in stays ``scheduled`` for nurses to see,
closes as missed and lands on the worklist like any other silence (H8).

Each step handles at most ``STEP_LIMIT`` rows per tick, oldest due first, so a tick
runs a bounded number of queries whatever the number of patients; the rest goes a
minute later. (Invitations are written one by one through the conversation service,
a dozen or so queries each; the SMS relay sends one message a second anyway.)
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, transaction
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, IntegerField, Q, QuerySet, Value
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from backend.audit import audit_record
from backend.models import AuditAction
from followup.models import Appointment, Channel, ScheduledCheckIn
from followup.services.quiet_hours import in_quiet_hours
from followup.services.scheduling import patient_can_receive_sms
from followup.services.triage import clinic_phone_display
from followup.services.worklist import NoResponseOutcome, worklist_no_response_record
from followup.sms.conversations import conversation_remind, conversation_start
from notifications.models import MessageKind
from notifications.services import sms_enqueue

STEP_LIMIT = 100
# Appointment reminders go out once, in the day before the appointment.
APPOINTMENT_REMINDER_LEAD = timedelta(hours=24)
OPEN = (ScheduledCheckIn.Status.SCHEDULED, ScheduledCheckIn.Status.SENT)


# --- SQL pieces --------------------------------------------------------------------------------

_WINDOW = ExpressionWrapper(
    ExpressionWrapper(F("window_minutes"), output_field=IntegerField()) * Value(timedelta(minutes=1)),
    output_field=DurationField(),
)
#: When a check-in's window closes: due_at + window_minutes (computed in the database).
CLOSES_AT = ExpressionWrapper(F("due_at") + _WINDOW, output_field=DateTimeField())


def _moment(now: datetime) -> Value:
    return Value(now, output_field=DateTimeField())


def update_returning_ids(queryset: QuerySet[Any], values: dict[str, Any]) -> list[int]:
    """``UPDATE <table> SET values WHERE <queryset's conditions> RETURNING id``.

    Django's ``update()`` returns a row count, which says how many rows a claim won
    but not which; RETURNING (PostgreSQL, SQLite 3.35+) says which. The conditions
    must be on the table's own columns (a subquery in ``pk__in`` is fine): with a join
    Django would move them into a subquery, which PostgreSQL does not re-check against
    a row a concurrent UPDATE just changed, and both ticks would win it."""
    query = queryset.query.chain()
    query.get_initial_alias()
    if query.count_active_tables() != 1:
        raise ValueError("claim conditions must be on the claimed table's own columns")
    connection = connections[queryset.db]
    compiler = query.get_compiler(connection=connection)
    where_sql, where_params = compiler.compile(query.where)
    meta = queryset.model._meta
    quote = connection.ops.quote_name
    assignments, params = [], []
    for name, value in values.items():
        model_field = meta.get_field(name)
        assignments.append(f"{quote(model_field.column)} = %s")
        params.append(model_field.get_db_prep_save(value, connection=connection))
    # Identifiers are quoted by the backend and every value is a parameter.
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {where_sql} RETURNING {pk}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *where_params])
        return [row[0] for row in cursor.fetchall()]


# --- quiet hours ------------------------------------------------------------------------------


def _awake(candidates: QuerySet[Any], *, now: datetime) -> Q | None:
    """A condition selecting the candidates whose patient is outside quiet hours now.

    Quiet hours depend on (time zone, clinic's start, clinic's end): one query lists
    the combinations among the candidates, a handful whatever the number of patients,
    and each is judged here."""
    groups = (
        candidates.order_by()
        .values_list("patient__timezone", "patient__clinic__quiet_hours_start", "patient__clinic__quiet_hours_end")
        .distinct()
    )
    awake = Q(pk__in=[])
    any_awake = False
    for tz, start, end in groups:
        if not in_quiet_hours(now=now, tz=tz, start=start, end=end):
            awake |= Q(
                patient__timezone=tz, patient__clinic__quiet_hours_start=start, patient__clinic__quiet_hours_end=end
            )
            any_awake = True
    return awake if any_awake else None


def _textable() -> Q:
    return Q(patient__sms_consent=True, patient__sms_opted_out_at__isnull=True)


def _audit_system_update(*, object_type: str, rows: list[Any]) -> None:
    """Audit rows for changes the clock made (no actor), one batch per clinic."""
    by_clinic: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        by_clinic.setdefault(row.patient.clinic_id, []).append((row.pk, row.patient_id))
    for clinic_id, objects in by_clinic.items():
        audit_record(
            actor=None, action=AuditAction.UPDATE, object_type=object_type, objects=objects, clinic_id=clinic_id
        )


# --- the check-in steps ---------------------------------------------------------------------------


def scheduled_checkins_miss(*, now: datetime) -> tuple[list[int], NoResponseOutcome]:
    """Mark missed every open check-in whose window has closed, then put the patients
    who need a call on the worklist (and three early misses in a row on the alert
    queue). Runs before announcing, so a check-in whose whole window fell in quiet
    hours is missed rather than announced after it closed."""
    with transaction.atomic():
        selection = list(
            ScheduledCheckIn.objects.filter(status__in=OPEN, due_at__lte=now)
            .alias(closes_at=CLOSES_AT)
            .filter(closes_at__lte=now)
            .order_by("due_at", "id")
            .values_list("pk", flat=True)[:STEP_LIMIT]
        )
        if not selection:
            return [], NoResponseOutcome()
        won = update_returning_ids(
            ScheduledCheckIn.objects.filter(status__in=OPEN, closed_at__isnull=True, pk__in=selection),
            {"status": ScheduledCheckIn.Status.MISSED, "closed_at": now, "updated_at": now},
        )
        if not won:
            return [], NoResponseOutcome()
        outcome = worklist_no_response_record(missed_ids=won, now=now)
        rows = list(ScheduledCheckIn.objects.filter(pk__in=won).select_related("patient"))
        _audit_system_update(object_type="scheduled_check_in", rows=rows)
    return won, outcome


def scheduled_checkins_announce(*, now: datetime) -> list[int]:
    """Announce the check-ins that are due through the conversation service: the
    first SMS question for an ``sms`` check-in, a text with the form link for an
    ``app`` one (the app also lists what is due through ``GET /api/v1/me/``; an app
    patient who cannot be texted is announced there only)."""
    with transaction.atomic():
        candidates = (
            ScheduledCheckIn.objects.filter(
                status=ScheduledCheckIn.Status.SCHEDULED, announced_at__isnull=True, due_at__lte=now
            )
            .alias(closes_at=CLOSES_AT)
            .filter(closes_at__gt=now)
            # Never texted: the row stays scheduled for nurses to see (H11).
            .exclude(Q(channel=Channel.SMS) & ~_textable())
        )
        awake = _awake(candidates, now=now)
        if awake is None:
            return []
        selection = list(candidates.filter(awake).order_by("due_at", "id").values_list("pk", flat=True)[:STEP_LIMIT])
        if not selection:
            return []
        won = update_returning_ids(
            ScheduledCheckIn.objects.filter(
                status=ScheduledCheckIn.Status.SCHEDULED, announced_at__isnull=True, pk__in=selection
            ),
            {"status": ScheduledCheckIn.Status.SENT, "announced_at": now, "updated_at": now},
        )
        rows = list(ScheduledCheckIn.objects.filter(pk__in=won).select_related("patient__clinic").order_by("due_at"))
        for row in rows:
            # An app patient who cannot be texted still sees it in the app.
            if patient_can_receive_sms(row.patient):
                conversation_start(scheduled_check_in=row)
        _audit_system_update(object_type="scheduled_check_in", rows=rows)
    return won


def scheduled_checkins_remind(*, now: datetime) -> list[int]:
    """Remind once when half of the time between the announcement and the window's
    close is gone (half the window for a check-in announced on time; for one held by
    quiet hours, half of what is left), unless it was answered. The reminder goes by
    SMS for app check-ins too: the link opens the same form, and a patient who has
    not opened the app should still hear from us before the window closes (H8)."""
    with transaction.atomic():
        left = ExpressionWrapper(CLOSES_AT - _moment(now), output_field=DurationField())
        gone = ExpressionWrapper(_moment(now) - F("announced_at"), output_field=DurationField())
        candidates = (
            ScheduledCheckIn.objects.filter(
                _textable(),
                status=ScheduledCheckIn.Status.SENT,
                announced_at__isnull=False,
                reminded_at__isnull=True,
                check_in__isnull=True,
                due_at__lte=now,
            )
            .alias(closes_at=CLOSES_AT, left=left, gone=gone)
            .filter(closes_at__gt=now, left__lte=F("gone"))
        )
        awake = _awake(candidates, now=now)
        if awake is None:
            return []
        selection = list(candidates.filter(awake).order_by("due_at", "id").values_list("pk", flat=True)[:STEP_LIMIT])
        if not selection:
            return []
        # The status is re-checked by the claim itself: a check-in answered a moment
        # ago is "completed" and is not reminded.
        won = update_returning_ids(
            ScheduledCheckIn.objects.filter(
                status=ScheduledCheckIn.Status.SENT, reminded_at__isnull=True, pk__in=selection
            ),
            {"reminded_at": now, "updated_at": now},
        )
        rows = list(ScheduledCheckIn.objects.filter(pk__in=won).select_related("patient__clinic").order_by("due_at"))
        for row in rows:
            conversation_remind(scheduled_check_in=row)
        _audit_system_update(object_type="scheduled_check_in", rows=rows)
    return won


@dataclass
class CheckinsTickReport:
    missed: list[int] = field(default_factory=list)
    announced: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    worklist_items: list[int] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)

    def as_counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in self.__dataclass_fields__}


def scheduled_checkins_tick(*, now: datetime | None = None) -> CheckinsTickReport:
    """One beat tick: close what has closed, announce what is due, remind what is half
    gone. Each step commits on its own, so a failure in one leaves the others' work
    done and the failed step's rows unclaimed for the next tick."""
    now = now or timezone.now()
    missed, outcome = scheduled_checkins_miss(now=now)
    announced = scheduled_checkins_announce(now=now)
    reminded = scheduled_checkins_remind(now=now)
    return CheckinsTickReport(
        missed=missed,
        announced=announced,
        reminded=reminded,
        worklist_items=outcome.created_items + outcome.updated_items,
        alerts=outcome.alerts,
    )


# --- appointments ----------------------------------------------------------------------------------


def _appointment_when(appointment: Appointment) -> str:
    local = appointment.starts_at.astimezone(zoneinfo.ZoneInfo(appointment.patient.timezone))
    # Day.month.year and 24-hour time read unambiguously in all six languages.
    return local.strftime("%d.%m.%Y %H:%M")


def appointment_reminder_text(*, appointment: Appointment, clinic_phone: str) -> str:
    """The reminder in the patient's language (gettext catalogues, see locale/)."""
    patient = appointment.patient
    with translation.override(patient.language):
        kinds = {
            Appointment.Kind.CLINIC_VISIT: _("clinic visit"),
            Appointment.Kind.TELEMEDICINE: _("video visit"),
            Appointment.Kind.LAB: _("blood test"),
            Appointment.Kind.IMAGING: _("scan (imaging)"),
            Appointment.Kind.RECALL: _("visit at the clinic"),
        }
        text = _("%(clinic)s: reminder of your %(kind)s on %(when)s.") % {
            "clinic": patient.clinic.name,
            "kind": kinds[Appointment.Kind(appointment.kind)],
            "when": _appointment_when(appointment),
        }
        if appointment.kind == Appointment.Kind.TELEMEDICINE and appointment.video_url:
            text += " " + _("Join the video call here: %(link)s") % {"link": appointment.video_url}
        text += " " + _("To change it, call %(phone)s.") % {"phone": clinic_phone}
    return text


def appointments_remind(*, now: datetime | None = None) -> list[int]:
    """Remind each scheduled or confirmed appointment once, in the day before it,
    outside the patient's quiet hours, never to a patient who cannot be texted. A
    moved appointment is reminded again for its new time (moving clears
    ``reminded_at``; the outbox key names the time)."""
    now = now or timezone.now()
    with transaction.atomic():
        candidates = Appointment.objects.filter(
            _textable(),
            status__in=[Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED],
            reminded_at__isnull=True,
            starts_at__gt=now,
            starts_at__lte=now + APPOINTMENT_REMINDER_LEAD,
        )
        awake = _awake(candidates, now=now)
        if awake is None:
            return []
        selection = list(candidates.filter(awake).order_by("starts_at", "id").values_list("pk", flat=True)[:STEP_LIMIT])
        if not selection:
            return []
        won = update_returning_ids(
            Appointment.objects.filter(
                status__in=[Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED],
                reminded_at__isnull=True,
                pk__in=selection,
            ),
            {"reminded_at": now, "updated_at": now},
        )
        rows = list(Appointment.objects.filter(pk__in=won).select_related("patient__clinic").order_by("starts_at"))
        for appointment in rows:
            patient = appointment.patient
            sms_enqueue(
                clinic_id=patient.clinic_id,
                to_phone=str(patient.phone),
                body=appointment_reminder_text(
                    appointment=appointment, clinic_phone=clinic_phone_display(clinic=patient.clinic)
                ),
                kind=MessageKind.REMINDER,
                idempotency_key=f"appointment-reminder:{appointment.pk}:{appointment.starts_at:%Y%m%dT%H%M%z}",
                patient=patient,
                appointment_id=appointment.pk,
            )
        _audit_system_update(object_type="appointment", rows=rows)
    return won
