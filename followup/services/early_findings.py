"""A warning sign acted on when it is answered, not when the check-in ends (H16).

An SMS conversation asks one question a message and may take an hour, or never end.
After each answer it is read, ``red_findings_act_on`` judges the answers given so far
with the same rules as the check-in path (an absent answer never makes a condition
hold). A red finding opens its alert at once (the on-call page and escalation start
with it), proposes the recall, and the conversation texts the red advice, while it goes
on collecting the rest. Amber findings wait for the end: a nurse's call today does not
need mid-conversation noise.

When the conversation ends, its answers go down the check-in path as usual and are
judged again; the alert opened here is unresolved, so the finding joins it (one alert,
one page) and the stored check-in becomes the alert's check-in
(``alert_record_finding``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.models import Patient
from followup.models import Alert
from followup.rules import Finding
from followup.selectors import active_enrollment_locking_patient
from followup.services.alert_follow_through import alert_follow_through
from followup.services.alerts import UNRESOLVED, AlertChange, alert_record_finding
from followup.services.checkins import answers_evaluate


def red_findings_act_on(*, patient: Patient, answers: dict[str, Any], phase: str, taken_at: datetime) -> list[Finding]:
    """Judge the answers given so far; open an alert for each red finding that has no
    unresolved alert yet (and propose the recall). Returns every red finding, new or
    already alerted: the patient is told what to do either way.

    Runs inside the caller's transaction (the inbound webhook's), so the alert, its
    page and the events commit with the answer that raised them (H1)."""
    enrollment = active_enrollment_locking_patient(patient_id=patient.pk)
    if enrollment is None:
        return []
    evaluation = answers_evaluate(enrollment=enrollment, answers=answers, moment=taken_at, phase=phase)
    reds = [finding for finding in evaluation.findings if finding.severity == Alert.Severity.RED]
    if not reds:
        return []
    alerted = set(
        Alert.objects.filter(
            patient_id=patient.pk, rule_id__in=[finding.rule_id for finding in reds], status__in=UNRESOLVED
        ).values_list("rule_id", flat=True)
    )
    changes: list[AlertChange] = [
        alert_record_finding(patient=enrollment.patient, protocol_version=enrollment.protocol_version, finding=finding)
        for finding in reds
        if finding.rule_id not in alerted
    ]
    if changes:
        alert_follow_through(patient=enrollment.patient, enrollment=enrollment, changes=changes, actor=None)
    return reds
