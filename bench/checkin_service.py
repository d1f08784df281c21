"""The check-in path, end to end: rules evaluations per second and one full check-in
through ``checkin_submit`` (validation, storage, evaluation, alert, escalation page,
recall, outbox, events, commit) at the median and p99.

Run: ``.venv/bin/python bench/checkin_service.py [--check-ins 200] [--seconds 0.5]``

Self-contained: it sets its own environment (a throw-away SQLite database in a temp
directory, migrated first; Celery on the in-memory transport; the in-memory channel
layer), so it needs no server and touches no other database; the shell's
``DATABASE_URL`` is ignored. Set ``BENCH_DATABASE_URL`` to measure on PostgreSQL
instead (it must name a database you can throw away: the bench migrates it and fills it).

Measured:
* ``baseline``: a loop that only reads the answers of the check-in and of its 30
  past check-ins, the floor any evaluator pays;
* ``evaluate``: the stored protocol version's ``RuleSet.evaluate`` on that input
  (30 check-ins and 12 lab results of history), as ``checkin_submit`` calls it;
* ``checkin_submit``: one red check-in (jaundice) of a patient with 30 check-ins and
  12 lab results of history, each a new alert: page to on-call, recall, red advice SMS
  in the outbox, events; the commit included.
Prints figures; never fails.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK_DIR = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
atexit.register(shutil.rmtree, WORK_DIR, ignore_errors=True)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ["VIGIL_DATA_DIR"] = str(WORK_DIR)
# Never the DATABASE_URL of the shell (it may be a real database): the bench writes
# hundreds of patients. BENCH_DATABASE_URL names a throw-away one on purpose.
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{WORK_DIR / 'bench.sqlite3'}"
# Settings insist on a Redis URL; nothing here connects to it: Celery gets the
# in-memory transport and the channel layer is replaced below.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ["CELERY_BROKER_URL"] = "memory://localhost/"
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402 - after the environment above

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

from backend.models import CareTeam, Clinic, Episode, OnCallShift, Patient, Role, User  # noqa: E402
from followup.models import CheckIn, Enrollment, Observation  # noqa: E402
from followup.rules import EvaluationInput, LabResult, PastCheckIn  # noqa: E402
from followup.services.checkins import checkin_submit  # noqa: E402
from followup.services.protocols import protocol_definition, protocol_version_current  # noqa: E402
from tests.answers import green_answers  # noqa: E402

LAB_SERIES = (("bilirubin_umol_l", 30.0), ("inr", 1.2), ("alt_u_l", 80.0), ("albumin_g_l", 30.0))


def answers(day: int) -> dict[str, Any]:
    """A plausible acute check-in: a little pain and nausea now and then, weight drifting."""
    vomited = 1 if day % 8 == 0 else 0
    data: dict[str, Any] = green_answers(
        temperature_c=round(36.8 + (day % 4) * 0.2, 1),
        dark_urine=day % 11 == 0,
        abdominal_pain=2 + day % 3,
        nausea=day % 3 == 0,
        vomiting_episodes_24h=vomited,
        bowel_movement_days=day % 3,
        appetite="reduced" if day % 4 == 0 else "normal",
        weight_kg=round(79.0 - day * 0.05, 1),
    )
    if vomited:
        data["fluids_kept_down"] = True
    return data


def build_patients(count: int) -> tuple[list[Patient], User]:
    """``count`` enrolled patients, each discharged 31 days ago with a check-in on each
    of days 1-30 and 12 lab results; an on-call surgeon who gets the pages."""
    clinic = Clinic.objects.create(name="Bench clinic", phone="+442079460001", languages=["en", "tr"])
    team = CareTeam.objects.create(clinic=clinic, name="Liver team")
    surgeon = User.objects.create(username="bench-surgeon", role=Role.SURGEON, clinic=clinic, phone="+442079460002")
    now = timezone.now()
    OnCallShift.objects.create(
        care_team=team, user=surgeon, level=1, starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1)
    )
    version = protocol_version_current("post-hepatectomy")
    today = timezone.localdate()
    discharge = today - timedelta(days=31)
    patients: list[Patient] = []
    check_ins: list[CheckIn] = []
    labs: list[Observation] = []
    for index in range(count):
        patient = Patient.objects.create(
            clinic=clinic,
            care_team=team,
            mrn=f"BENCH{index:05d}",
            given_name="Bench",
            family_name=f"Patient{index}",
            phone=f"+4420794603{index % 100:02d}",
            language="tr" if index % 2 else "en",
            timezone="Europe/Istanbul",
            sms_consent=True,
        )
        episode = Episode.objects.create(
            patient=patient,
            procedure="Right hepatectomy",
            surgery_date=discharge - timedelta(days=7),
            discharge_date=discharge,
            baseline_weight_kg=Decimal("80.0"),
        )
        enrollment = Enrollment.objects.create(episode=episode, patient=patient, protocol_version=version)
        for day in range(1, 31):
            check_ins.append(
                CheckIn(
                    patient=patient,
                    enrollment=enrollment,
                    protocol_version=version,
                    answers=answers(day),
                    taken_at=now - timedelta(days=31 - day, hours=1),
                    channel="app",
                    level="green",
                )
            )
        for step in range(3):
            for code, value in LAB_SERIES:
                labs.append(
                    Observation(
                        patient=patient,
                        code=code,
                        value=value + step,
                        unit="",
                        entered_value=value + step,
                        entered_unit="",
                        observed_at=now - timedelta(days=28 - step * 7),
                    )
                )
        patients.append(patient)
    CheckIn.objects.bulk_create(check_ins, batch_size=1000)
    Observation.objects.bulk_create(labs, batch_size=1000)
    return patients, surgeon


def rate(run: Callable[[], object], seconds: float) -> float:
    """Calls per second over a batch lasting about ``seconds``."""
    batch = 1
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            run()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return batch / elapsed
        batch *= 2 if elapsed < seconds / 4 else max(2, int(seconds / max(elapsed, 1e-9)))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check-ins", type=int, default=200, help="full check-ins to time")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one evaluation round")
    args = parser.parse_args()

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    patients, _surgeon = build_patients(args.check_ins)
    print(
        f"python {platform.python_version()} on {platform.machine()}, {settings.DATABASES['default']['ENGINE']}; "
        f"set-up (migrate + {args.check_ins} patients x 30 check-ins) {time.perf_counter() - started:.1f} s"
    )

    # --- evaluations per second, on the input checkin_submit builds -------------------
    patient = patients[0]
    enrollment = Enrollment.objects.select_related("episode", "protocol_version__protocol").get(patient=patient)
    definition = protocol_definition(enrollment.protocol_version)
    history = [
        PastCheckIn(taken_at=taken_at, answers=data)
        for taken_at, data in CheckIn.objects.filter(patient=patient).values_list("taken_at", "answers")
    ]
    labs = [
        LabResult(code=code, value=value, observed_at=observed_at)
        for code, value, observed_at in Observation.objects.filter(patient=patient).values_list(
            "code", "value", "observed_at"
        )
    ]
    data = EvaluationInput(
        answers={**answers(31), "temperature_c": 38.1, "abdominal_pain": 5},
        taken_at=timezone.now(),
        phase="acute",
        day_since_discharge=31,
        day_since_surgery=38,
        baseline_weight_kg=80.0,
        history=history,
        labs=labs,
        surgery_date=enrollment.episode.surgery_date,
    )

    def baseline() -> object:
        total = 0
        for name in data.answers:
            if data.answers.get(name) is not None:
                total += 1
        for past in data.history:
            for name in past.answers:
                if past.answers.get(name) is not None:
                    total += 1
        return total

    def evaluate() -> object:
        return definition.ruleset.evaluate(data)

    cases: list[tuple[str, Callable[[], object]]] = [("baseline (read the answers)", baseline), ("evaluate", evaluate)]
    figures: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(args.rounds):
        for name, run in cases:
            figures[name].append(rate(run, args.seconds))
    print(
        f"rules engine: {len(definition.ruleset)} rules, {len(history)} past check-ins, {len(labs)} lab results; "
        f"level {evaluate().level}"  # type: ignore[attr-defined]
    )
    base = statistics.median(figures[cases[0][0]])
    for name, _ in cases:
        median = statistics.median(figures[name])
        print(f"  {name:28s} {median:12,.0f} /s   {1e6 / median:8.2f} us each   {base / median:6.1f} x baseline")

    # --- full check-ins ---------------------------------------------------------------------
    red = {**answers(31), "jaundice": True}
    timings: list[float] = []
    created = 0
    for patient in patients:
        start = time.perf_counter()
        result = checkin_submit(patient_id=patient.pk, answers=red, channel="app")
        timings.append((time.perf_counter() - start) * 1000)
        created += result.alerts_created
    print(
        f"checkin_submit (red, new alert, page, recall, advice SMS, events, commit): {len(timings)} check-ins, "
        f"{created} alerts opened"
    )
    print(
        f"  median {statistics.median(timings):7.2f} ms   p99 {percentile(timings, 0.99):7.2f} ms   "
        f"max {max(timings):7.2f} ms"
    )
    # One machine-readable line for bench/run.py's table.
    summary = {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "evaluations_per_second": round(statistics.median(figures["evaluate"])),
        "baseline_per_second": round(base),
        "checkin_submit_ms": {
            "median": round(statistics.median(timings), 2),
            "p99": round(percentile(timings, 0.99), 2),
            "count": len(timings),
        },
    }
    print("BENCH_JSON " + json.dumps(summary))


if __name__ == "__main__":
    main()
