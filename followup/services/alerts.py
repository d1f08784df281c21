"""Alerts: one unresolved alert per rule and patient, acknowledged and resolved by a
named person, measured by their outcomes.

- A finding of a rule with no unresolved alert for the patient opens one (escalation
  starts: red pages on-call at once); a repeat finding while it is open or
  acknowledged adds an occurrence with the new evidence instead of paging again (H7).
  A finding that clears later does not close it: a person resolves it.
- ``alert_data`` is THE representation of an alert: the API returns it and the
  dashboard events carry it, so a websocket client and a GET agree to the field.
- Red findings propose a recall for today (one open recall per patient): the
  dashboard hears of it (``appointment.updated``) and the patient is texted it at
  once, quiet hours or not, YES to confirm (``followup.sms.recalls``, H2).
- Acknowledging or resolving stops escalation under a row lock, so a beat task
  advancing the same alert either sees the new status or has already finished (H1).
"""

from __future__ import annotations

import math
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest
from django.utils import timezone

from backend.audit import audit_record
from backend.models import AuditAction, Patient, User
from followup.escalation import escalation_start
from followup.models import (
    Alert,
    AlertOccurrence,
    Appointment,
    CheckIn,
    Enrollment,
    EscalationStep,
    Observation,
    ProtocolVersion,
    WorklistItem,
)
from followup.rules import Finding
from followup.services.appointments import OPEN_APPOINTMENT_STATUSES, appointment_updated_publish, iso
from followup.sms.recalls import recall_sms_queue
from notifications.events import event_publish

UNRESOLVED = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED)
# Clavien-Dindo grades, lowest first.
COMPLICATION_GRADES: tuple[str, ...] = ("I", "II", "IIIa", "IIIb", "IVa", "IVb", "V")
# Grade II and above needed treatment: such an alert was a true signal (PPV).
SIGNIFICANT_GRADES = frozenset(COMPLICATION_GRADES[1:])
OUTCOMES: tuple[str, ...] = tuple(Alert.Outcome.values)
# Letters and digits that cannot be misread in a text message (no 0/O, 1/I/L).
ACK_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
ACK_CODE_LENGTH = 4


class AlertConflict(Exception):
    """The alert's state does not allow the change (409), e.g. already resolved."""


class AlertRejected(Exception):
    """Bad input to an alert service (400): errors by field, DRF style."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class AlertChange:
    alert: Alert
    created: bool


@dataclass(frozen=True)
class AlertFollowThrough:
    """What the findings set in motion besides the alerts themselves."""

    recall: Appointment | None
    nurse_calls: list[WorklistItem]


# --- representation ------------------------------------------------------------------


def alert_data(*, alert: Alert) -> dict[str, Any]:
    """The alert as ``GET /api/v1/alerts/{id}/`` returns it (and events carry it).

    Reads ``occurrences`` and ``escalation_steps`` through ``.all()`` so that a list
    prefetching them costs no query per alert."""
    return {
        "id": alert.pk,
        "patient": alert.patient_id,
        "severity": alert.severity,
        "status": alert.status,
        "rule": {"id": alert.rule_id, "version": alert.rule_version, "title": alert.rule_title},
        "action": alert.action,
        "evidence": list(alert.evidence),
        "check_in": alert.check_in_id,
        "observation": alert.observation_id,
        "occurrences": [
            {
                "check_in": occurrence.check_in_id,
                "observation": occurrence.observation_id,
                "created_at": iso(occurrence.created_at),
                "evidence": list(occurrence.evidence),
            }
            for occurrence in alert.occurrences.all()
        ],
        "created_at": iso(alert.created_at),
        "updated_at": iso(alert.updated_at),
        "escalation_level": alert.escalation_level,
        "next_escalation_at": iso(alert.next_escalation_at),
        "escalation_steps": [
            {"level": step.level, "user": step.user_id, "note": step.note, "created_at": iso(step.created_at)}
            for step in alert.escalation_steps.all()
        ],
        "acknowledged_by": alert.acknowledged_by_id,
        "acknowledged_at": iso(alert.acknowledged_at),
        "resolved_by": alert.resolved_by_id,
        "resolved_at": iso(alert.resolved_at),
        "outcome": alert.outcome or None,
        "note": alert.resolution_note,
        "complication_grade": alert.complication_grade or None,
    }


def _publish(*, alert: Alert, type: str) -> None:
    event_publish(clinic_id=alert.clinic_id, type=type, data=alert_data(alert=alert))


def _audit(*, alert: Alert, action: AuditAction, actor: User | None, request: HttpRequest | None) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="alert",
        objects=[(alert.pk, alert.patient_id)],
        clinic_id=alert.clinic_id,
        request=request,
    )


# --- selectors -------------------------------------------------------------------------


def alert_list(
    *,
    clinic_id: int,
    statuses: Sequence[str] = (),
    severities: Sequence[str] = (),
    patient_id: int | None = None,
) -> QuerySet[Alert]:
    """A clinic's alerts, red first, then oldest first (the one waiting longest on
    top: H7). Without a status filter every status is listed."""
    alerts = Alert.objects.filter(clinic_id=clinic_id)
    if statuses:
        alerts = alerts.filter(status__in=statuses)
    if severities:
        alerts = alerts.filter(severity__in=severities)
    if patient_id is not None:
        alerts = alerts.filter(patient_id=patient_id)
    return alerts.annotate(
        severity_rank=Case(
            When(severity=Alert.Severity.RED, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    ).order_by("severity_rank", "created_at", "id")


def alert_list_with_detail(alerts: QuerySet[Alert]) -> QuerySet[Alert]:
    """What ``alert_data`` reads, fetched in two queries for any number of alerts."""
    return alerts.prefetch_related("occurrences", "escalation_steps")


# --- recording findings ------------------------------------------------------------------


def _ack_code(*, clinic_id: int) -> str:
    # Unique among the clinic's unresolved alerts, so "ACK 4F7K" by SMS names one.
    while True:
        code = "".join(secrets.choice(ACK_CODE_ALPHABET) for _ in range(ACK_CODE_LENGTH))
        if not Alert.objects.filter(clinic_id=clinic_id, ack_code=code, status__in=UNRESOLVED).exists():
            return code


def _unresolved_for_update(*, patient: Patient, rule_id: str) -> Alert | None:
    return (
        Alert.objects.select_for_update()
        .filter(patient=patient, rule_id=rule_id, status__in=UNRESOLVED)
        .order_by("id")
        .first()
    )


def alert_record_finding(
    *,
    patient: Patient,
    protocol_version: ProtocolVersion,
    finding: Finding,
    check_in: CheckIn | None = None,
    observation: Observation | None = None,
    actor: User | None = None,
    request: HttpRequest | None = None,
) -> AlertChange:
    """Open an alert for a finding, or add an occurrence to the unresolved one.

    Must run inside the caller's transaction (the check-in's or the lab result's):
    the alert, its first deadline, the on-call page and the events commit with it
    (H1). The existing alert is locked; two transactions that both find none race
    on the partial unique constraint, and the loser attaches to the winner's alert.
    """
    evidence = [item.as_dict() for item in finding.evidence]
    alert = _unresolved_for_update(patient=patient, rule_id=finding.rule_id)
    created = False
    if alert is None:
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    patient=patient,
                    # The instance, not its id: escalation reads the clinic's settings
                    # next, and the caller has usually loaded it already.
                    clinic=patient.clinic,
                    rule_id=finding.rule_id,
                    rule_version=protocol_version.version,
                    rule_title=finding.title,
                    severity=finding.severity,
                    action=finding.action,
                    check_in=check_in,
                    observation=observation,
                    evidence=evidence,
                    ack_code=_ack_code(clinic_id=patient.clinic_id),
                )
            created = True
        except IntegrityError:
            alert = _unresolved_for_update(patient=patient, rule_id=finding.rule_id)
            if alert is None:  # resolved in between: nothing left to attach to
                raise
    if not created and check_in is not None and alert.check_in_id is None and alert.observation_id is None:
        # Opened while an SMS conversation was still going (H16): the check-in its
        # answers became now stands behind the alert, as one occurrence, not two.
        alert.check_in = check_in
        alert.save(update_fields=["check_in", "updated_at"])
        adopted = AlertOccurrence.objects.filter(alert=alert, check_in__isnull=True, observation__isnull=True).update(
            check_in=check_in, evidence=evidence
        )
    else:
        adopted = 0
    if not adopted:
        AlertOccurrence.objects.create(alert=alert, check_in=check_in, observation=observation, evidence=evidence)
    if created:
        escalation_start(alert=alert)
        _audit(alert=alert, action=AuditAction.CREATE, actor=actor, request=request)
        _publish(alert=alert, type="alert.created")
    else:
        alert.save(update_fields=["updated_at"])
        _audit(alert=alert, action=AuditAction.UPDATE, actor=actor, request=request)
        _publish(alert=alert, type="alert.updated")
    return AlertChange(alert=alert, created=created)


def appointment_recall_propose(
    *,
    patient: Patient,
    enrollment: Enrollment | None,
    alerts: Sequence[Alert],
    actor: User | None,
    request: HttpRequest | None = None,
) -> Appointment | None:
    """Propose a recall for today after red findings, unless the patient already has
    one open (proposed, scheduled or confirmed): a second would only be noise for the
    nurse booking it. The caller holds the patient's row lock, so two red check-ins at
    once cannot both propose. The dashboard hears of the proposal
    (``appointment.updated``)."""
    if not alerts:
        return None
    if Appointment.objects.filter(
        patient=patient, kind=Appointment.Kind.RECALL, status__in=OPEN_APPOINTMENT_STATUSES
    ).exists():
        return None
    titles = ", ".join(alert.rule_title for alert in alerts)
    imaging = any(alert.action == "imaging" for alert in alerts)
    recall = Appointment.objects.create(
        patient=patient,
        enrollment=enrollment,
        kind=Appointment.Kind.RECALL,
        # Today: the nurse books the hour; the proposal is on the list now.
        starts_at=timezone.now(),
        status=Appointment.Status.PROPOSED,
        reason=f"{'Recall for imaging' if imaging else 'Recall'} after red finding: {titles}"[:300],
        detail={"alerts": [alert.pk for alert in alerts], "rules": [alert.rule_id for alert in alerts]},
        origin_alert=alerts[0],
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="appointment",
        objects=[(recall.pk, patient.pk)],
        clinic_id=patient.clinic_id,
        request=request,
    )
    appointment_updated_publish(appointment=recall, clinic_id=patient.clinic_id)
    return recall


def worklist_nurse_call_ensure(
    *, alert: Alert, actor: User | None, request: HttpRequest | None = None
) -> WorklistItem | None:
    """A nurse call for an amber alert, unless one is still open for it: a repeat
    finding does not queue a second call while the first is not done (H7)."""
    if WorklistItem.objects.filter(
        alert=alert, kind=WorklistItem.Kind.NURSE_CALL, status=WorklistItem.Status.OPEN
    ).exists():
        return None
    item = WorklistItem.objects.create(
        patient_id=alert.patient_id,
        clinic_id=alert.clinic_id,
        kind=WorklistItem.Kind.NURSE_CALL,
        severity=alert.severity,
        alert=alert,
        detail=f"Call the patient today: {alert.rule_title}"[:300],
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="worklist_item",
        objects=[(item.pk, alert.patient_id)],
        clinic_id=alert.clinic_id,
        request=request,
    )
    return item


def alert_follow_through(
    *,
    patient: Patient,
    enrollment: Enrollment | None,
    changes: Sequence[AlertChange],
    actor: User | None,
    request: HttpRequest | None = None,
) -> AlertFollowThrough:
    """Red findings propose a recall for today and text it to the patient now, quiet
    hours or not (H2; held back only while an SMS check-in is running, see
    ``followup.sms.recalls``); amber findings whose action is a nurse's call today
    queue one on the nurses' worklist. (Amber lab rules ask for a review or imaging:
    their alert is the work item.) A red finding judged again (a repeat check-in, the
    end of the SMS conversation that raised it) proposes no second recall, so texts no
    second recall SMS."""
    reds = [change.alert for change in changes if change.alert.severity == Alert.Severity.RED]
    recall = appointment_recall_propose(
        patient=patient, enrollment=enrollment, alerts=reds, actor=actor, request=request
    )
    if recall is not None:
        recall_sms_queue(appointment=recall, patient=patient, send_after=None)
    calls = []
    for change in changes:
        alert = change.alert
        if alert.severity == Alert.Severity.AMBER and alert.action == "nurse_call_today":
            item = worklist_nurse_call_ensure(alert=alert, actor=actor, request=request)
            if item is not None:
                calls.append(item)
    return AlertFollowThrough(recall=recall, nurse_calls=calls)


# --- acknowledge and resolve ---------------------------------------------------------------


def alert_acknowledge(*, alert: Alert, by: User, request: HttpRequest | None = None) -> Alert:
    """Someone owns the alert: escalation stops.

    Idempotent: acknowledging an acknowledged alert (by the same person or another)
    changes nothing and returns it as it is, naming who acknowledged it first; the
    first acknowledgement is the one that stopped the pages. A resolved alert is a
    conflict."""
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.status == Alert.Status.RESOLVED:
            raise AlertConflict("This alert is already resolved.")
        if locked.status == Alert.Status.ACKNOWLEDGED:
            return locked
        locked.status = Alert.Status.ACKNOWLEDGED
        locked.acknowledged_by = by
        locked.acknowledged_at = timezone.now()
        locked.next_escalation_at = None
        locked.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "next_escalation_at", "updated_at"])
        _audit(alert=locked, action=AuditAction.UPDATE, actor=by, request=request)
        _publish(alert=locked, type="alert.updated")
    return locked


def alert_resolve(
    *,
    alert: Alert,
    by: User,
    outcome: str,
    note: str = "",
    complication_grade: str | None = None,
    request: HttpRequest | None = None,
) -> Alert:
    """Record what the alert turned out to be; escalation stops, the nurse-call items
    it raised are done. An alert resolved without an acknowledgement counts as
    acknowledged by the same person at the same time (they saw it)."""
    errors: dict[str, list[str]] = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = [f"Must be one of: {', '.join(OUTCOMES)}."]
    if complication_grade is not None and complication_grade not in COMPLICATION_GRADES:
        errors["complication_grade"] = [f"Must be null or one of: {', '.join(COMPLICATION_GRADES)}."]
    if errors:
        raise AlertRejected(errors)
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.status == Alert.Status.RESOLVED:
            raise AlertConflict("This alert is already resolved.")
        now = timezone.now()
        if locked.acknowledged_at is None:
            locked.acknowledged_by = by
            locked.acknowledged_at = now
        locked.status = Alert.Status.RESOLVED
        locked.resolved_by = by
        locked.resolved_at = now
        locked.outcome = outcome
        locked.resolution_note = note
        locked.complication_grade = complication_grade or ""
        locked.next_escalation_at = None
        locked.save()
        WorklistItem.objects.filter(alert=locked, status=WorklistItem.Status.OPEN).update(
            status=WorklistItem.Status.DONE, done_by=by, done_at=now
        )
        _audit(alert=locked, action=AuditAction.UPDATE, actor=by, request=request)
        _publish(alert=locked, type="alert.updated")
    return locked


# --- metrics ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (as numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _seconds_summary(values: Iterable[float]) -> dict[str, float | int | None]:
    collected = list(values)
    median = percentile(collected, 0.5)
    p90 = percentile(collected, 0.9)
    return {
        "count": len(collected),
        "median": round(median, 1) if median is not None else None,
        "p90": round(p90, 1) if p90 is not None else None,
    }


def alert_metrics(*, clinic_id: int, since: datetime | None = None) -> dict[str, Any]:
    """Figures the clinic tunes its rules with (post-hepatectomy.md, "Outcomes").

    - ``open`` / ``acknowledged``: unresolved alerts now, by severity (whatever
      ``since``);
    - ``time_to_acknowledge_seconds``: median and p90, overall and by severity, of
      alerts created since ``since``;
    - ``escalations``: pages beyond the first level, and alerts that needed one;
    - ``rules``: per rule, alerts raised, resolved, each outcome, grade >= II, and the
      positive predictive value: the share of resolved alerts that ended in a recall
      or a complication of grade II or more (null before any is resolved).
    Three queries whatever the number of alerts.
    """
    unresolved = {status: {"red": 0, "amber": 0} for status in UNRESOLVED}
    for status, severity in Alert.objects.filter(clinic_id=clinic_id, status__in=UNRESOLVED).values_list(
        "status", "severity"
    ):
        unresolved[status][severity] += 1

    alerts = Alert.objects.filter(clinic_id=clinic_id)
    steps = EscalationStep.objects.filter(alert__clinic_id=clinic_id, level__gte=2)
    if since is not None:
        alerts = alerts.filter(created_at__gte=since)
        steps = steps.filter(alert__created_at__gte=since)
    rows = alerts.values_list(
        "rule_id",
        "rule_title",
        "severity",
        "status",
        "created_at",
        "acknowledged_at",
        "outcome",
        "complication_grade",
        "escalation_level",
    )

    ack_seconds: dict[str, list[float]] = {"red": [], "amber": []}
    per_rule: dict[str, dict[str, Any]] = {}
    outcome_counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    escalated_alerts = 0
    for rule_id, title, severity, status, created_at, acknowledged_at, outcome, grade, level in rows:
        if acknowledged_at is not None:
            ack_seconds[severity].append((acknowledged_at - created_at).total_seconds())
        if level > 1:
            escalated_alerts += 1
        figures = per_rule.setdefault(
            rule_id,
            {"rule_id": rule_id, "title": title, "severity": severity, "count": 0, "resolved": 0, "significant": 0},
        )
        figures["count"] += 1
        if status == Alert.Status.RESOLVED:
            figures["resolved"] += 1
            if outcome in outcome_counts[rule_id]:
                outcome_counts[rule_id][outcome] += 1
            if outcome == Alert.Outcome.RECALLED or grade in SIGNIFICANT_GRADES:
                figures["significant"] += 1

    rules = []
    for rule_id, figures in sorted(per_rule.items(), key=lambda item: (item[1]["severity"] != "red", item[0])):
        counts = outcome_counts[rule_id]
        resolved = figures["resolved"]
        rules.append(
            {
                "rule_id": rule_id,
                "title": figures["title"],
                "severity": figures["severity"],
                "count": figures["count"],
                "resolved": resolved,
                **counts,
                "recall_or_grade_ii_plus": figures["significant"],
                "ppv": round(figures["significant"] / resolved, 3) if resolved else None,
            }
        )
    return {
        "since": iso(since),
        "open": unresolved[Alert.Status.OPEN],
        "acknowledged": unresolved[Alert.Status.ACKNOWLEDGED],
        "time_to_acknowledge_seconds": {
            "all": _seconds_summary(ack_seconds["red"] + ack_seconds["amber"]),
            "red": _seconds_summary(ack_seconds["red"]),
            "amber": _seconds_summary(ack_seconds["amber"]),
        },
        "escalations": {"pages_beyond_first_level": steps.count(), "alerts_escalated": escalated_alerts},
        "rules": rules,
    }
