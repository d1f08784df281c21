"""The dashboard's first load with 500 open alerts, and a patient's page after two
years of follow-up against one after ten check-ins: server time and queries.

Run: ``.venv/bin/python bench/dashboard_load.py [--alerts 500] [--loads 20]``
(DATABASE_URL must name a bench database: rows are added to it).

A clinic with ``--alerts`` unresolved alerts (red and amber, each on its own patient,
with evidence) and a signed-in nurse; ``GET /dashboard/`` through Django's whole
middleware stack in this process (no network), ``--loads`` times. Prints the median
and p99 server time and the queries of one load, and a ``BENCH_JSON`` line. The target
is at most 10 queries whatever the number of alerts; the page is also loaded with 5
alerts, so a count that grows with the rows shows.

The patient page (issue 17): ``GET /dashboard/patients/<id>/``, and the staff plan
page ``/plans/patients/<id>/``, for a patient with 10 check-ins (1 lab, 1 alert, 200
SMS) and one with two years of surveillance history (300 check-ins, 40 labs, 20 alerts,
6,000 SMS), loaded alternately in the same run so that drift hits both alike; the
ratio of the medians is the figure (target: about 1, and the same queries). Never
fails on a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.seeding import alerts_create, clinic_create, django_setup, enrolled_patients_create  # noqa: E402

PATH = "/dashboard/"


def staff_client(user: Any) -> Any:
    """A test client signed in as ``user`` with the second factor passed, as staff pages
    require (VIGIL_STAFF_2FA is on by default): a confirmed TOTP device, the session
    marked verified by it, as django-otp's own login does."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def page_exists() -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(PATH)
    except Resolver404:
        return False
    return True


def load_page(*, alerts: int, loads: int, index: int) -> dict[str, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from backend.models import Role, User

    clinic = clinic_create(name=f"Dashboard clinic {index}", index=index)
    patients = enrolled_patients_create(clinic=clinic, count=alerts, start=index * 100_000)
    alerts_create(clinic_id=clinic.pk, patient_ids=patients, count=alerts, now=timezone.now())
    nurse = User.objects.create(username=f"bench-dashboard-{index}", role=Role.NURSE, clinic=clinic)
    client = staff_client(nurse)
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


# --- the patient page after two years ----------------------------------------------------------------

# An SMS check-in is a conversation of about 20 messages (questions, answers, re-asks).
SHORT = {"check_ins": 10, "labs": 1, "alerts": 1, "messages": 200, "days": 10}
TWO_YEARS = {"check_ins": 300, "labs": 40, "alerts": 20, "messages": 6000, "days": 730}


def patient_history_create(
    *, patient: Any, check_ins: int, labs: int, alerts: int, messages: int, days: int, now: Any = None
) -> None:
    """A history for an enrolled patient, written in bulk as the services would have
    left it: ``check_ins`` green check-ins spread over the last ``days`` days, ``labs``
    results (bilirubin and CEA in turn), ``alerts`` alerts (all resolved but the
    latest), ``messages`` SMS in the thread, a visit a quarter (at least one), and the
    plan's scheduled check-ins they answered (every tenth one also a missed one). Also the
    builder of tests/bench/test_patient_page_queries.py."""
    from datetime import timedelta

    from django.utils import timezone

    from followup.models import Alert, Appointment, CheckIn, Enrollment, Observation, ScheduledCheckIn
    from notifications.models import MessageHistoryEntry, OutgoingMessage
    from tests.answers import green_answers

    now = now or timezone.now()
    enrollment = Enrollment.objects.filter(patient=patient).latest("enrolled_at")
    step = timedelta(days=days) / max(check_ins, 1)

    def at(index: int, count: int) -> Any:
        return now - timedelta(days=days) + (timedelta(days=days) / max(count, 1)) * (index + 1) - timedelta(hours=1)

    # Each check-in answers a scheduled one of the plan; every tenth scheduled one was missed.
    scheduled = ScheduledCheckIn.objects.bulk_create(
        ScheduledCheckIn(
            patient=patient,
            enrollment=enrollment,
            due_at=at(index, check_ins) - timedelta(hours=1),
            status=ScheduledCheckIn.Status.COMPLETED,
        )
        for index in range(check_ins)
    )
    ScheduledCheckIn.objects.bulk_create(
        ScheduledCheckIn(
            patient=patient,
            enrollment=enrollment,
            due_at=at(index, check_ins) - timedelta(hours=2),
            status=ScheduledCheckIn.Status.MISSED,
        )
        for index in range(0, check_ins, 10)
    )
    rows = CheckIn.objects.bulk_create(
        CheckIn(
            patient=patient,
            enrollment=enrollment,
            scheduled_check_in=scheduled[index],
            protocol_version=enrollment.protocol_version,
            answers=green_answers(
                temperature_c=round(36.5 + (index % 7) * 0.2, 1),
                weight_kg=round(80.0 - index * 0.01, 2),
                abdominal_pain=index % 4,
            ),
            phase="surveillance" if index * step > timedelta(days=90) else "acute",
            taken_at=at(index, check_ins),
            channel="sms",
            level="green",
            advice="",
        )
        for index in range(check_ins)
    )
    Observation.objects.bulk_create(
        Observation(
            patient=patient,
            code="bilirubin_umol_l" if index % 2 else "cea_ng_ml",
            value=(15.0 + index % 5) if index % 2 else (2.0 + index % 3),
            unit="umol/L" if index % 2 else "ng/mL",
            entered_value=(15.0 + index % 5) if index % 2 else (2.0 + index % 3),
            entered_unit="umol/L" if index % 2 else "ng/mL",
            observed_at=at(index, labs),
        )
        for index in range(labs)
    )
    made = Alert.objects.bulk_create(
        Alert(
            patient=patient,
            clinic_id=patient.clinic_id,
            rule_id="pain_rising",
            rule_version="2",
            rule_title="Abdominal pain rising",
            severity="amber",
            action="nurse_call_today",
            status="open" if index == alerts - 1 else "resolved",
            outcome="" if index == alerts - 1 else "advised",
            check_in=rows[(index * len(rows)) // max(alerts, 1)] if rows else None,
            evidence=[{"field": "abdominal_pain", "value": 5, "condition": "abdominal_pain >= 5"}],
            escalation_chain=[],
        )
        for index in range(alerts)
    )
    for index, alert in enumerate(made):  # created_at is set on insert: spread it after
        Alert.objects.filter(pk=alert.pk).update(created_at=at(index, alerts))
    visits = max(1, days // 90)  # the day-7 visit, then one a quarter
    Appointment.objects.bulk_create(
        Appointment(
            patient=patient,
            enrollment=enrollment,
            kind=Appointment.Kind.CLINIC_VISIT,
            starts_at=at(index, visits),
            status=Appointment.Status.ATTENDED,
        )
        for index in range(visits)
    )
    sent = OutgoingMessage.objects.bulk_create(
        OutgoingMessage(
            clinic_id=patient.clinic_id,
            patient=patient,
            to_phone=str(patient.phone),
            body=f"Question {index}: your temperature?",
            display_body=f"Question {index}: your temperature?",
            kind="check_in",
            status="delivered",
            idempotency_key=f"bench-history:{patient.pk}:{index}",
            question_id="temperature_c",
        )
        for index in range(messages)
    )
    MessageHistoryEntry.objects.bulk_create(
        MessageHistoryEntry(patient=patient, direction="outbound", outgoing=message) for message in sent
    )


def _patient_with_history(clinic: Any, index: int, history: dict[str, int]) -> Any:
    from backend.models import Patient

    days_ago = history["days"] + 1
    patient_id = enrolled_patients_create(clinic=clinic, count=1, start=index, discharged_days_ago=days_ago)[0]
    patient = Patient.objects.get(pk=patient_id)
    patient_history_create(patient=patient, **history)
    return patient


def patient_page_compare(*, loads: int) -> dict[str, Any]:
    """The dashboard's patient page, and the plan page, for a 10-check-in patient and a
    two-year one, loaded in turn. The dashboard page's figures at the top level (the
    table's row), the plan page's under ``plan_page``."""
    from django.db import connection

    from backend.models import Role, User

    clinic = clinic_create(name="Patient page clinic", index=903)
    short = _patient_with_history(clinic, 903_000, SHORT)
    long = _patient_with_history(clinic, 903_001, TWO_YEARS)
    nurse = User.objects.create(username="bench-patient-page", role=Role.NURSE, clinic=clinic)
    with connection.cursor() as cursor:
        # The planner's statistics after the bulk insert, as autovacuum keeps them on a
        # live server (stale ones make PostgreSQL join a whole thread before its LIMIT).
        cursor.execute("ANALYZE")
    client = staff_client(nurse)
    figures = _short_and_long(client, "/dashboard/patients/{id}/", short, long, loads=loads)
    figures["plan_page"] = _short_and_long(client, "/plans/patients/{id}/", short, long, loads=loads)
    return figures


def _short_and_long(client: Any, path: str, short: Any, long: Any, *, loads: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times: dict[str, list[float]] = {"short": [], "long": []}
    figures: dict[str, Any] = {}
    client.get(path.format(id=short.pk))  # templates compiled, caches warm
    for _ in range(loads):
        for name, patient in (("short", short), ("long", long)):
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                response = client.get(path.format(id=patient.pk))
                times[name].append((time.perf_counter() - began) * 1000)
            figures[f"status_{name}"] = response.status_code
            figures[f"queries_{name}"] = len(captured)
            figures[f"bytes_{name}"] = len(response.content)
    for name in ("short", "long"):
        ordered = sorted(times[name])
        figures[f"ms_median_{name}"] = statistics.median(ordered)
        figures[f"ms_p99_{name}"] = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    figures["ratio"] = figures["ms_median_long"] / figures["ms_median_short"]
    shown = path.replace("{id}", "<id>")
    for name, history in (("short", SHORT), ("long", TWO_YEARS)):
        print(
            f"{shown} with {history['check_ins']:3d} check-ins, {history['labs']:2d} labs, "
            f"{history['alerts']:2d} alerts, {history['messages']:4d} SMS: HTTP {figures[f'status_{name}']}, "
            f"{figures[f'queries_{name}']} queries, median {figures[f'ms_median_{name}']:.1f} ms, "
            f"p99 {figures[f'ms_p99_{name}']:.1f} ms, {figures[f'bytes_{name}']:,} bytes"
        )
    print(f"{shown}, two years / ten check-ins: {figures['ratio']:.2f} x the median time")
    return figures


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
    patient_page = patient_page_compare(loads=args.loads)
    ok = large["status"] == 200
    print(
        "BENCH_JSON "
        + json.dumps(
            {
                "available": ok,
                "reason": "" if ok else f"HTTP {large['status']}",
                **large,
                "queries_small": small["queries"],
                "patient_page": patient_page,
            }
        )
    )


if __name__ == "__main__":
    main()
