from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from backend.models import IdempotencyRecord
from backend.tasks import idempotency_records_purge_task

pytestmark = pytest.mark.django_db


def test_purge_keeps_keys_for_a_day_and_drops_older_ones(nurse):
    with time_machine.travel(timezone.now() - timedelta(hours=30)):
        IdempotencyRecord.objects.create(
            user=nurse, path="/api/v1/check-ins/", key="old", body_hash="x", status_code=201, response_body={}
        )
    IdempotencyRecord.objects.create(
        user=nurse, path="/api/v1/check-ins/", key="new", body_hash="x", status_code=201, response_body={}
    )
    assert idempotency_records_purge_task() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
