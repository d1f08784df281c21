"""backend.row_insert: the rows the ORM's create() would write, with their keys and
generated columns, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.models import AuditAction, AuditRecord
from backend.row_insert import MAX_ROWS, rows_insert
from followup.models import CheckIn, Enrollment
from notifications.models import Event, MessageKind, OutgoingMessage

pytestmark = pytest.mark.django_db


def _stored(model, pk, leave_out=()):
    row = model.objects.filter(pk=pk).values().get()
    return {key: value for key, value in row.items() if key not in {model._meta.pk.attname, *leave_out}}


def test_an_event_is_stored_as_create_stores_it(clinic):
    data = {"id": 7, "level": "amber", "nested": {"ü": [1, 2.5, None]}}
    by_orm = Event.objects.create(clinic=clinic, type="check_in.received", data=data)
    event = Event(clinic=clinic, type="check_in.received", data=data)
    rows_insert([event])
    assert event.pk is not None and event.pk > by_orm.pk
    assert not event._state.adding and event._state.db == "default"
    assert abs(event.created_at - by_orm.created_at) < timedelta(minutes=1)  # auto_now_add filled
    assert _stored(Event, event.pk, leave_out={"created_at"}) == _stored(Event, by_orm.pk, leave_out={"created_at"})


def test_several_rows_get_their_own_keys_in_order_in_one_statement(clinic):
    rows = [
        AuditRecord(action=AuditAction.CREATE, object_type="check_in", object_id=str(i), clinic_id=clinic.pk)
        for i in range(5)
    ]
    with CaptureQueriesContext(connection) as queries:
        rows_insert(rows)
    assert len(queries.captured_queries) == 1
    assert [AuditRecord.objects.get(pk=row.pk).object_id for row in rows] == [str(i) for i in range(5)]
    assert len({row.pk for row in rows}) == 5


def test_a_check_in_gets_its_generated_columns_back(make_enrolled):
    patient = make_enrolled()
    enrollment = Enrollment.objects.get(patient=patient)
    check_in = CheckIn(
        patient=patient,
        enrollment=enrollment,
        protocol_version=enrollment.protocol_version,
        answers={"weight_kg": 71.5, "temperature_c": 38.4},
        taken_at=timezone.now(),
        channel="app",
        level="amber",
    )
    rows_insert([check_in])
    assert check_in.answer_weight_kg == pytest.approx(71.5)
    assert check_in.answer_temperature_c == pytest.approx(38.4)
    stored = CheckIn.objects.get(pk=check_in.pk)
    assert stored.answers == {"weight_kg": 71.5, "temperature_c": 38.4}
    assert stored.answer_weight_kg == pytest.approx(71.5)


def test_a_model_the_database_fills_and_a_long_list_are_left_to_bulk_create(clinic, make_enrolled):
    patient = make_enrolled()
    message = OutgoingMessage(
        patient=patient,
        clinic=clinic,
        to_phone=str(patient.phone),
        body="x",
        display_body="x",
        kind=MessageKind.CHECK_IN,
        idempotency_key="row-insert-test",
    )
    rows_insert([message])  # db_default columns: DEFAULT sent by bulk_create
    assert message.pk is not None
    assert OutgoingMessage.objects.get(pk=message.pk).from_number == ""
    many = [AuditRecord(action=AuditAction.READ, object_type="patient", object_id=str(i)) for i in range(MAX_ROWS + 1)]
    rows_insert(many)
    assert AuditRecord.objects.filter(pk__in=[row.pk for row in many]).count() == MAX_ROWS + 1


def test_an_unsaved_related_object_is_refused_as_create_refuses_it(clinic):
    from backend.models import Clinic

    unsaved = Clinic(name="Not saved", phone="+442079460002", timezone="Europe/Istanbul")
    with pytest.raises(ValueError, match="unsaved related object"):
        rows_insert([Event(clinic=unsaved, type="check_in.received", data={})])
