"""Escalation along the care team's on-call chain (H1, H9).

The chain is frozen into the alert when it opens, so roster edits mid-incident do not
change who is paged next; the first deadline is committed with the alert, and the beat
task (followup.escalation_tasks) advances what is due."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from backend.models import OnCallShift, User
from followup.models import Alert
from notifications.models import MessageKind
from notifications.services import sms_enqueue


def on_call_chain(*, care_team_id: int | None, at: datetime) -> list[int]:
    """User ids of the chain at a moment, first level first (one per level)."""
    if care_team_id is None:
        return []
    shifts = (
        OnCallShift.objects.filter(care_team_id=care_team_id, starts_at__lte=at, ends_at__gt=at)
        .filter(Q(user__is_active=True))
        .order_by("level", "starts_at")
        .values_list("level", "user_id")
    )
    chain: dict[int, int] = {}
    for level, user_id in shifts:
        chain.setdefault(level, user_id)
    return [chain[level] for level in sorted(chain)]


def escalation_deadline(*, alert: Alert, from_time: datetime) -> datetime:
    clinic = alert.clinic
    minutes = clinic.red_escalation_minutes if alert.severity == Alert.Severity.RED else clinic.amber_escalation_minutes
    return from_time + timedelta(minutes=minutes)


def staff_page_body(*, alert: Alert) -> str:
    """Minimal PHI (H13): initials, the MRN's last characters, the rule, a link."""
    patient = alert.patient
    link = f"{settings.PUBLIC_BASE_URL}/dashboard/alerts/{alert.pk}/"
    return (
        f"Vigil {alert.severity.upper()}: {alert.rule_title} - patient {patient.initials} "
        f"MRN ..{patient.mrn[-3:]}. {link} Reply ACK {alert.ack_code} to acknowledge."
    )


def staff_page_send(*, alert: Alert, user_id: int, level: int) -> None:
    user = User.objects.get(pk=user_id)
    if not user.phone:
        return
    sms_enqueue(
        clinic_id=alert.clinic_id,
        to_phone=str(user.phone),
        body=staff_page_body(alert=alert),
        kind=MessageKind.STAFF_PAGE,
        idempotency_key=f"alert-page:{alert.pk}:level:{level}",
        staff_user=user,
    )


def escalation_start(*, alert: Alert) -> None:
    """Freeze the chain, set the first deadline and, for a red alert, page level 1 now.

    Called inside the transaction that creates the alert."""
    now = timezone.now()
    alert.escalation_chain = on_call_chain(care_team_id=alert.patient.care_team_id, at=now)
    alert.escalation_level = 1
    alert.next_escalation_at = escalation_deadline(alert=alert, from_time=now)
    alert.save(update_fields=["escalation_chain", "escalation_level", "next_escalation_at", "updated_at"])
    if alert.severity == Alert.Severity.RED and alert.escalation_chain:
        staff_page_send(alert=alert, user_id=alert.escalation_chain[0], level=1)
