"""Celery doorways of the clinic core."""

from celery import shared_task

from backend.idempotency import idempotency_records_purge


@shared_task(ignore_result=True)
def idempotency_records_purge_task() -> int:
    # Keys are kept for at least 24 hours (API.md); older ones only take space.
    return idempotency_records_purge()
