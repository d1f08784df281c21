"""Celery doorways of SMS delivery. Each carries an id (or nothing)
and calls one service; the decisions and the guarantees are documented there
(``notifications.delivery``)."""

from __future__ import annotations

from celery import shared_task

from notifications.delivery import outbox_deliver, outbox_sweep_run, outbox_verify


@shared_task(acks_late=True, ignore_result=True)
def sms_send(message_id: int) -> None:
    outbox_deliver(message_id=message_id)


@shared_task(acks_late=True, ignore_result=True)
def sms_verify(message_id: int) -> None:
    outbox_verify(message_id=message_id)


@shared_task(ignore_result=True)
def outbox_sweep() -> None:
    outbox_sweep_run()
