"""The research export (issue 21): a clinic's check-ins, alerts and outcomes as CSV
files in one ZIP, pseudonymised.

- Each patient is named by a keyed hash of their id (HMAC-SHA256, a random key made
  for this export and thrown away): rows of one patient link within the export, but
  not to Vigil's ids nor to another export. Episodes are numbered within the patient.
- No name, phone, MRN, address, free text (notes, SMS, advice), staff names or user
  ids. Vigil keeps no birth date, so no age goes out either.
- Times are relative to the episode's discharge (the day after discharge, the hour of
  the patient's day), and response times are durations: no calendar date leaves.
- Answers go out only as numbers, yes/no and choice keys (identifier-like strings):
  a question that took free text could never leak through this file.

Whoever exports is audited, one record per patient whose data went out (the
``research_export`` object names the export, never the patient)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
import zipfile
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Episode, Patient, User
from followup.models import Alert, CheckIn, Enrollment, ScheduledCheckIn

CHOICE_KEY = re.compile(r"^[a-z0-9_]{1,40}$")
GRADES = ["I", "II", "IIIa", "IIIb", "IVa", "IVb", "V"]

README = """Vigil research export (pseudonymised)

patient: a keyed hash of the patient, valid within this export only (the key is not kept).
episode: the patient's surgical episode, numbered 1, 2, ... within the patient.
day_after_discharge: the patient's local calendar day minus the discharge date (0 = discharge day).
hour_local: the hour of the patient's local day.
minutes_to_acknowledge / minutes_to_resolve: from the alert's opening.
answer.<question>: numbers, yes/no (true/false) and choice keys only; free text is never exported.
No names, phone numbers, MRNs, dates, notes, message texts or staff identities are included.
"""


@dataclass(frozen=True)
class ResearchExport:
    export_id: str
    content: bytes
    counts: dict[str, int]


class _Pseudonyms:
    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def patient(self, patient_id: int) -> str:
        return hmac.new(self._key, f"patient:{patient_id}".encode(), hashlib.sha256).hexdigest()[:20]


def _answer_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and CHOICE_KEY.match(value):
        return value
    return None


def _local_day(moment: datetime, tz: str) -> tuple[date, int]:
    local = moment.astimezone(zoneinfo.ZoneInfo(tz))
    return local.date(), local.hour


def _minutes(start: datetime, end: datetime | None) -> int | str:
    return round((end - start).total_seconds() / 60) if end else ""


def _csv(header: list[str], rows: Iterable[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


class _Context:
    """Episodes and their discharge days, keyed the ways the rows need them."""

    def __init__(self, patients: list[Patient]) -> None:
        self.patients = {patient.pk: patient for patient in patients}
        episodes = Episode.objects.filter(patient__in=patients).order_by("patient_id", "discharge_date", "id")
        self.episodes: dict[int, Episode] = {}
        self.episode_number: dict[int, int] = {}
        self.by_patient: dict[int, list[Episode]] = defaultdict(list)
        for episode in episodes:
            self.episodes[episode.pk] = episode
            self.by_patient[episode.patient_id].append(episode)
            self.episode_number[episode.pk] = len(self.by_patient[episode.patient_id])
        self.enrollment_episode = dict(Enrollment.objects.filter(patient__in=patients).values_list("pk", "episode_id"))

    def episode_of(self, patient_id: int, enrollment_id: int | None, local_day: date) -> Episode | None:
        """The check-in's enrollment's episode; without one, the last discharged before."""
        if enrollment_id is not None and enrollment_id in self.enrollment_episode:
            return self.episodes[self.enrollment_episode[enrollment_id]]
        earlier = [episode for episode in self.by_patient[patient_id] if episode.discharge_date <= local_day]
        return earlier[-1] if earlier else None

    def when(self, patient_id: int, enrollment_id: int | None, moment: datetime) -> tuple[Any, Any, Any]:
        """(episode number, day after discharge, local hour)."""
        day, hour = _local_day(moment, self.patients[patient_id].timezone)
        episode = self.episode_of(patient_id, enrollment_id, day)
        if episode is None:
            return "", "", hour
        return self.episode_number[episode.pk], (day - episode.discharge_date).days, hour


def _check_in_rows(check_ins: list[CheckIn], context: _Context, names: _Pseudonyms) -> tuple[list[str], list[list]]:
    questions = sorted({question for check_in in check_ins for question in (check_in.answers or {})})
    header = [
        "patient",
        "episode",
        "day_after_discharge",
        "hour_local",
        "phase",
        "channel",
        "level",
        "complete",
        "protocol_version",
        *(f"answer.{question}" for question in questions),
    ]
    rows = []
    for check_in in check_ins:
        episode, day, hour = context.when(check_in.patient_id, check_in.enrollment_id, check_in.taken_at)
        answers = check_in.answers or {}
        values = [_answer_value(answers.get(question)) for question in questions]
        rows.append(
            [
                names.patient(check_in.patient_id),
                episode,
                day,
                hour,
                check_in.phase,
                check_in.channel,
                check_in.level,
                "true" if check_in.complete else "false",
                check_in.protocol_version.version,
                *("" if value is None else value for value in values),
            ]
        )
    return header, rows


ALERT_HEADER = [
    "patient",
    "episode",
    "day_after_discharge",
    "hour_local",
    "rule_id",
    "rule_version",
    "severity",
    "action",
    "status",
    "outcome",
    "complication_grade",
    "escalation_level",
    "source",
    "minutes_to_acknowledge",
    "minutes_to_resolve",
]


def _alert_rows(alerts: list[Alert], context: _Context, names: _Pseudonyms) -> list[list]:
    rows = []
    for alert in alerts:
        enrollment_id = alert.check_in.enrollment_id if alert.check_in_id else None
        episode, day, hour = context.when(alert.patient_id, enrollment_id, alert.created_at)
        rows.append(
            [
                names.patient(alert.patient_id),
                episode,
                day,
                hour,
                alert.rule_id,
                alert.rule_version,
                alert.severity,
                alert.action,
                alert.status,
                alert.outcome,
                alert.complication_grade,
                alert.escalation_level,
                "check_in" if alert.check_in_id else "lab" if alert.observation_id else "",
                _minutes(alert.created_at, alert.acknowledged_at),
                _minutes(alert.created_at, alert.resolved_at),
            ]
        )
    return rows


OUTCOME_HEADER = [
    "patient",
    "episode",
    "procedure",
    "indication",
    "length_of_stay_days",
    "drain_at_discharge",
    "enrollment_status",
    "check_ins",
    "check_ins_red",
    "check_ins_amber",
    "check_ins_green",
    "check_ins_missed",
    "last_check_in_day",
    "alerts_red",
    "alerts_amber",
    "recalled",
    "highest_complication_grade",
]


def _outcome_rows(
    context: _Context, check_in_rows: list[list], alerts: list[Alert], names: _Pseudonyms, missed: Counter[int]
) -> list[list]:
    levels: Counter[tuple[str, Any, str]] = Counter()
    last_day: dict[tuple[str, Any], int] = {}
    for row in check_in_rows:
        key = (row[0], row[1])
        levels[(*key, row[6])] += 1
        if isinstance(row[2], int):
            last_day[key] = max(last_day.get(key, row[2]), row[2])
    alert_counts: Counter[tuple[str, Any, str]] = Counter()
    grades: dict[tuple[str, Any], list[str]] = defaultdict(list)
    for alert in alerts:
        enrollment_id = alert.check_in.enrollment_id if alert.check_in_id else None
        episode, _day, _hour = context.when(alert.patient_id, enrollment_id, alert.created_at)
        key = (names.patient(alert.patient_id), episode)
        alert_counts[(*key, alert.severity)] += 1
        alert_counts[(*key, "recalled")] += alert.outcome == Alert.Outcome.RECALLED
        if alert.complication_grade in GRADES:
            grades[key].append(alert.complication_grade)
    statuses = dict(Enrollment.objects.filter(episode__in=context.episodes).values_list("episode_id", "status"))
    rows = []
    for episode in context.episodes.values():
        key = (names.patient(episode.patient_id), context.episode_number[episode.pk])
        total = sum(levels[(*key, level)] for level in ("red", "amber", "green"))
        worst = max(grades[key], key=GRADES.index) if grades[key] else ""
        rows.append(
            [
                *key,
                episode.procedure,
                episode.indication,
                (episode.discharge_date - episode.surgery_date).days,
                "true" if episode.drain_at_discharge else "false",
                statuses.get(episode.pk, ""),
                total,
                levels[(*key, "red")],
                levels[(*key, "amber")],
                levels[(*key, "green")],
                missed[episode.pk],
                last_day.get(key, ""),
                alert_counts[(*key, "red")],
                alert_counts[(*key, "amber")],
                alert_counts[(*key, "recalled")],
                worst,
            ]
        )
    return rows


def research_export_build(*, clinic_id: int, by: User, audit: AuditContext | None = None) -> ResearchExport:
    """The clinic's pseudonymised export as a ZIP (check-ins, alerts, outcomes, README)."""
    names = _Pseudonyms()
    patients = list(Patient.objects.filter(clinic_id=clinic_id, erased_at__isnull=True).order_by("id"))
    context = _Context(patients)
    check_ins = list(
        CheckIn.objects.filter(patient__in=patients).select_related("protocol_version").order_by("taken_at", "id")
    )
    alerts = list(Alert.objects.filter(patient__in=patients).select_related("check_in").order_by("created_at", "id"))
    missed: Counter[int] = Counter()
    for enrollment_id in ScheduledCheckIn.objects.filter(
        patient__in=patients, status=ScheduledCheckIn.Status.MISSED
    ).values_list("enrollment_id", flat=True):
        if enrollment_id in context.enrollment_episode:
            missed[context.enrollment_episode[enrollment_id]] += 1
    check_in_header, check_in_rows = _check_in_rows(check_ins, context, names)
    alert_rows = _alert_rows(alerts, context, names)
    outcome_rows = _outcome_rows(context, check_in_rows, alerts, names, missed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README)
        archive.writestr("check_ins.csv", _csv(check_in_header, check_in_rows))
        archive.writestr("alerts.csv", _csv(ALERT_HEADER, alert_rows))
        archive.writestr("outcomes.csv", _csv(OUTCOME_HEADER, outcome_rows))
    export_id = secrets.token_hex(6)
    included = {row.patient_id for row in [*check_ins, *alerts]} | {e.patient_id for e in context.episodes.values()}
    audit_record(
        actor=by,
        action=AuditAction.READ,
        object_type="research_export",
        objects=[(export_id, patient_id) for patient_id in sorted(included)],
        clinic_id=clinic_id,
        audit=audit,
    )
    counts = {"check_ins": len(check_in_rows), "alerts": len(alert_rows), "outcomes": len(outcome_rows)}
    return ResearchExport(export_id=export_id, content=buffer.getvalue(), counts=counts)
