"""What the live dashboard pages read: the alert queue, one alert's card, a patient's
timeline, series and SMS thread, warnings for the operations banner. Each reads a fixed
number of queries whatever the number of rows (no query per alert, check-in or
message)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.urls import reverse
from django.utils import timezone

from backend.models import Patient, User
from followup.escalation import RosterGap, on_call_gaps
from followup.models import Alert, Appointment, CheckIn, Observation, ProtocolVersion
from followup.services.alerts import COMPLICATION_GRADES, OUTCOMES, iso
from followup.services.protocols import protocol_definition
from notifications.history import MessageRow, message_history_list, message_history_row

UNRESOLVED = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED)
# Plotted on the patient page: check-in answers and one lab (stored in SI units).
CHART_ANSWERS = (
    ("temperature_c", "Temperature", "°C"),
    ("weight_kg", "Weight", "kg"),
    ("abdominal_pain", "Abdominal pain", "0-10"),
)
CHART_LABS = (("bilirubin_umol_l", "Bilirubin", "µmol/L"),)
TIMELINE_LIMIT = 300
# The patient page's SMS thread: the latest messages, shown oldest first.
THREAD_LIMIT = 300


def staff_display_name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def clinic_staff_names(*, clinic_id: int) -> dict[int, str]:
    """Who may appear as having acknowledged or been paged (one query)."""
    return {
        user.pk: staff_display_name(user)
        for user in User.objects.filter(clinic_id=clinic_id).only("id", "username", "first_name", "last_name")
    }


def dashboard_alert_list(*, clinic_id: int) -> QuerySet[Alert]:
    """Unresolved alerts, open before acknowledged, red before amber, oldest first (the
    one waiting longest on top: H7). One query with the patient and acknowledger."""
    return (
        Alert.objects.filter(clinic_id=clinic_id, status__in=UNRESOLVED)
        .select_related("patient", "acknowledged_by")
        .annotate(
            status_rank=Case(
                When(status=Alert.Status.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
            ),
            severity_rank=Case(
                When(severity=Alert.Severity.RED, then=Value(0)), default=Value(1), output_field=IntegerField()
            ),
        )
        .order_by("status_rank", "severity_rank", "created_at", "id")
    )


def evidence_lines(evidence: Any) -> list[str]:
    """Each condition that held, with the value that made it hold, as one line of text
    ("temperature_c = 38.9 (temperature_c >= 38.5)"). Values come from patients: the
    page escapes them and the script sets them as text, never as markup."""
    lines = []
    for item in evidence if isinstance(evidence, list) else []:
        if not isinstance(item, dict):
            continue
        value = json.dumps(item.get("value"), ensure_ascii=False)
        condition = item.get("condition")
        lines.append(f"{item.get('field')} = {value}" + (f" ({condition})" if condition else ""))
    return lines


def alert_card(*, alert: Alert) -> dict[str, Any]:
    """An alert as the dashboard shows it: what the API shows, plus the patient's name
    and MRN, who acknowledged it and whether the on-call chain is exhausted. Reads the
    patient and acknowledger from select_related, no further query."""
    patient = alert.patient
    chain_length = len(alert.escalation_chain or [])
    return {
        "id": alert.pk,
        "severity": alert.severity,
        "status": alert.status,
        "rule": {"id": alert.rule_id, "title": alert.rule_title},
        "evidence_lines": evidence_lines(alert.evidence),
        "created_at": iso(alert.created_at),
        "updated_at": iso(alert.updated_at),
        "escalation_level": alert.escalation_level,
        "chain_length": chain_length,
        "escalation_exhausted": alert.escalation_level > chain_length and alert.status == Alert.Status.OPEN,
        "acknowledged_by": alert.acknowledged_by_id,
        "acknowledged_by_name": staff_display_name(alert.acknowledged_by) if alert.acknowledged_by else None,
        "acknowledged_at": iso(alert.acknowledged_at),
        "patient": {
            "id": patient.pk,
            "name": f"{patient.given_name} {patient.family_name}",
            "mrn": patient.mrn,
            "url": reverse("dashboard-patient", args=[patient.pk]),
        },
        "url": reverse("dashboard-alert", args=[alert.pk]),
        "acknowledge_url": reverse("dashboard-alert-acknowledge", args=[alert.pk]),
        "resolve_url": reverse("dashboard-alert-resolve", args=[alert.pk]),
    }


def alert_for_staff(*, clinic_id: int, alert_id: int) -> Alert | None:
    """One alert of the clinic (another clinic's reads as absent: H12)."""
    return (
        Alert.objects.select_related("patient", "acknowledged_by", "resolved_by")
        .prefetch_related("occurrences", "escalation_steps__user")
        .filter(clinic_id=clinic_id, pk=alert_id)
        .first()
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # check_in, alert, appointment
    level: str  # red, amber, green or "" (colour of the entry)
    title: str
    detail: str
    url: str
    # A check-in whose SMS conversation ended before every question was answered
    # (H16): shown as partial, with the protocol's labels of the unanswered questions.
    partial: bool = False
    unanswered: tuple[str, ...] = ()

    @property
    def kind_label(self) -> str:
        return {"check_in": "check-in", "alert": "alert", "appointment": "appointment"}[self.kind]


def check_in_unanswered_labels(check_ins: Iterable[CheckIn]) -> dict[int, tuple[str, ...]]:
    """For each partial check-in (``complete`` false), the labels staff see of its
    unanswered questions, in its own protocol version's words; an id the version does
    not know shows as the id. No query when none is partial, else one for the versions
    (and one per version whose definition is not cached yet), whatever the number of
    check-ins. Reads ``complete``, ``unanswered`` and ``protocol_version_id`` only."""
    partial = [check_in for check_in in check_ins if not check_in.complete]
    if not partial:
        return {}
    versions = {
        version.pk: version
        for version in ProtocolVersion.objects.select_related("protocol").filter(
            pk__in={check_in.protocol_version_id for check_in in partial}
        )
    }
    labels: dict[int, tuple[str, ...]] = {}
    for check_in in partial:
        version = versions.get(check_in.protocol_version_id)
        definition = protocol_definition(version) if version is not None else None
        names = []
        for question_id in check_in.unanswered if isinstance(check_in.unanswered, list) else []:
            question_id = str(question_id)
            if definition is not None and definition.has_question(question_id):
                names.append(definition.question(question_id).label)
            else:
                names.append(question_id)
        labels[check_in.pk] = tuple(names)
    return labels


def patient_timeline(*, patient: Patient) -> list[TimelineEntry]:
    """Check-ins, alerts and appointments, newest first (three queries, and one more
    for the protocol versions when a check-in is partial)."""
    entries: list[TimelineEntry] = []
    check_ins = list(
        CheckIn.objects.filter(patient=patient)
        .only("id", "taken_at", "level", "channel", "complete", "unanswered", "protocol_version_id")
        .order_by("-taken_at")[:TIMELINE_LIMIT]
    )
    unanswered = check_in_unanswered_labels(check_ins)
    for check_in in check_ins:
        entries.append(
            TimelineEntry(
                check_in.taken_at,
                "check_in",
                check_in.level,
                "Check-in",
                f"{check_in.channel}",
                "",
                partial=not check_in.complete,
                unanswered=unanswered.get(check_in.pk, ()),
            )
        )
    for alert in (
        Alert.objects.filter(patient=patient)
        .only("id", "created_at", "severity", "rule_title", "status", "outcome")
        .order_by("-created_at")[:TIMELINE_LIMIT]
    ):
        detail = alert.status + (f" ({alert.outcome})" if alert.outcome else "")
        entries.append(
            TimelineEntry(
                alert.created_at,
                "alert",
                alert.severity,
                alert.rule_title,
                detail,
                reverse("dashboard-alert", args=[alert.pk]),
            )
        )
    for appointment in Appointment.objects.filter(patient=patient).order_by("-starts_at")[:TIMELINE_LIMIT]:
        entries.append(
            TimelineEntry(
                appointment.starts_at,
                "appointment",
                "",
                appointment.get_kind_display(),
                f"{appointment.status}" + (f": {appointment.reason}" if appointment.reason else ""),
                "",
            )
        )
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:TIMELINE_LIMIT]


def patient_series(*, patient: Patient) -> list[dict[str, Any]]:
    """Values over time for the patient page's charts: [{"id", "title", "unit",
    "points": [[unix seconds, value], ...]}] (two queries)."""
    series: dict[str, dict[str, Any]] = {
        code: {"id": code, "title": title, "unit": unit, "points": []}
        for code, title, unit in CHART_ANSWERS + CHART_LABS
    }
    for taken_at, answers in (
        CheckIn.objects.filter(patient=patient).order_by("taken_at").values_list("taken_at", "answers")
    ):
        for code, _title, _unit in CHART_ANSWERS:
            value = answers.get(code) if isinstance(answers, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                series[code]["points"].append([int(taken_at.timestamp()), value])
    for code, observed_at, value in (
        Observation.objects.filter(patient=patient, code__in=[code for code, _t, _u in CHART_LABS])
        .order_by("observed_at")
        .values_list("code", "observed_at", "value")
    ):
        series[code]["points"].append([int(observed_at.timestamp()), value])
    return list(series.values())


@dataclass(frozen=True)
class PatientThread:
    """The patient's SMS messages, oldest first (rows as the messages API gives them:
    one-time codes masked); ``earlier`` tells that older ones were left out."""

    messages: list[MessageRow]
    earlier: bool

    @property
    def entry_ids(self) -> list[int]:
        return [row["id"] for row in self.messages]


def patient_thread(*, patient: Patient, limit: int = THREAD_LIMIT) -> PatientThread:
    """The latest ``limit`` messages in and out of the patient's thread, oldest first
    (one query, however many messages: H17's append-only thread as staff read it)."""
    latest = list(message_history_list(patient=patient).order_by("-id")[: limit + 1])
    earlier = len(latest) > limit
    rows = [message_history_row(entry=entry) for entry in reversed(latest[:limit])]
    return PatientThread(messages=rows, earlier=earlier)


def roster_warnings(*, clinic_id: int, now: datetime | None = None) -> list[RosterGap]:
    """On-call gaps of the clinic's care teams in the next seven days (H9)."""
    return on_call_gaps(clinic_id=clinic_id, start=now or timezone.now(), days=7)


RESOLVE_OUTCOMES: tuple[str, ...] = OUTCOMES
RESOLVE_GRADES: tuple[str, ...] = COMPLICATION_GRADES
