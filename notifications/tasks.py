"""Celery doorways of SMS delivery. Each carries an id (or nothing)
and calls one service; the decisions and the guarantees are documented there
(``notifications.delivery`` for the outbox, ``notifications.inbound`` for inbound SMS)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from notifications.delivery import outbox_deliver, outbox_sweep_run, outbox_verify
from notifications.inbound import inbound_handle, inbound_sweep_run, retry_seconds

# Retries of one inbound task when the database cannot be reached at all (a failing
# message is counted on its row instead, see notifications.inbound); past them the
# row is still unhandled and the sweep hands it to a worker again.
INBOUND_TASK_MAX_RETRIES = 10


@shared_task(acks_late=True, ignore_result=True)
def sms_send(message_id: int) -> None:
    outbox_deliver(message_id=message_id)


@shared_task(acks_late=True, ignore_result=True)
def sms_verify(message_id: int) -> None:
    outbox_verify(message_id=message_id)


@shared_task(ignore_result=True)
def outbox_sweep() -> None:
    outbox_sweep_run()


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=INBOUND_TASK_MAX_RETRIES)
def sms_inbound_handle(self: Any, inbound_id: int) -> None:
    try:
        outcome = inbound_handle(inbound_id=inbound_id)
    except Exception as error:
        raise self.retry(countdown=retry_seconds(self.request.retries + 1), exc=error) from error
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(ignore_result=True)
def inbound_sweep() -> None:
    inbound_sweep_run()
