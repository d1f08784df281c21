"""The push reminder task: a doorway to ``followup.services.push.push_reminder_send``."""

from __future__ import annotations

from celery import shared_task

from followup.services.push import push_reminder_send


@shared_task(ignore_result=True, acks_late=True)
def push_reminder_task(reminder_id: int) -> str:
    return push_reminder_send(reminder_id=reminder_id)
