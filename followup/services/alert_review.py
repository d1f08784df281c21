"""A person owns an alert (acknowledge) and says what it turned out to be (resolve).
Both stop escalation under a row lock, so a beat task advancing the same alert either
sees the new status or has already finished (H1)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from backend.audit import AuditContext
from backend.models import User
from followup.models import Alert, WorklistItem
from followup.services.alerts import (
    COMPLICATION_GRADES,
    OUTCOMES,
    AlertConflict,
    AlertRejected,
    alert_change_record,
)


def alert_acknowledge(*, alert: Alert, by: User, audit: AuditContext | None = None) -> Alert:
    """Someone owns the alert: escalation stops.

    Idempotent: acknowledging an acknowledged alert (by the same person or another)
    changes nothing and returns it as it is, naming who acknowledged it first; the
    first acknowledgement is the one that stopped the pages. A resolved alert is a
    conflict."""
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.status == Alert.Status.RESOLVED:
            raise AlertConflict(gettext("This alert is already resolved."))
        if locked.status == Alert.Status.ACKNOWLEDGED:
            return locked
        locked.status = Alert.Status.ACKNOWLEDGED
        locked.acknowledged_by = by
        locked.acknowledged_at = timezone.now()
        locked.next_escalation_at = None
        locked.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "next_escalation_at", "updated_at"])
        alert_change_record(alert=locked, created=False, actor=by, audit=audit)
    return locked


def alert_resolve(
    *,
    alert: Alert,
    by: User,
    outcome: str,
    note: str = "",
    complication_grade: str | None = None,
    audit: AuditContext | None = None,
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
            raise AlertConflict(gettext("This alert is already resolved."))
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
        alert_change_record(alert=locked, created=False, actor=by, audit=audit)
    return locked
