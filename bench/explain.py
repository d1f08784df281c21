"""EXPLAIN ANALYZE of the hot queries on PostgreSQL, on a database of realistic size.

Run: ``.venv/bin/python bench/explain.py`` (DATABASE_URL must name a PostgreSQL bench
database; what is missing is added: 20,000 enrolled patients with their plans, 30,000 alerts
(resolved, as most are after a while) and 300 open ones, 200,000 dashboard events; then ANALYZE).

The queries are the ones the code runs, built by its own selectors where they exist:

* due check-ins: the beat tick's "open and due" selection (partial index
  ``checkin_open_due``);
* open alerts of a clinic: ``alert_list`` for open and acknowledged alerts (partial
  index ``alert_unresolved_by_clinic``);
* events since a seq: the websocket feed's read after a position (primary key) and a
  clinic's events after a seq (index on clinic, seq);
* the check-in path's history read (``followup.history``, issue 17) of one patient with
  10,000 check-ins, one every 5 minutes (the 72 h window as full as the rate limit lets
  it be: 864): the 72 h lowest weight and the 24 h latest fever pick their row from the
  index (patient, taken_at, id, answer_weight_kg, answer_temperature_c) alone
  (``Index Only Scan``, ``Heap Fetches: 0`` once vacuumed).

Prints each plan and a ``BENCH_JSON`` line (execution time, whether an index serves
it). Never fails on a figure.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.seeding import (  # noqa: E402
    TIMEZONES,
    alerts_create,
    clinic_create,
    django_setup,
    enrolled_patients_fast,
    events_create,
    plans_create,
)

MIN_SCHEDULED = 40_000
MIN_EVENTS = 200_000
MIN_ALERTS = 30_000


def ensure_data() -> None:
    from django.utils import timezone

    from backend.models import Clinic
    from followup.models import Alert, ScheduledCheckIn
    from notifications.models import Event

    now = timezone.now()
    need_plans = ScheduledCheckIn.objects.count() < MIN_SCHEDULED
    need_alerts = Alert.objects.count() < MIN_ALERTS
    if need_plans or need_alerts:
        clinic = clinic_create(name="Explain clinic", index=99)
        ids = enrolled_patients_fast(clinic=clinic, count=20_000, start=500_000, timezones=TIMEZONES)
        if need_plans:
            plans_create(patient_ids=ids, now=now, due_each=50)
        if need_alerts:
            # Most alerts of a clinic that has run a while are resolved; a few are open.
            for offset in range(0, MIN_ALERTS, len(ids)):
                alerts_create(
                    clinic_id=clinic.pk, patient_ids=ids, count=MIN_ALERTS - offset, now=now, status="resolved"
                )
            alerts_create(clinic_id=clinic.pk, patient_ids=ids, count=300, now=now, due_each=10)
    missing = MIN_EVENTS - Event.objects.count()
    if missing > 0:
        events_create(clinic_ids=list(Clinic.objects.values_list("pk", flat=True)[:50]), count=missing)


HISTORY_CHECK_INS = 10_000
HISTORY_CLINIC = "Explain history clinic"


def history_plan() -> tuple[str, str]:
    """(label, EXPLAIN ANALYZE of the history read a check-in of the dense patient runs)."""
    from datetime import timedelta

    from django.db import connection
    from django.db.models import Max

    from bench.history_growth import history_create
    from bench.seeding import enrolled_patients_create
    from followup.history import history_statement
    from followup.models import CheckIn, Enrollment
    from followup.services.protocols import protocol_definition

    patient_id = (
        CheckIn.objects.filter(patient__clinic__name=HISTORY_CLINIC).values_list("patient_id", flat=True).first()
    )
    if patient_id is None:
        clinic = clinic_create(name=HISTORY_CLINIC, index=918)
        (patient_id,) = enrolled_patients_create(clinic=clinic, count=1, start=918_000, discharged_days_ago=40)
        history_create(patient_id=patient_id, size=HISTORY_CHECK_INS)
    with connection.cursor() as cursor:
        # As autovacuum leaves the table on a live server: the visibility map lets an
        # index-only scan skip the table.
        cursor.execute("VACUUM ANALYZE followup_checkin")
    enrollment = Enrollment.objects.select_related("episode", "patient", "protocol_version").get(patient_id=patient_id)
    # The next check-in, 5 minutes after the newest: the windows full whenever it was seeded.
    latest = CheckIn.objects.filter(patient_id=patient_id).aggregate(latest=Max("taken_at"))["latest"]
    sql, params = history_statement(
        patient_id=patient_id,
        timezone=enrollment.patient.timezone,
        moment=latest + timedelta(minutes=5),
        horizon=protocol_definition(enrollment.protocol_version).ruleset.history_horizon(phase="acute"),
        surgery_date=enrollment.episode.surgery_date,
    ).sql()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return f"history read of a check-in, {HISTORY_CHECK_INS:,} past check-ins", plan


def queries() -> list[tuple[str, object]]:
    from django.db.models import Count
    from django.utils import timezone

    from followup.models import Alert, ScheduledCheckIn
    from followup.selectors import alert_list
    from notifications.models import Event

    now = timezone.now()
    due = ScheduledCheckIn.objects.filter(status__in=["scheduled", "sent"], due_at__lte=now)
    try:
        from followup.services.claims import CLOSES_AT

        due = due.alias(closes_at=CLOSES_AT).filter(closes_at__lte=now)
    except ImportError:
        pass
    busiest = (
        Alert.objects.filter(status__in=["open", "acknowledged"])
        .values("clinic_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    clinic_id = busiest["clinic_id"] if busiest else 1
    newest = Event.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    since = max(0, newest - 2_000)
    return [
        ("due check-ins (beat tick)", due.order_by("due_at", "id").values("pk")[:500]),
        (
            "open alerts of a clinic (dashboard, API)",
            alert_list(clinic_id=clinic_id, statuses=["open", "acknowledged"])[:500],
        ),
        ("events since a seq (feed read)", Event.objects.filter(seq__gt=since).order_by("seq")[:500]),
        (
            "a clinic's events since a seq",
            Event.objects.filter(clinic_id=clinic_id, seq__gt=since).order_by("seq")[:500],
        ),
    ]


def main() -> None:
    name = urlparse(os.environ.get("DATABASE_URL", "")).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit("DATABASE_URL must name a bench database (its name contains 'bench').")
    django_setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("EXPLAIN is shown on PostgreSQL only.")
    ensure_data()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    from followup.models import Alert, ScheduledCheckIn
    from notifications.models import Event

    print(
        f"rows: {ScheduledCheckIn.objects.count():,} scheduled check-ins, "
        f"{Alert.objects.count():,} alerts, {Event.objects.count():,} events"
    )
    results = []
    for label, queryset in queries():
        plan = queryset.explain(analyze=True, buffers=True)
        execution = next(
            (float(line.split(":")[1].split()[0]) for line in plan.splitlines() if "Execution Time" in line), None
        )
        uses_index = "Index" in plan
        print(f"\n-- {label}\n{plan}")
        results.append({"name": label, "execution_ms": execution, "uses_index": uses_index})
    label, plan = history_plan()
    execution = next(
        (float(line.split(":")[1].split()[0]) for line in plan.splitlines() if "Execution Time" in line), None
    )
    print(f"\n-- {label}\n{plan}")
    # The 72 h lowest weight, the 24 h latest fever (and, in the phases that read it,
    # the 90-day earliest weight) picked from the index alone.
    uses_index = len(re.findall(r"Index Only Scan (Backward )?using checkin_time_answers", plan)) >= 2
    results.append({"name": label, "execution_ms": execution, "uses_index": uses_index})
    print("BENCH_JSON " + json.dumps({"queries": results}))


if __name__ == "__main__":
    main()
