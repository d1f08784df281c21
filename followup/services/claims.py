"""What the clock's ticks share: claiming due rows with one conditional UPDATE that
says which rows it won, choosing the patients who are textable, and auditing what the
clock changed (who is awake, outside quiet hours: ``quiet_hours.awake_condition``). Used by the check-in steps
(``timekeeping``) and the appointment reminders (``appointment_reminders``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, IntegerField, Q, QuerySet, Value

from backend.audit import audit_record
from backend.models import AuditAction

# Each tick handles at most this many rows per step, oldest due first.
STEP_LIMIT = 100


# --- SQL pieces --------------------------------------------------------------------------------

_WINDOW = ExpressionWrapper(
    ExpressionWrapper(F("window_minutes"), output_field=IntegerField()) * Value(timedelta(minutes=1)),
    output_field=DurationField(),
)
#: When a check-in's window closes: due_at + window_minutes (computed in the database).
CLOSES_AT = ExpressionWrapper(F("due_at") + _WINDOW, output_field=DateTimeField())
#: When a check-in with its own reminder time is reminded: due_at + reminder_minutes
#: (null when it has none).
REMIND_AT = ExpressionWrapper(
    F("due_at")
    + ExpressionWrapper(
        ExpressionWrapper(F("reminder_minutes"), output_field=IntegerField()) * Value(timedelta(minutes=1)),
        output_field=DurationField(),
    ),
    output_field=DateTimeField(),
)


def moment_value(now: datetime) -> Value:
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


def textable_condition() -> Q:
    return Q(patient__sms_consent=True, patient__sms_opted_out_at__isnull=True)


def audit_system_update(*, object_type: str, rows: list[Any]) -> None:
    """Audit rows for changes the clock made (no actor), one batch per clinic."""
    by_clinic: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        by_clinic.setdefault(row.patient.clinic_id, []).append((row.pk, row.patient_id))
    for clinic_id, objects in by_clinic.items():
        audit_record(
            actor=None, action=AuditAction.UPDATE, object_type=object_type, objects=objects, clinic_id=clinic_id
        )
