"""Celery doorway of the nightly retention review (beat: CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging

from celery import shared_task

from followup.data_rights.review import retention_review_run

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def retention_review_task() -> dict[str, int]:
    """Lists patients past retention for an admin to confirm; counts only in the log."""
    result = retention_review_run()
    if result.listed or result.unlisted:
        logger.info("retention review: %s listed, %s no longer due", result.listed, result.unlisted)
    return {"listed": result.listed, "unlisted": result.unlisted}
