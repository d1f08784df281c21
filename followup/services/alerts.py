"""Alerts: one unresolved alert per rule and patient, opened by a finding, acknowledged
and resolved by a named person (``alert_review``), measured by their outcomes
(``alert_metrics``); what red and amber findings set in motion besides the alert is in
``alert_follow_through``.

- A finding of a rule with no unresolved alert for the patient opens one (escalation
  starts: red pages on-call at once); a repeat finding while it is open or
  acknowledged adds an occurrence with the new evidence instead of paging again (H7).
  A finding that clears later does not close it: a person resolves it.
- ``alert_data`` is THE representation of an alert: the API returns it and the
  dashboard events carry it, so a websocket client and a GET agree to the field.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from backend.audit import AuditContext, audit_rows
from backend.models import AuditAction, Patient, User
from backend.row_insert import rows_insert
from followup.escalation import escalation_first_page, escalation_plan
from followup.models import Alert, AlertOccurrence, CheckIn, EscalationStep, Observation, ProtocolVersion
from followup.rules import Finding
from followup.services.alert_rows import alert_history_rows, alert_unresolved_touch
from followup.services.appointments import iso
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
ACK_CODE_DRAWS = 5


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


# --- representation ------------------------------------------------------------------


def alert_data(
    *,
    alert: Alert,
    occurrences: list[AlertOccurrence] | None = None,
    steps: list[EscalationStep] | None = None,
) -> dict[str, Any]:
    """The alert as ``GET /api/v1/alerts/{id}/`` returns it (and events carry it).

    Reads ``occurrences`` and ``escalation_steps`` through ``.all()`` so that a list
    prefetching them costs no query per alert; a caller that has just written all of
    them (an alert opened now) passes them instead."""
    if occurrences is None:
        occurrences = list(alert.occurrences.all())
    if steps is None:
        steps = list(alert.escalation_steps.all())
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
            for occurrence in occurrences
        ],
        "created_at": iso(alert.created_at),
        "updated_at": iso(alert.updated_at),
        "escalation_level": alert.escalation_level,
        "next_escalation_at": iso(alert.next_escalation_at),
        "escalation_steps": [
            {"level": step.level, "user": step.user_id, "note": step.note, "created_at": iso(step.created_at)}
            for step in steps
        ],
        "acknowledged_by": alert.acknowledged_by_id,
        "acknowledged_at": iso(alert.acknowledged_at),
        "resolved_by": alert.resolved_by_id,
        "resolved_at": iso(alert.resolved_at),
        "outcome": alert.outcome or None,
        "note": alert.resolution_note,
        "complication_grade": alert.complication_grade or None,
    }


def alert_change_record(
    *,
    alert: Alert,
    created: bool,
    actor: User | None,
    audit: AuditContext | None,
    occurrences: list[AlertOccurrence] | None = None,
    steps: list[EscalationStep] | None = None,
) -> None:
    """The audit row and the dashboard event of an alert opened (``alert.created``) or
    changed (``alert.updated``): every change of an alert ends with this.
    ``occurrences``/``steps``: all of the alert's, when the caller has just written them."""
    audit_rows(
        actor=actor,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        object_type="alert",
        rows=[alert],
        clinic_id=alert.clinic_id,
        audit=audit,
    )
    if occurrences is None and steps is None and not getattr(alert, "_prefetched_objects_cache", None):
        occurrences, steps = alert_history_rows(alert)  # one statement, not two
    event_publish(
        clinic_id=alert.clinic_id,
        type="alert.created" if created else "alert.updated",
        data=alert_data(alert=alert, occurrences=occurrences, steps=steps),
    )


# --- recording findings ------------------------------------------------------------------


def _ack_code() -> str:
    # Unique among the clinic's unresolved alerts, so "ACK 4F7K" by SMS names one: the
    # database's constraint keeps them apart; a clash (one in ~10^5 with a hundred
    # unresolved alerts) is drawn again in ``_alert_open``.
    return "".join(secrets.choice(ACK_CODE_ALPHABET) for _ in range(ACK_CODE_LENGTH))


def _unresolved_for_update(*, patient: Patient, rule_id: str) -> Alert | None:
    # Locked and its updated_at set in one statement: a repeat finding changes it.
    return alert_unresolved_touch(patient_id=patient.pk, rule_id=rule_id, statuses=UNRESOLVED)


def _alert_open(
    *,
    patient: Patient,
    protocol_version: ProtocolVersion,
    finding: Finding,
    evidence: list[dict[str, Any]],
    check_in: CheckIn | None,
    observation: Observation | None,
) -> tuple[Alert, dict[int, User] | None]:
    """(the unresolved alert for the finding's rule, locked; the on-call chain's people
    if it was opened now, else None). The new alert is written with its chain and first
    deadline. Two transactions that both find none race on the partial unique
    constraint, and the loser attaches to the winner's alert."""
    alert = _unresolved_for_update(patient=patient, rule_id=finding.rule_id)
    if alert is not None:
        return alert, None
    alert = Alert(
        patient=patient,
        # The instance, not its id: escalation reads the clinic's settings next, and
        # the caller has usually loaded it already.
        clinic=patient.clinic,
        rule_id=finding.rule_id,
        rule_version=protocol_version.version,
        rule_title=finding.title,
        severity=finding.severity,
        action=finding.action,
        check_in=check_in,
        observation=observation,
        evidence=evidence,
    )
    on_call = escalation_plan(alert=alert, care_team_id=patient.care_team_id)
    for attempt in range(ACK_CODE_DRAWS):
        try:
            with transaction.atomic():
                alert.ack_code = _ack_code()
                alert.save(force_insert=True)
                return alert, on_call
        except IntegrityError:
            alert.pk = None
            winner = _unresolved_for_update(patient=patient, rule_id=finding.rule_id)
            if winner is not None:  # another transaction opened it first: attach
                return winner, None
            if attempt == ACK_CODE_DRAWS - 1:  # not a code clash after all
                raise
    raise AssertionError("unreachable")


def _occurrence_record(
    *,
    alert: Alert,
    created: bool,
    evidence: list[dict[str, Any]],
    check_in: CheckIn | None,
    observation: Observation | None,
) -> AlertOccurrence | None:
    """The occurrence written, or None when an SMS-opened alert adopted this check-in."""
    adopted = 0
    if not created and check_in is not None and alert.check_in_id is None and alert.observation_id is None:
        # Opened while an SMS conversation was still going (H16): the check-in its
        # answers became now stands behind the alert, as one occurrence, not two.
        alert.check_in = check_in
        alert.save(update_fields=["check_in", "updated_at"])
        adopted = AlertOccurrence.objects.filter(alert=alert, check_in__isnull=True, observation__isnull=True).update(
            check_in=check_in, evidence=evidence
        )
    if adopted:
        return None
    occurrence = AlertOccurrence(alert=alert, check_in=check_in, observation=observation, evidence=evidence)
    rows_insert([occurrence])  # every repeat finding writes one: SQL built once
    return occurrence


def alert_record_finding(
    *,
    patient: Patient,
    protocol_version: ProtocolVersion,
    finding: Finding,
    check_in: CheckIn | None = None,
    observation: Observation | None = None,
    actor: User | None = None,
    audit: AuditContext | None = None,
) -> AlertChange:
    """Open an alert for a finding, or add an occurrence to the unresolved one.

    Must run inside the caller's transaction (the check-in's or the lab result's):
    the alert, its first deadline, the on-call page and the events commit with it
    (H1). The existing alert is locked while the occurrence is added."""
    evidence = [item.as_dict() for item in finding.evidence]
    alert, on_call = _alert_open(
        patient=patient,
        protocol_version=protocol_version,
        finding=finding,
        evidence=evidence,
        check_in=check_in,
        observation=observation,
    )
    created = on_call is not None
    occurrence = _occurrence_record(
        alert=alert, created=created, evidence=evidence, check_in=check_in, observation=observation
    )
    if on_call is not None:
        steps = escalation_first_page(alert=alert, users=on_call)
        # A new alert's occurrence and steps are all in hand: the event needs no reread.
        alert_change_record(
            alert=alert,
            created=True,
            actor=actor,
            audit=audit,
            occurrences=[occurrence] if occurrence else [],
            steps=steps,
        )
    else:
        # updated_at was set when the alert was locked (``alert_unresolved_touch``).
        alert_change_record(alert=alert, created=False, actor=actor, audit=audit)
    return AlertChange(alert=alert, created=created)
