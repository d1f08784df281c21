"""Advancing due escalations: the service behind the `escalations_tick` beat task.

The database decides what is due (status open, next_escalation_at passed). Each step
runs in its own transaction that locks the alert row (SELECT ... FOR UPDATE SKIP
LOCKED) and re-reads it there:
- two workers ticking at once: the second skips the locked row, or, once the first
  has committed, finds the deadline moved and does nothing, so a step runs once (the
  unique EscalationStep per alert and level and the page's idempotency key are the
  backstops);
- an acknowledgement racing the deadline: alert_acknowledge takes the same lock, so
  either it commits first and the step finds the alert no longer open (no page), or
  the step commits first and the acknowledgement follows it. The page is an outbox row
  written in the step's transaction and sent after commit, so a step that rolls back
  sends nothing and no page ever goes out after an acknowledgement (H1).
On SQLite, writers are serialised by BEGIN IMMEDIATE: the re-read inside the
transaction gives the same guarantees.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from followup.escalation import escalation_deadline, escalation_page_from
from followup.models import Alert
from followup.services.alerts import alert_data
from notifications.events import event_publish

logger = logging.getLogger(__name__)

# Alerts advanced per tick; the rest wait for the next tick (every 20 s).
TICK_BATCH = 200


@dataclass(frozen=True)
class EscalationTickResult:
    due: int
    advanced: list[int]


def escalation_due_list(*, now: datetime, limit: int = TICK_BATCH) -> list[int]:
    """Ids of open alerts whose deadline has passed, most overdue first."""
    return list(
        Alert.objects.filter(status=Alert.Status.OPEN, next_escalation_at__lte=now)
        .order_by("next_escalation_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def escalation_step_run(*, alert_id: int, now: datetime | None = None) -> bool:
    """Page the next level of one due alert. False when there was nothing to do: not
    due any more, acknowledged or resolved meanwhile, or being stepped by another
    worker right now."""
    with transaction.atomic():
        now = now or timezone.now()
        alert = (
            Alert.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("clinic", "patient")
            .filter(pk=alert_id, status=Alert.Status.OPEN, next_escalation_at__lte=now)
            .first()
        )
        if alert is None:
            return False
        level, _steps = escalation_page_from(alert=alert, level=alert.escalation_level + 1, clinic=alert.clinic)
        alert.escalation_level = level
        alert.next_escalation_at = escalation_deadline(alert=alert, from_time=now)
        alert.save(update_fields=["escalation_level", "next_escalation_at", "updated_at"])
        logger.info("escalation: alert %s advanced to level %s", alert.pk, level)
        event_publish(clinic_id=alert.clinic_id, type="alert.updated", data=alert_data(alert=alert))
    return True


def escalations_advance(*, now: datetime | None = None) -> EscalationTickResult:
    """One tick: advance every alert that is due (each in its own transaction, so one
    failure does not hold back the others' pages)."""
    now = now or timezone.now()
    due = escalation_due_list(now=now)
    advanced: list[int] = []
    failures: list[Exception] = []
    for alert_id in due:
        try:
            if escalation_step_run(alert_id=alert_id, now=now):
                advanced.append(alert_id)
        except Exception as error:  # logged, the others still paged, then raised below
            logger.exception("escalation: step of alert %s failed", alert_id)
            failures.append(error)
    if failures:
        # The task fails visibly; the failed alerts stay due and the auditor counts them.
        raise failures[0]
    return EscalationTickResult(due=len(due), advanced=advanced)
