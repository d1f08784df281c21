"""backend.write_batch: inside a batch the audit rows, events and outbox rows of a unit
of work are written together at its end, one INSERT per table, inside the caller's
transaction; outside one they are written at once (issue 17)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from backend.audit import audit_record
from backend.models import AuditAction, AuditRecord
from backend.write_batch import write_batch
from notifications.events import event_publish
from notifications.models import Event, MessageHistoryEntry, MessageKind, OutgoingMessage
from notifications.services import sms_enqueue

pytestmark = pytest.mark.django_db


def _inserts(queries, table: str) -> int:
    return sum(q["sql"].startswith(f'INSERT INTO "{table}"') for q in queries.captured_queries)


def _audit(nurse, object_id: int) -> None:
    audit_record(
        actor=nurse,
        action=AuditAction.READ,
        object_type="patient",
        objects=[(object_id, None)],
        clinic_id=nurse.clinic_id,
    )


def test_outside_a_batch_every_row_is_written_at_once(nurse):
    _audit(nurse, 1)
    assert AuditRecord.objects.filter(object_id="1").exists()
    event = event_publish(clinic_id=nurse.clinic_id, type="check_in.received", data={"id": 1})
    assert event.seq is not None and Event.objects.filter(seq=event.seq).exists()


def test_inside_a_batch_rows_wait_for_its_end_and_go_in_one_insert_per_table(nurse, patient):
    with CaptureQueriesContext(connection) as queries, transaction.atomic(), write_batch():
        for object_id in (1, 2, 3):
            _audit(nurse, object_id)
        events = [event_publish(clinic_id=nurse.clinic_id, type="check_in.received", data={"id": n}) for n in (1, 2, 3)]
        messages = [
            sms_enqueue(
                clinic_id=patient.clinic_id,
                to_phone=str(patient.phone),
                body=f"message {n}",
                kind=MessageKind.ADVICE,
                idempotency_key=f"batch-test:{n}",
                patient=patient,
            )
            for n in (1, 2)
        ]
        assert not AuditRecord.objects.filter(object_type="patient").exists()
        assert events[0].seq is None and messages[0].pk is None
    assert _inserts(queries, "backend_auditrecord") == 1
    assert _inserts(queries, "notifications_event") == 1
    assert _inserts(queries, "notifications_outgoingmessage") == 1
    assert _inserts(queries, "notifications_messagehistoryentry") == 1
    assert AuditRecord.objects.filter(object_type="patient").count() == 3
    # Ids given in the order the rows were handed over: events keep their order.
    seqs = [event.seq for event in events]
    assert seqs == sorted(seqs) and [Event.objects.get(seq=s).data["id"] for s in seqs] == [1, 2, 3]
    assert all(message.pk for message in messages)
    assert MessageHistoryEntry.objects.filter(outgoing__in=messages).count() == 2


def test_a_batch_that_fails_writes_nothing(nurse):
    def unit_of_work() -> None:
        with transaction.atomic(), write_batch():
            _audit(nurse, 7)
            event_publish(clinic_id=nurse.clinic_id, type="check_in.received", data={"id": 7})
            raise RuntimeError("the unit of work failed")

    with pytest.raises(RuntimeError):
        unit_of_work()
    assert not AuditRecord.objects.filter(object_id="7").exists()
    assert not Event.objects.filter(data__id=7).exists()


def test_an_outbox_key_already_used_falls_back_to_the_row_there(patient):
    def enqueue(body: str) -> OutgoingMessage:
        return sms_enqueue(
            clinic_id=patient.clinic_id,
            to_phone=str(patient.phone),
            body=body,
            kind=MessageKind.ADVICE,
            idempotency_key="batch-test:retried",
            patient=patient,
        )

    first = enqueue("first")
    with transaction.atomic(), write_batch():
        again = enqueue("again")
        fresh = sms_enqueue(
            clinic_id=patient.clinic_id,
            to_phone=str(patient.phone),
            body="fresh",
            kind=MessageKind.ADVICE,
            idempotency_key="batch-test:fresh",
            patient=patient,
        )
    assert again.pk == first.pk
    assert OutgoingMessage.objects.filter(idempotency_key="batch-test:retried").count() == 1
    assert OutgoingMessage.objects.get(pk=fresh.pk).body == "fresh"
    assert MessageHistoryEntry.objects.filter(outgoing_id=first.pk).count() == 1


def test_an_opted_out_patient_s_message_is_suppressed_from_the_caller_s_reading(patient):
    message = sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body="advice",
        kind=MessageKind.ADVICE,
        idempotency_key="batch-test:stop",
        patient=patient,
        opted_out=True,
    )
    assert message.status == "suppressed"
