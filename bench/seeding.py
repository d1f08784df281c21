"""Data for the benches, written in bulk (no services: they would take hours at 100k).

Every function here needs Django set up (``bench.seeding.django_setup()``) and writes
to the database named by DATABASE_URL. The rows are what the services would have
written: enrolled patients of the default protocol, a history of submitted check-ins,
plans of scheduled check-ins, open alerts. Phone numbers are in Ofcom's drama range
(+44 20 7946 0xxx) or +1 555 01xx, which reach nobody.
"""

from __future__ import annotations

import itertools
import os
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BATCH = 5000
TIMEZONES = (
    "Europe/Istanbul",
    "Europe/Berlin",
    "Europe/London",
    "Asia/Baku",
    "Europe/Kyiv",
    "America/New_York",
)


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def bench_answers(day: int) -> dict[str, Any]:
    """The 25 answers of the default protocol (drain and pulse device included), a
    plausible mix: mostly unremarkable, a little fever or pain now and then. The same
    generator as bench/rules_engine.py, so the benches judge the same data."""
    return {
        "temperature_c": round(36.6 + (day % 5) * 0.2, 1),
        "chills": day % 7 == 0,
        "jaundice": False,
        "dark_urine": day % 11 == 0,
        "itching": False,
        "abdominal_pain": 2 + day % 3,
        "right_upper_pain": day % 6 == 0,
        "abdominal_swelling": "mild" if day % 9 == 0 else "none",
        "nausea": day % 3 == 0,
        "vomiting_episodes_24h": 1 if day % 8 == 0 else 0,
        "fluids_kept_down": True,
        "vomit_blood": False,
        "black_stools": False,
        "bowel_movement_days": day % 3,
        "appetite": "reduced" if day % 4 == 0 else "normal",
        "weight_kg": round(79.5 - (day % 30) * 0.05, 1),
        "heart_rate_bpm": 72 + day % 15,
        "confusion": False,
        "shortness_of_breath": False,
        "leg_swelling": "none",
        "swallowing_difficulty": False,
        "wound": "normal",
        "drain_output_ml": 120.0,
        "drain_bile_colored": False,
        "patient_urgent": False,
    }


def insert_select(
    model: Any, values: dict[str, str | tuple[str, list[Any]]], source: str, params: list[Any]
) -> list[tuple[Any, ...]]:
    """``INSERT INTO <model> (...) SELECT ... FROM <source>`` in PostgreSQL: 100,000 rows
    in a second, where bulk_create takes minutes. ``values`` maps field names to an SQL
    expression over ``source`` (with its parameters, if any); every other field gets what
    Django would write (its default, "" for text, NULL), auto_now(_add) fields now(). Returns the new rows' (id,)."""
    from django.db import connection

    columns, expressions, arguments = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.generated:  # the database computes a generated column
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.name in values:
            value = values[field.name]
            expression, extra = (value, []) if isinstance(value, str) else value
            expressions.append(expression)
            arguments += extra
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            expressions.append("now()")
        else:  # what Django would write: the default, "" for text, else NULL
            expressions.append("%s")
            arguments.append(field.get_db_prep_save(field.get_default(), connection))
    table = connection.ops.quote_name(model._meta.db_table)
    # Identifiers from the model's meta and the bench's own SQL; values are parameters.
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(expressions)} FROM {source} RETURNING id"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*arguments, *params])
        return list(cursor.fetchall())


def enrolled_patients_fast(*, clinic: Any, count: int, start: int, timezones: tuple[str, ...]) -> list[int]:
    """What ``enrolled_patients_create`` makes without history, in three INSERT ...
    SELECT statements (PostgreSQL only)."""
    from django.utils import timezone

    from backend.models import Episode, Patient
    from followup.models import Enrollment
    from followup.services.protocols import protocol_version_current

    version = protocol_version_current("post-hepatectomy")
    care_team = clinic.care_teams.first()
    discharge = timezone.localdate() - timedelta(days=3)
    zones = "ARRAY[" + ", ".join("%s" for _ in timezones) + "]"
    rows = insert_select(
        Patient,
        {
            "clinic": ("%s", [clinic.pk]),
            "care_team": ("%s", [care_team.pk]),
            "mrn": ("'B' || lpad(%s::text, 3, '0') || lpad((%s + g)::text, 7, '0')", [clinic.pk, start]),
            "given_name": ("'Given' || (%s + g)", [start]),
            "family_name": ("'Family' || (%s + g)", [start]),
            "phone": ("'+1555' || lpad(((%s * 1000000 + %s + g) %% 10000000)::text, 7, '0')", [clinic.pk, start]),
            "timezone": (f"({zones})[1 + ((%s + g) %% {len(timezones)})]", [*timezones, start]),
            "sms_consent": "true",
        },
        "generate_series(0, %s - 1) AS g",
        [count],
    )
    ids = [row[0] for row in rows]
    insert_select(
        Episode,
        {
            "patient": "p.id",
            "procedure": "'Right hepatectomy'",
            "indication": "'Colorectal liver metastasis'",
            "surgery_date": ("%s::date", [discharge - timedelta(days=7)]),
            "discharge_date": ("%s::date", [discharge]),
            "baseline_weight_kg": "80.0",
            "drain_at_discharge": "true",
        },
        "backend_patient AS p WHERE p.id = ANY(%s)",
        [ids],
    )
    insert_select(
        Enrollment,
        {
            "episode": "e.id",
            "patient": "e.patient_id",
            "protocol_version": ("%s", [version.pk]),
            "has_pulse_device": "true",
        },
        "backend_episode AS e WHERE e.patient_id = ANY(%s)",
        [ids],
    )
    return ids


@dataclass
class HttpFixture:
    clinic_id: int
    patient_tokens: list[str]
    patient_phones: list[str]
    staff_tokens: list[str]


def _chunks(rows: list[Any], size: int = BATCH) -> list[list[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def clinic_create(*, name: str, tz: str = "Europe/Istanbul", index: int = 0) -> Any:
    from backend.models import CareTeam, Clinic

    clinic = Clinic.objects.create(
        name=name, phone=f"+4420794600{index % 100:02d}", timezone=tz, languages=["en", "tr", "de", "ru", "uk", "az"]
    )
    CareTeam.objects.create(clinic=clinic, name=f"{name} team")
    return clinic


# The HTTP rounds send each of their patients far more check-ins an hour than the
# protocol's rate lets through (12: README, "The API does what its document says").
# Their patients are enrolled on a copy of the default protocol with the rate lifted,
# so the rounds measure stored check-ins, the limiter's Redis round trip included.
LOAD_CHECK_INS_PER_HOUR = 1_000_000


def load_protocol_version() -> Any:
    """The default protocol published with ``max_check_ins_per_hour`` lifted."""
    import re
    import shutil
    import tempfile

    from followup.protocols import DEFAULT_DATA_DIR
    from followup.services.protocols import protocol_version_current

    root = Path(tempfile.mkdtemp(prefix="vigil-bench-protocol-"))
    shutil.copytree(DEFAULT_DATA_DIR / "post-hepatectomy", root / "post-hepatectomy")
    path = root / "post-hepatectomy" / "protocol.yaml"
    text = path.read_text(encoding="utf-8")
    lifted = re.sub(r"(?m)^(  max_check_ins_per_hour:) \d+$", rf"\1 {LOAD_CHECK_INS_PER_HOUR}", text)
    if lifted == text:
        raise RuntimeError(f"no schedule.max_check_ins_per_hour to lift in {path}")
    path.write_text(lifted, encoding="utf-8")
    return protocol_version_current("post-hepatectomy", data_dir=root)


def enrolled_patients_create(
    *,
    clinic: Any,
    count: int,
    history: int = 0,
    discharged_days_ago: int = 3,
    start: int = 0,
    with_users: bool = False,
    timezones: tuple[str, ...] = ("Europe/Istanbul",),
    version: Any = None,
) -> list[int]:
    """``count`` patients of ``clinic``, each with an episode (drain at discharge), an
    active enrollment on ``version`` (default: the current default protocol; pulse
    device) and ``history`` submitted check-ins, one a day before today. Returns the
    patient ids."""
    from django.utils import timezone

    from backend.models import Episode, Patient, Role, User
    from followup.models import CheckIn, Enrollment
    from followup.services.protocols import protocol_version_current

    version = version or protocol_version_current("post-hepatectomy")
    care_team = clinic.care_teams.first()
    today = timezone.localdate()
    discharge = today - timedelta(days=max(discharged_days_ago, history + 1))
    users: list[Any] = []
    if with_users:
        users = [
            User(username=f"bench-patient-{clinic.pk}-{start + i}", role=Role.PATIENT, password="!")  # noqa: S106 - unusable
            for i in range(count)
        ]
        for chunk in _chunks(users):
            User.objects.bulk_create(chunk)
    patients = [
        Patient(
            clinic=clinic,
            care_team=care_team,
            user=users[i] if users else None,
            mrn=f"B{clinic.pk:03d}{start + i:07d}",
            given_name=f"Given{start + i}",
            family_name=f"Family{start + i}",
            phone=f"+1555{(clinic.pk * 1_000_000 + start + i) % 10_000_000:07d}",
            language="en",
            timezone=timezones[(start + i) % len(timezones)],
            sms_consent=True,
        )
        for i in range(count)
    ]
    for chunk in _chunks(patients):
        Patient.objects.bulk_create(chunk)
    episodes = [
        Episode(
            patient=patient,
            procedure="Right hepatectomy",
            indication="Colorectal liver metastasis",
            surgery_date=discharge - timedelta(days=7),
            discharge_date=discharge,
            baseline_weight_kg=Decimal("80.0"),
            drain_at_discharge=True,
        )
        for patient in patients
    ]
    for chunk in _chunks(episodes):
        Episode.objects.bulk_create(chunk)
    enrollments = [
        Enrollment(episode=episode, patient_id=episode.patient_id, protocol_version=version, has_pulse_device=True)
        for episode in episodes
    ]
    for chunk in _chunks(enrollments):
        Enrollment.objects.bulk_create(chunk)
    if history:
        now = timezone.now()
        rows = [
            CheckIn(
                patient_id=enrollment.patient_id,
                enrollment=enrollment,
                protocol_version=version,
                answers=bench_answers(day),
                phase="acute",
                taken_at=now - timedelta(days=history - day + 1),
                channel="app",
                level="green",
                advice="",
            )
            for enrollment in enrollments
            for day in range(1, history + 1)
        ]
        for chunk in _chunks(rows):
            CheckIn.objects.bulk_create(chunk)
    return [patient.pk for patient in patients]


def http_fixture(*, patients: int = 160, history: int = 30, dashboards: int = 50) -> HttpFixture:
    """One clinic with ``patients`` enrolled patients (each with a knox token and
    ``history`` past check-ins) and ``dashboards`` + 1 staff users with tokens (one
    extra for the anchor's own feed). The tokens are returned in clear for the load
    client; only their hashes are stored."""
    from datetime import timedelta as _td

    from knox.models import AuthToken

    from backend.models import OnCallShift, Patient, Role, User

    clinic = clinic_create(name="Bench clinic")
    ids = enrolled_patients_create(
        clinic=clinic, count=patients, history=history, with_users=True, version=load_protocol_version()
    )
    patient_rows = list(Patient.objects.filter(pk__in=ids).select_related("user").order_by("pk"))
    patient_tokens = [AuthToken.objects.create(user=p.user, expiry=_td(days=2))[1] for p in patient_rows]
    staff = []
    for i in range(dashboards + 1):
        user = User.objects.create(
            username=f"bench-staff-{i}",
            role=Role.SURGEON if i % 2 else Role.NURSE,
            clinic=clinic,
            phone=f"+4420794607{i % 100:02d}",
        )
        staff.append(user)
    from django.utils import timezone

    now = timezone.now()
    OnCallShift.objects.create(
        care_team=clinic.care_teams.first(),
        user=staff[0],
        level=1,
        starts_at=now - _td(days=1),
        ends_at=now + _td(days=2),
    )
    staff_tokens = [AuthToken.objects.create(user=user, expiry=_td(days=2))[1] for user in staff]
    return HttpFixture(
        clinic_id=clinic.pk,
        patient_tokens=patient_tokens,
        patient_phones=[str(p.phone) for p in patient_rows],
        staff_tokens=staff_tokens,
    )


def plans_create(*, patient_ids: list[int], now: datetime, due_each: int) -> dict[str, int]:
    """Scheduled check-ins for the beat tick: per patient one completed yesterday and
    one scheduled for tomorrow (rows the tick must not touch), and for the first
    ``due_each`` patients one due now to announce, one announced 7 h ago (past half
    its 12 h window: to remind), and one whose window has closed (to mark missed). The due work is the same
    for every size, so what grows with the patients is only what the tick must skip."""
    from followup.models import Enrollment, ScheduledCheckIn

    enrollment_of = dict(
        Enrollment.objects.filter(patient_id__in=patient_ids[: 3 * due_each]).values_list("patient_id", "pk")
    )
    # Every patient: a check-in completed yesterday and one due tomorrow (in SQL: fast).
    source = "followup_enrollment AS e WHERE e.patient_id = ANY(%s)"
    past = insert_select(
        ScheduledCheckIn,
        {
            "patient": "e.patient_id",
            "enrollment": "e.id",
            "due_at": ("%s", [now - timedelta(days=1)]),
            "channel": "'sms'",
            "status": "'completed'",
            "phase": "'acute'",
            "closed_at": ("%s", [now - timedelta(hours=20)]),
            "plan_key": "'check_in:bench-past'",
        },
        source,
        [patient_ids],
    )
    upcoming = insert_select(
        ScheduledCheckIn,
        {
            "patient": "e.patient_id",
            "enrollment": "e.id",
            "due_at": ("%s", [now + timedelta(days=1)]),
            "channel": "'sms'",
            "phase": "'acute'",
            "plan_key": "'check_in:bench-next'",
        },
        source,
        [patient_ids],
    )
    rows: list[ScheduledCheckIn] = []
    for index, patient_id in enumerate(patient_ids[: 3 * due_each]):
        enrollment_id = enrollment_of[patient_id]
        common = {"patient_id": patient_id, "enrollment_id": enrollment_id, "channel": "sms", "phase": "acute"}
        if index < due_each:
            rows.append(ScheduledCheckIn(**common, due_at=now - timedelta(minutes=1), plan_key="check_in:bench-due"))
        elif index < 2 * due_each:
            rows.append(
                ScheduledCheckIn(
                    **common,
                    due_at=now - timedelta(hours=7),
                    status="sent",
                    announced_at=now - timedelta(hours=7),
                    plan_key="check_in:bench-remind",
                )
            )
        elif index < 3 * due_each:
            rows.append(
                ScheduledCheckIn(
                    **common,
                    due_at=now - timedelta(hours=13),
                    window_minutes=720,
                    status="sent",
                    announced_at=now - timedelta(hours=13),
                    reminded_at=now - timedelta(hours=9),
                    plan_key="check_in:bench-miss",
                )
            )
    for chunk in _chunks(rows):
        ScheduledCheckIn.objects.bulk_create(chunk)
    return {"scheduled_check_ins": len(past) + len(upcoming) + len(rows)}


_ACK_CODES = itertools.count()


def alerts_create(
    *, clinic_id: int, patient_ids: list[int], count: int, now: datetime, due_each: int = 0, status: str = "open"
) -> list[int]:
    """``count`` unresolved alerts (one per patient, red and amber mixed, a different
    rule each so the one-open-alert-per-rule constraint holds); the first ``due_each``
    are past their escalation deadline."""
    from followup.models import Alert

    rules = [
        ("jaundice_new", "red", "New jaundice"),
        ("fever_high", "red", "Temperature 38.5 °C or more"),
        ("pain_rising", "amber", "Abdominal pain rising"),
        ("weight_loss_fast", "amber", "Weight loss over 5 % in a week"),
    ]
    rows = []
    for index, patient_id in enumerate(patient_ids[:count]):
        rule_id, severity, title = rules[index % len(rules)]
        rows.append(
            Alert(
                patient_id=patient_id,
                clinic_id=clinic_id,
                rule_id=rule_id,
                rule_version="2026.1",
                rule_title=title,
                severity=severity,
                action="recall_now" if severity == "red" else "nurse_call_today",
                status=status,
                evidence=[{"field": "jaundice", "value": True, "condition": "jaundice is true"}],
                escalation_level=1,
                next_escalation_at=now - timedelta(minutes=1) if index < due_each else now + timedelta(hours=4),
                escalation_chain=[],
                # Unique among a clinic's unresolved alerts (the database's constraint),
                # across calls for the same clinic.
                ack_code=f"B{next(_ACK_CODES):07d}",
            )
        )
    created: list[Any] = []
    for chunk in _chunks(rows):
        created += Alert.objects.bulk_create(chunk)
    return [alert.pk for alert in created]


def events_create(*, clinic_ids: list[int], count: int) -> int:
    from notifications.models import Event

    rows = [
        Event(clinic_id=clinic_ids[i % len(clinic_ids)], type="check_in.received", data={"id": i, "level": "green"})
        for i in range(count)
    ]
    for chunk in _chunks(rows):
        Event.objects.bulk_create(chunk)
    return len(rows)


def today() -> date:
    from django.utils import timezone

    return timezone.localdate()
