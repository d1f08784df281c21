"""Beat-driven doorways of escalation and the auditor (config.settings
CELERY_BEAT_SCHEDULE). Each calls one service; both are idempotent, so a late,
repeated or concurrent tick does nothing twice."""

from __future__ import annotations

from celery import shared_task

from followup.services.auditor import auditor_run
from followup.services.escalations import escalations_advance


@shared_task(acks_late=True, ignore_result=True)
def escalations_tick() -> int:
    """Page the next level of every unacknowledged alert whose deadline has passed."""
    return len(escalations_advance().advanced)


@shared_task(acks_late=True, ignore_result=True)
def auditor_tick() -> dict[str, int]:
    """Count overdue alerts and undelivered messages; warn and ping the heartbeat."""
    figures = auditor_run()
    return {"overdue_alerts": figures.overdue_alerts, "undelivered_messages": figures.undelivered_messages}
