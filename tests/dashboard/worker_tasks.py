"""A task the worker tests send to a real `celery worker` (loaded with `-I`): a
jaundice check-in through the real check-in path, as the end of an SMS conversation
would submit one in a worker. It opens a red alert and publishes its events there."""

from __future__ import annotations

from celery import shared_task

from backend.models import Patient
from followup.services.checkins import checkin_submit
from tests.answers import green_answers


@shared_task(name="tests.dashboard.worker_tasks.jaundice_check_in_submit")
def jaundice_check_in_submit(patient_id: int) -> list[int]:
    patient = Patient.objects.get(pk=patient_id)
    result = checkin_submit(patient_id=patient.pk, answers=green_answers(jaundice=True), channel="sms")
    return result.created_alert_ids
