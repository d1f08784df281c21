"""A beat tick over 10,000 and 100,000 enrolled patients: seconds and queries.

Run: ``.venv/bin/python bench/beat_tick.py [--sizes 10000,100000] [--due 50]``
(DATABASE_URL must name a PostgreSQL database whose name contains "bench": rows are
added to it; `make bench` recreates it first).

The tick is what beat runs every minute: the check-in tick (mark missed, announce,
remind: followup.tasks.checkins_tick), the appointment reminders
(followup.tasks.appointments_tick), escalation (followup.escalation_tasks
.escalations_tick) and the auditor (auditor_tick), each called as the worker calls it.

Patients are spread over 50 clinics and six time zones, each with a plan around now
(a check-in completed yesterday, one due tomorrow, an appointment in ten days) and one
in a hundred with an open alert not yet due to escalate. The due work is the same at
every size (``--due`` check-ins to announce, to remind and to mark missed, and ``--due``
alerts to escalate), so what grows with the patients is only what the tick must pass
over: the target is a query count that does not grow and a time that grows at most
linearly. Prints figures and a ``BENCH_JSON`` line; never fails on a figure.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.seeding import (  # noqa: E402
    TIMEZONES,
    alerts_create,
    django_setup,
    enrolled_patients_fast,
    insert_select,
    plans_create,
)

TICKS = (
    ("followup.tasks", "checkins_tick"),
    ("followup.tasks", "appointments_tick"),
    ("followup.escalation_tasks", "escalations_tick"),
    ("followup.escalation_tasks", "auditor_tick"),
)
CLINICS = 50


def tick_functions() -> list[tuple[str, object]]:
    found = []
    for module_name, name in TICKS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        function = getattr(module, name, None)
        if function is not None:
            found.append((name, function))
    return found


def grow_to(*, clinics: list, total: int, have: int) -> list[int]:
    """Add enrolled patients round-robin over the clinics until there are ``total``,
    each with an appointment in ten days (INSERT ... SELECT: seconds, not minutes)."""
    from django.utils import timezone

    from followup.models import Appointment

    added: list[int] = []
    per_clinic = -(-(total - have) // len(clinics))
    for index, clinic in enumerate(clinics):
        count = min(per_clinic, total - have - len(added))
        if count <= 0:
            break
        zones = TIMEZONES[index % 6 :] + TIMEZONES[: index % 6]
        added += enrolled_patients_fast(clinic=clinic, count=count, start=have + len(added), timezones=zones)
    insert_select(
        Appointment,
        {
            "patient": "e.patient_id",
            "enrollment": "e.id",
            "kind": "'telemedicine'",
            "starts_at": ("%s", [timezone.now() + timedelta(days=10)]),
            "plan_key": "'telemedicine:bench'",
        },
        "followup_enrollment AS e WHERE e.patient_id = ANY(%s)",
        [added],
    )
    return added


def measure(functions: list[tuple[str, object]]) -> tuple[float, int, dict[str, dict[str, float]]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    detail: dict[str, dict[str, float]] = {}
    total_seconds, total_queries = 0.0, 0
    for name, function in functions:
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            result = function()
            seconds = time.perf_counter() - began
        detail[name] = {"seconds": seconds, "queries": len(queries), "result": str(result)[:120]}
        total_seconds += seconds
        total_queries += len(queries)
    return total_seconds, total_queries, detail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--due", type=int, default=50, help="check-ins of each kind and alerts due at every size")
    args = parser.parse_args()
    sizes = sorted(int(part) for part in args.sizes.split(","))

    name = urlparse(os.environ.get("DATABASE_URL", "")).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit("DATABASE_URL must name a bench database (its name contains 'bench').")
    django_setup()
    functions = tick_functions()
    if not functions:
        print("No tick functions in followup/tasks.py or followup/escalation_tasks.py yet.")
        print("BENCH_JSON " + json.dumps({"available": False, "reason": "tick functions not yet available"}))
        return
    from django.db import connection
    from django.utils import timezone

    from bench.seeding import clinic_create

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")  # seeding only; the ticks commit as usual
    clinics = [clinic_create(name=f"Tick clinic {i}", tz=TIMEZONES[i % 6], index=i) for i in range(CLINICS)]
    have = 0
    results = []
    for size in sizes:
        began = time.perf_counter()
        added = grow_to(clinics=clinics, total=size, have=have)
        have = size
        now = timezone.now()
        # Due work: the same amount at every size, on patients added for this size.
        plans_create(patient_ids=added, now=now, due_each=args.due)
        by_clinic: dict[int, list[int]] = {}
        from backend.models import Patient

        for pk, clinic_id in Patient.objects.filter(pk__in=added).values_list("pk", "clinic_id").iterator():
            by_clinic.setdefault(clinic_id, []).append(pk)
        due_left = args.due
        for clinic_id, ids in by_clinic.items():
            open_alerts = max(1, len(ids) // 100)
            due_here = min(due_left, open_alerts)
            alerts_create(clinic_id=clinic_id, patient_ids=ids, count=open_alerts, now=now, due_each=due_here)
            due_left -= due_here
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        seeded = time.perf_counter() - began
        seconds, queries, detail = measure(functions)
        idle_seconds, idle_queries, _ = measure(functions)
        print(f"{size:>7,} patients (seeded in {seeded:.0f} s): tick {seconds:.3f} s, {queries} queries")
        for task, figures in detail.items():
            print(
                f"          {task:18s} {figures['seconds']:.3f} s {figures['queries']:4d} queries"
                f" -> {figures['result']}"
            )
        print(f"          idle tick (nothing due) {idle_seconds:.3f} s, {idle_queries} queries")
        results.append(
            {
                "patients": size,
                "seconds": seconds,
                "queries": queries,
                "idle_seconds": idle_seconds,
                "idle_queries": idle_queries,
                "detail": detail,
            }
        )
    if len(results) > 1:
        ratio = results[-1]["seconds"] / results[0]["seconds"] if results[0]["seconds"] else float("nan")
        grow = results[-1]["patients"] / results[0]["patients"]
        print(
            f"time x{ratio:.2f} for x{grow:.0f} patients; queries {results[0]['queries']} -> {results[-1]['queries']}"
            f" (median tick {statistics.median(r['seconds'] for r in results):.3f} s)"
        )
    print("BENCH_JSON " + json.dumps({"available": True, "sizes": results, "due": args.due}))


if __name__ == "__main__":
    main()
