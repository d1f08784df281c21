"""A check-in's cost as one patient's history grows (issue 17, must-show 2).

Run: ``.venv/bin/python bench/history_growth.py [--sizes 10,1000,10000] [--check-ins 40]``
(DATABASE_URL must name a bench database, its name containing 'bench': patients and
check-ins are added to it; it is migrated first).

One patient per size, enrolled in the acute phase, with 10, 1,000 and 10,000 past
check-ins *inside the rule windows*: one every 5 minutes back from now, the densest
the per-patient rate lets a patient send (12 an hour), so the 24 h and 72 h windows of
``fever_persistent`` and ``weight_gain_fast`` hold as many check-ins as they ever can
(288 and 864 from 1,000 check-ins on), and ``consecutive`` has its runs. Each history
carries 30 lab results.

Measured, the sizes taken in turn round after round so that drift hits each alike:
* ``checkin_submit``: a full green check-in (validate, judge, store, event, commit),
  its time and its SQL statements;
* ``history read``: the bounded read the check-in path does (``followup.history``);
* ``baseline``: the whole-history read the check-in path did before issue 17 (every
  check-in, every lab) plus the evaluation, measured in the same run at each size.
Target: per-check-in time at 10,000 <= 1.2 x the time at 10, the same statement
count. Prints figures and a ``BENCH_JSON`` line for bench/run.py; never fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.seeding import bench_answers, clinic_create, django_setup, enrolled_patients_create  # noqa: E402

SPACING = timedelta(minutes=5)  # 12 an hour: the per-patient rate's most
LAB_CODES = ("bilirubin_umol_l", "inr", "cea_ng_ml")
# A check-in green whatever the history around it (no run of nausea, no fever, the
# weight within 2 kg of the lowest of 72 h): the same path at every size.
SUBMITTED = bench_answers(1)


def history_create(*, patient_id: int, size: int) -> None:
    from django.utils import timezone

    from followup.models import CheckIn, Enrollment, Observation

    enrollment = Enrollment.objects.get(patient_id=patient_id)
    now = timezone.now()
    rows = [
        CheckIn(
            patient_id=patient_id,
            enrollment=enrollment,
            protocol_version=enrollment.protocol_version,
            answers=bench_answers(index),
            phase="acute",
            taken_at=now - SPACING * (index + 1),
            channel="app",
            level="green",
        )
        for index in range(size)
    ]
    CheckIn.objects.bulk_create(rows, batch_size=2000)
    Observation.objects.bulk_create(
        Observation(
            patient_id=patient_id,
            code=LAB_CODES[index % len(LAB_CODES)],
            value=20.0 + index % 7,
            unit="",
            entered_value=20.0 + index % 7,
            entered_unit="",
            observed_at=now - timedelta(days=index),
        )
        for index in range(30)
    )


def whole_history_judge(patient_id: int) -> Any:
    """The check-in path's judgement as it was before issue 17: every check-in and every
    lab of the patient read, then the rules. The baseline."""
    import zoneinfo

    from django.utils import timezone

    from followup.models import CheckIn, Enrollment, Observation
    from followup.rules import EvaluationInput, LabResult, PastCheckIn
    from followup.services.protocols import protocol_definition

    enrollment = Enrollment.objects.select_related("episode", "patient", "protocol_version").get(patient_id=patient_id)
    moment, zone, episode = timezone.now(), zoneinfo.ZoneInfo(enrollment.patient.timezone), enrollment.episode
    history = [
        PastCheckIn(taken_at=taken_at, answers=answers)
        for taken_at, answers in CheckIn.objects.filter(patient_id=patient_id, taken_at__lt=moment)
        .order_by("taken_at", "id")
        .values_list("taken_at", "answers")
    ]
    labs = [
        LabResult(code=code, value=value, observed_at=at.astimezone(zone))
        for code, value, at in Observation.objects.filter(patient_id=patient_id, observed_at__lte=moment).values_list(
            "code", "value", "observed_at"
        )
    ]
    return protocol_definition(enrollment.protocol_version).ruleset.evaluate(
        EvaluationInput(
            answers=SUBMITTED,
            taken_at=moment,
            phase="acute",
            day_since_discharge=(moment.date() - episode.discharge_date).days,
            baseline_weight_kg=80.0,
            history=history,
            labs=labs,
            surgery_date=episode.surgery_date,
        )
    )


_READ_INPUTS: dict[int, tuple[Any, Any]] = {}


def bounded_read(patient_id: int) -> Any:
    """The check-in path's history read alone (the enrollment and its rules read once
    per patient beforehand, as the check-in path has them already)."""
    from django.utils import timezone

    from followup.history import history_read
    from followup.models import Enrollment
    from followup.services.protocols import protocol_definition

    if patient_id not in _READ_INPUTS:
        enrollment = Enrollment.objects.select_related("episode", "patient", "protocol_version").get(
            patient_id=patient_id
        )
        _READ_INPUTS[patient_id] = (enrollment, protocol_definition(enrollment.protocol_version).ruleset)
    enrollment, ruleset = _READ_INPUTS[patient_id]
    return history_read(
        patient_id=patient_id,
        timezone=enrollment.patient.timezone,
        moment=timezone.now(),
        horizon=ruleset.history_horizon(phase="acute"),
        surgery_date=enrollment.episode.surgery_date,
    )


def submit(patient_id: int) -> tuple[float, int, str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from followup.services.checkins import checkin_submit

    with CaptureQueriesContext(connection) as captured:
        began = time.perf_counter()
        result = checkin_submit(patient_id=patient_id, answers=SUBMITTED, channel="app")
        elapsed = (time.perf_counter() - began) * 1000
    return elapsed, len(captured), result.level


def timed(run: Any, patient_id: int) -> float:
    began = time.perf_counter()
    run(patient_id)
    return (time.perf_counter() - began) * 1000


def explain(patient_id: int) -> str:
    """PostgreSQL's plan of the bounded read at the largest size."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return ""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        bounded_read(patient_id)
    sql = queries.captured_queries[-1]["sql"]  # the read, its values bound
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000", help="past check-ins of each patient")
    parser.add_argument("--check-ins", type=int, default=40, help="check-ins timed per size")
    args = parser.parse_args()
    name = urlparse(os.environ.get("DATABASE_URL", "")).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit("DATABASE_URL must name a bench database (its name contains 'bench').")
    django_setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    call_command("migrate", verbosity=0)
    sizes = [int(size) for size in args.sizes.split(",")]
    started = time.perf_counter()
    clinic = clinic_create(name=f"History growth clinic {time.time_ns()}", index=917)
    patients: dict[int, int] = {}
    for index, size in enumerate(sizes):
        (patient_id,) = enrolled_patients_create(clinic=clinic, count=1, start=917_000 + index, discharged_days_ago=40)
        history_create(patient_id=patient_id, size=size)
        patients[size] = patient_id
    with connection.cursor() as cursor:
        # The statistics and visibility map autovacuum keeps on a live server (a history
        # of months was never inserted in one go): without the map, an index-only read
        # of a window still visits every row of it.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(
        f"{connection.vendor}: one patient per size with {', '.join(f'{s:,}' for s in sizes)} past check-ins "
        f"(one every 5 min), 30 labs each; set-up {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    submit_ms: dict[int, list[float]] = {size: [] for size in sizes}
    read_ms: dict[int, list[float]] = {size: [] for size in sizes}
    baseline_ms: dict[int, list[float]] = {size: [] for size in sizes}
    statements: dict[int, set[int]] = {size: set() for size in sizes}
    levels: dict[int, set[str]] = {size: set() for size in sizes}
    for size in sizes:  # warm: protocol cache, first plans
        submit(patients[size])
        bounded_read(patients[size])
    for _ in range(args.check_ins):
        for size in sizes:
            patient_id = patients[size]
            elapsed, count, level = submit(patient_id)
            submit_ms[size].append(elapsed)
            statements[size].add(count)
            levels[size].add(level)
            read_ms[size].append(timed(bounded_read, patient_id))
            baseline_ms[size].append(timed(whole_history_judge, patient_id))

    header = ("past check-ins", "checkin_submit ms", "statements", "history read ms", "baseline ms")
    print(f"{header[0]:>15} {header[1]:>18} {header[2]:>10} {header[3]:>16} {header[4]:>12}")
    for size in sizes:
        print(
            f"{size:>15,} {median(submit_ms[size]):>18.2f} {'/'.join(map(str, sorted(statements[size]))):>10} "
            f"{median(read_ms[size]):>16.3f} {median(baseline_ms[size]):>12.2f}   levels {sorted(levels[size])}"
        )
    small, large = sizes[0], sizes[-1]
    ratio = median(submit_ms[large]) / median(submit_ms[small])
    baseline_ratio = median(baseline_ms[large]) / median(baseline_ms[small])
    same = statements[small] == statements[large] and len(statements[large]) == 1
    print(
        f"checkin_submit {large:,} / {small:,}: {ratio:.2f} x the median time (target <= 1.2), "
        f"statements {'the same' if same else 'DIFFERENT'} "
        f"({sorted(statements[small])} / {sorted(statements[large])}); "
        f"baseline (whole-history read + evaluate) {baseline_ratio:.1f} x"
    )
    plan = explain(patients[large])
    if plan:
        print(f"EXPLAIN ANALYZE of the bounded read, {large:,} check-ins:\n{plan}")
    summary = {
        "available": True,
        "database": connection.vendor,
        "sizes": [
            {
                "check_ins": size,
                "checkin_submit_ms": round(median(submit_ms[size]), 3),
                "statements": sorted(statements[size]),
                "history_read_ms": round(median(read_ms[size]), 3),
                "baseline_ms": round(median(baseline_ms[size]), 3),
            }
            for size in sizes
        ],
        "ratio": round(ratio, 3),
        "baseline_ratio": round(baseline_ratio, 3),
        "same_statements": same,
    }
    print("BENCH_JSON " + json.dumps(summary))


if __name__ == "__main__":
    main()
