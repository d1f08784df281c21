"""Celery doorways of the follow-up clock (beat runs them; see CELERY_BEAT_SCHEDULE).

Each is idempotent: a late, repeated or concurrent tick is a no-op for work already
claimed (followup.services.timekeeping). They log counts only, never patient data."""

from __future__ import annotations

import logging

from celery import shared_task

from followup.services.appointment_reminders import appointments_remind
from followup.services.timekeeping import scheduled_checkins_tick
from followup.sms.expiry import conversations_expire_run

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def checkins_tick() -> dict[str, int]:
    counts = scheduled_checkins_tick().as_counts()
    if any(counts.values()):
        logger.info("check-ins tick: %s", counts)
    return counts


@shared_task(ignore_result=True)
def appointments_tick() -> int:
    reminded = len(appointments_remind())
    if reminded:
        logger.info("appointments tick: %s reminders", reminded)
    return reminded


@shared_task(ignore_result=True)
def conversations_expire() -> int:
    """SMS conversations whose check-in window has closed (followup.sms.expiry)."""
    expired = conversations_expire_run()
    if expired:
        logger.info("sms conversations expired: %s", expired)
    return expired
