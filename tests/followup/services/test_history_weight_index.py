"""Issue 17, flat cost (H18): the history read's windows over stored answers (the 72 h
lowest weight, the 90-day earliest weight, the 24 h latest fever) pick their row from
the index (patient, taken_at, id, answer_weight_kg, answer_temperature_c) alone: no
table row read and no JSON decoded per check-in of the window, at the densest the
per-patient rate allows (about 900 check-ins in 72 h). The stored column holds what the JSON
read computes (a number, NULL for any other JSON type), so the bounded read's answer is
unchanged (the property tests in test_checkins_history_bound.py run over it)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from followup.history import history_read, history_statement
from followup.models import CheckIn, Enrollment
from followup.rules import HistoryHorizon, Predicate, Window
from tests.factories import green_answers

FEVER = Predicate(op="number", question="temperature_c", compare=">=", operand=38.0)
WEIGHT_WINDOWS = HistoryHorizon(
    windows=(
        Window(kind="lowest", span=timedelta(hours=72), question="weight_kg", key="lowest"),
        Window(kind="earliest", span=timedelta(days=90), question="weight_kg", key="earliest"),
        # The default protocol's fever_persistent: the latest fever of 24 h.
        Window(kind="latest_where", span=timedelta(hours=24), predicate=FEVER, key="fever"),
    )
)
DENSE = 900  # 72 h at 12 an hour, plus a few staff entries


def _dense_history(patient, *, count: int = DENSE, older: int = 300) -> None:
    """``count`` check-ins in the last 72 h and ``older`` over the 60 days before."""
    enrollment = Enrollment.objects.get(patient=patient)
    now = timezone.now()
    step = timedelta(hours=72) / count

    def taken_at(index: int) -> datetime:
        if index < count:
            return now - step * (index + 1)
        return now - timedelta(hours=73) - timedelta(days=60) / older * (index - count)

    def weight(index: int) -> object:
        # Numbers, and answers of other JSON types the engine does not count as a weight.
        return ("70.5", True, None)[index % 3] if index % 10 == 9 else 70.0 + (index % 37) / 10

    def temperature(index: int) -> object:
        return "38.5" if index % 53 == 7 else 38.2 if index % 41 == 40 else 36.8

    CheckIn.objects.bulk_create(
        CheckIn(
            patient=patient,
            enrollment=enrollment,
            protocol_version=enrollment.protocol_version,
            # A fever now and then, in the last 24 h too, and not a number at times.
            answers=green_answers(weight_kg=weight(index), temperature_c=temperature(index)),
            taken_at=taken_at(index),
            channel=CheckIn.Source.APP,
            level="green",
        )
        for index in range(count + older)
    )


def _statement(patient) -> tuple[str, list[object]]:
    query = history_statement(
        patient_id=patient.pk,
        timezone=patient.timezone,
        moment=timezone.now(),
        horizon=WEIGHT_WINDOWS,
        surgery_date=None,
    )
    return query.sql()


def query_sql(patient) -> str:
    return _statement(patient)[0].replace("answer_weight_kg", "").replace("answer_temperature_c", "")


def _plan(patient) -> str:
    sql, params = _statement(patient)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # As autovacuum leaves a table: statistics, and the visibility map that lets
            # an index-only scan skip the table (outside a transaction, hence the
            # transactional test).
            cursor.execute("VACUUM ANALYZE followup_checkin")
            cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}", params)
        else:
            cursor.execute("ANALYZE")
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(" ".join(str(cell) for cell in row) for row in cursor.fetchall())


def test_the_stored_weight_is_the_json_number(make_enrolled):
    patient = make_enrolled(discharged_days_ago=5)
    _dense_history(patient, count=30, older=10)
    for check_in in CheckIn.objects.filter(patient=patient):
        answer = check_in.answers["weight_kg"]
        expected = float(answer) if isinstance(answer, int | float) and not isinstance(answer, bool) else None
        assert check_in.answer_weight_kg == expected, answer
        temperature = check_in.answers["temperature_c"]
        number = isinstance(temperature, int | float) and not isinstance(temperature, bool)
        assert check_in.answer_temperature_c == (float(temperature) if number else None), temperature


@pytest.mark.django_db(transaction=True)
def test_weight_windows_read_index_entries_only(make_enrolled):
    patient = make_enrolled(discharged_days_ago=5)
    other = make_enrolled(discharged_days_ago=5)
    _dense_history(patient)
    _dense_history(other, count=300, older=100)
    plan = _plan(patient)
    print(plan)
    if connection.vendor == "postgresql":
        assert len(re.findall(r"Index Only Scan (Backward )?using checkin_time_answers", plan)) == 3, plan
        assert plan.count("Heap Fetches: 0") == 3, plan
        assert "Seq Scan on followup_checkin" not in plan, plan
        # The rows read from the table: one per window, by primary key.
        assert plan.count("Index Scan using followup_checkin_pkey") == 3, plan
    else:
        # SQLite (3.40) does not take an index holding a generated column as covering:
        # it walks the same index range and reads each row's stored weight (no JSON
        # decoded); PostgreSQL, the production database, reads the index alone.
        assert len(re.findall(r"SEARCH followup_checkin USING (COVERING )?INDEX checkin_time_answers", plan)) == 3
        assert "SCAN followup_checkin" not in plan, plan
    sql = query_sql(patient)
    assert "weight_kg" not in sql and "temperature_c" not in sql, "the windows read stored columns, not the JSON"


@pytest.mark.parametrize("count", [DENSE])
def test_the_weight_windows_pick_what_the_whole_window_gives(make_enrolled, count):
    """The row each window picks, compared with the engine's reading of every row."""
    patient = make_enrolled(discharged_days_ago=5)
    _dense_history(patient, count=count)
    moment = timezone.now()
    history = history_read(
        patient_id=patient.pk, timezone=patient.timezone, moment=moment, horizon=WEIGHT_WINDOWS, surgery_date=None
    )
    rows = list(CheckIn.objects.filter(patient=patient, taken_at__lt=moment).order_by("taken_at", "id"))

    def number(row: CheckIn) -> float | None:
        value = row.answers.get("weight_kg")
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    recent = [row for row in rows if row.taken_at >= moment - timedelta(hours=72) and number(row) is not None]
    lowest = min(recent, key=lambda row: (number(row), row.taken_at, row.pk))
    earliest = next(row for row in rows if row.taken_at >= moment - timedelta(days=90) and number(row) is not None)

    def fever(row: CheckIn) -> bool:
        value = row.answers.get("temperature_c")
        return isinstance(value, int | float) and not isinstance(value, bool) and value >= 38.0

    fevers = [row for row in rows if row.taken_at >= moment - timedelta(hours=24) and fever(row)]
    assert fevers, "the history has a fever in the last 24 h"
    expected = {lowest.taken_at, earliest.taken_at, fevers[-1].taken_at}
    assert sorted(item.taken_at for item in history.check_ins) == sorted(expected)
