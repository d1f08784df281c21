"""Two statements of the alert repeat path, each one round trip where the ORM takes two
(issue 17): locking the unresolved alert while setting its ``updated_at``, and reading
an alert's occurrences together with its escalation steps.

Raw SQL because Django 5.2's ORM has neither UPDATE ... RETURNING nor a union of two
models; the SQL is the same on PostgreSQL and SQLite (>= 3.35 for RETURNING)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from backend.prepared import prepared_cursor
from followup.models import Alert, AlertOccurrence, EscalationStep


def alert_unresolved_touch(*, patient_id: int, rule_id: str, statuses: tuple[str, ...]) -> Alert | None:
    """The patient's unresolved alert for ``rule_id``, locked by an UPDATE that sets its
    ``updated_at`` (what the repeat finding's ``save`` used to do after a SELECT ...
    FOR UPDATE): one statement. None when there is none.

    The partial unique constraint ``one_unresolved_alert_per_rule_and_patient`` allows
    one such row at most. On PostgreSQL a concurrent transaction holding the row makes
    this wait, and the WHERE is checked again on the row as that transaction left it
    (resolved meanwhile: no row, a new alert opens), as with SELECT ... FOR UPDATE."""
    table = connection.ops.quote_name(Alert._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in Alert._meta.concrete_fields)
    marks = ", ".join(["%s"] * len(statuses))
    sql = (
        f"UPDATE {table} SET updated_at = %s "  # noqa: S608 -- names are ours, values parameters
        f"WHERE patient_id = %s AND rule_id = %s AND status IN ({marks}) RETURNING {columns}"
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = list(Alert.objects.raw(sql, [now, patient_id, rule_id, *map(str, statuses)]))
    return min(rows, key=lambda alert: alert.pk) if rows else None


def alert_history_rows(alert: Alert) -> tuple[list[AlertOccurrence], list[EscalationStep]]:
    """The alert's occurrences and escalation steps, each in its model's order
    (``created_at``, ``id``), in one statement. The instances hold the fields the
    alert's representation reads; any other field is deferred (loaded on access)."""
    occurrences = connection.ops.quote_name(AlertOccurrence._meta.db_table)
    steps = connection.ops.quote_name(EscalationStep._meta.db_table)
    sql = (
        "SELECT 'o' AS kind, id, check_in_id AS a, observation_id AS b, created_at, evidence, NULL AS note "  # noqa: S608
        f"FROM {occurrences} WHERE alert_id = %s "
        "UNION ALL "
        f"SELECT 's' AS kind, id, level AS a, user_id AS b, created_at, NULL AS evidence, note FROM {steps} "
        "WHERE alert_id = %s "
        "ORDER BY created_at, id"
    )
    with prepared_cursor() as cursor:  # every repeat finding reads it
        cursor.execute(sql, [alert.pk, alert.pk])
        rows = cursor.fetchall()
    db = connection.alias
    found_occurrences: list[AlertOccurrence] = []
    found_steps: list[EscalationStep] = []
    for kind, pk, first, second, created_at, evidence, note in rows:
        if kind == "o":
            values = {"check_in_id": first, "observation_id": second, "evidence": _json(evidence)}
            found_occurrences.append(_instance(AlertOccurrence, db, pk, alert.pk, _aware(created_at), values))
        else:
            values = {"level": first, "user_id": second, "note": note}
            found_steps.append(_instance(EscalationStep, db, pk, alert.pk, _aware(created_at), values))
    # Each table's rows in (created_at, id) order: the union's order kept per kind.
    return found_occurrences, found_steps


def _instance(model: type[Any], db: str, pk: int, alert_id: int, created_at: datetime, values: dict[str, Any]) -> Any:
    # ``from_db`` takes the values in the model's field order; the fields not given
    # are deferred.
    values = {"id": pk, "alert_id": alert_id, "created_at": created_at, **values}
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(db, names, [values[name] for name in names])


def _aware(value: datetime | str) -> datetime:
    # SQLite hands a compound select's datetimes back as the text it stores (UTC).
    if isinstance(value, str):
        parsed = parse_datetime(value)
        assert parsed is not None, value
        value = parsed
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value
