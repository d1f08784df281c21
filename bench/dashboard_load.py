"""The dashboard's first load with 500 open alerts: server time and queries.

Run: ``.venv/bin/python bench/dashboard_load.py [--alerts 500] [--loads 20]``
(DATABASE_URL must name a bench database: rows are added to it).

A clinic with ``--alerts`` unresolved alerts (red and amber, each on its own patient,
with evidence) and a signed-in nurse; ``GET /dashboard/`` through Django's whole
middleware stack in this process (no network), ``--loads`` times. Prints the median
and p99 server time and the queries of one load, and a ``BENCH_JSON`` line. The target
is at most 10 queries whatever the number of alerts; the page is also loaded with 5
alerts, so a count that grows with the rows shows. Never fails on a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.seeding import alerts_create, clinic_create, django_setup, enrolled_patients_create  # noqa: E402

PATH = "/dashboard/"


def page_exists() -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(PATH)
    except Resolver404:
        return False
    return True


def load_page(*, alerts: int, loads: int, index: int) -> dict[str, float]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from backend.models import Role, User

    clinic = clinic_create(name=f"Dashboard clinic {index}", index=index)
    patients = enrolled_patients_create(clinic=clinic, count=alerts, start=index * 100_000)
    alerts_create(clinic_id=clinic.pk, patient_ids=patients, count=alerts, now=timezone.now())
    nurse = User.objects.create(username=f"bench-dashboard-{index}", role=Role.NURSE, clinic=clinic)
    client = Client()
    client.force_login(nurse)
    times, status, queries = [], 0, 0
    for _ in range(loads):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = client.get(PATH)
            times.append((time.perf_counter() - began) * 1000)
        status, queries = response.status_code, len(captured)
    times.sort()
    return {
        "alerts": alerts,
        "status": status,
        "queries": queries,
        "ms_median": statistics.median(times),
        "ms_p99": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))],
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=500)
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    name = urlparse(os.environ.get("DATABASE_URL", "")).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit("DATABASE_URL must name a bench database (its name contains 'bench').")
    django_setup()
    if not page_exists():
        print(f"{PATH} is not routed yet (followup/urls_pages_dashboard.py).")
        print("BENCH_JSON " + json.dumps({"available": False, "reason": f"{PATH} not yet available"}))
        return
    small = load_page(alerts=5, loads=max(3, args.loads // 4), index=901)
    large = load_page(alerts=args.alerts, loads=args.loads, index=902)
    for figures in (small, large):
        print(
            f"{PATH} with {figures['alerts']:4d} open alerts: HTTP {figures['status']}, {figures['queries']} queries, "
            f"median {figures['ms_median']:.1f} ms, p99 {figures['ms_p99']:.1f} ms, {figures['bytes']:,} bytes"
        )
    ok = large["status"] == 200
    print(
        "BENCH_JSON "
        + json.dumps(
            {
                "available": ok,
                "reason": "" if ok else f"HTTP {large['status']}",
                **large,
                "queries_small": small["queries"],
            }
        )
    )


if __name__ == "__main__":
    main()
