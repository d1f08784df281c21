"""What the live dashboard pages read: the alert queue, one alert's card, warnings for
the operations banner (a patient's history is in ``patient_history``). Each reads a fixed
number of queries whatever the number of rows (no query per alert, check-in or
message)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from backend.models import User
from followup.dashboard import labels
from followup.dashboard.evidence_text import evidence_lines
from followup.escalation import RosterGap, on_call_gaps
from followup.models import Alert, CheckIn, ProtocolVersion
from followup.protocols.definition import ProtocolDefinition
from followup.rule_titles import alert_protocols, alert_rule_titles
from followup.services.alerts import COMPLICATION_GRADES, OUTCOMES, iso
from followup.services.protocols import protocol_definition

UNRESOLVED = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED)


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


def alert_cards(*, alerts: Iterable[Alert], language: str) -> list[dict[str, Any]]:
    """Cards of ``alerts`` for a reader of ``language``: the rule titles from the
    protocol's translations (one query for all of them, ``alert_rule_titles``)."""
    alerts = list(alerts)
    protocols = alert_protocols(alerts)
    titles = alert_rule_titles(alerts=alerts, language=language, protocols=protocols)
    return [
        alert_card(
            alert=alert,
            rule_title=titles[alert.pk],
            definition=next(iter(protocols[alert.pk]), None),
            language=language,
        )
        for alert in alerts
    ]


def alert_card(
    *, alert: Alert, rule_title: str, definition: ProtocolDefinition | None, language: str
) -> dict[str, Any]:
    """An alert as the dashboard shows it: what the API shows, plus the patient's name
    and MRN, who acknowledged it, whether the on-call chain is exhausted, and the words
    of the active language for the rule (``rule_title``, from the protocol), the codes
    (the script writes these as they come) and the evidence (``definition``: the
    alert's protocol version, for question labels, units and choices). Reads the
    patient and acknowledger from select_related, no further query."""
    patient = alert.patient
    chain_length = len(alert.escalation_chain or [])
    return {
        "id": alert.pk,
        "severity": alert.severity,
        "severity_label": labels.label(labels.SEVERITY, alert.severity),
        "status": alert.status,
        "status_label": labels.label(labels.ALERT_STATUS, alert.status),
        "rule": {"id": alert.rule_id, "title": rule_title},
        "evidence_lines": evidence_lines(alert.evidence, definition, language),
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
                names.append(gettext(definition.question(question_id).label))
            else:
                names.append(question_id)
        labels[check_in.pk] = tuple(names)
    return labels


def roster_warnings(*, clinic_id: int, now: datetime | None = None) -> list[RosterGap]:
    """On-call gaps of the clinic's care teams in the next seven days (H9)."""
    return on_call_gaps(clinic_id=clinic_id, start=now or timezone.now(), days=7)


RESOLVE_OUTCOMES: tuple[str, ...] = OUTCOMES
RESOLVE_GRADES: tuple[str, ...] = COMPLICATION_GRADES
