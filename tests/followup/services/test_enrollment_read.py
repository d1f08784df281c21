"""Issue 17: the check-in path's enrollment read is SQL built once per process
(``backend.joined_rows``) and takes its protocol version from a per-process cache
(``protocol_version_stored``). What it hands back must be what the ORM's
``select_related`` read gave: every field of every instance, with the database's
converters applied (dates, decimals, phone numbers, JSON), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from followup.models import Enrollment, ProtocolVersion, ScheduledCheckIn
from followup.selectors import active_enrollment_locking_patient
from followup.services.protocols import protocol_version_stored

pytestmark = pytest.mark.django_db(transaction=False)


def _fields(instance) -> dict[str, object]:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def _scheduled(patient, enrollment, *, due_in: timedelta, status: str) -> ScheduledCheckIn:
    return ScheduledCheckIn.objects.create(
        patient=patient, enrollment=enrollment, due_at=timezone.now() + due_in, status=status
    )


def test_the_read_holds_every_field_the_orm_read_holds(make_enrolled):
    patient = make_enrolled(discharged_days_ago=3)
    episode = patient.episodes.get()
    episode.baseline_weight_kg = Decimal("81.4")
    episode.save(update_fields=["baseline_weight_kg"])
    expected = Enrollment.objects.select_related("episode", "patient__clinic", "protocol_version__protocol").get(
        patient=patient
    )
    with transaction.atomic():
        read = active_enrollment_locking_patient(patient_id=patient.pk)
    assert read is not None
    assert _fields(read) == _fields(expected)
    assert _fields(read.episode) == _fields(expected.episode)
    assert read.episode.baseline_weight_kg == Decimal("81.4")
    assert _fields(read.patient) == _fields(expected.patient)
    assert read.patient.phone == expected.patient.phone and str(read.patient.phone).startswith("+")
    assert _fields(read.patient.clinic) == _fields(expected.patient.clinic)
    assert read.protocol_version.pk == expected.protocol_version.pk
    assert read.protocol_version.content_hash == expected.protocol_version.content_hash
    assert read.protocol_version.version == expected.protocol_version.version
    assert read.protocol_version.protocol.slug == expected.protocol_version.protocol.slug
    assert not hasattr(read, "next_check_in_due_at")


def test_the_next_check_in_due_skips_the_one_answered_and_the_closed(make_enrolled):
    patient = make_enrolled(discharged_days_ago=3)
    enrollment = Enrollment.objects.get(patient=patient)
    answering = _scheduled(patient, enrollment, due_in=timedelta(hours=1), status=ScheduledCheckIn.Status.SENT)
    _scheduled(patient, enrollment, due_in=timedelta(hours=2), status=ScheduledCheckIn.Status.CANCELLED)
    later = _scheduled(patient, enrollment, due_in=timedelta(hours=5), status=ScheduledCheckIn.Status.SCHEDULED)
    now = timezone.now()
    with transaction.atomic():
        read = active_enrollment_locking_patient(patient_id=patient.pk, next_check_in_after=now, answering=answering.pk)
        assert read is not None and read.next_check_in_due_at == later.due_at
        read = active_enrollment_locking_patient(patient_id=patient.pk, next_check_in_after=now)
        assert read is not None and read.next_check_in_due_at == answering.due_at
        read = active_enrollment_locking_patient(patient_id=patient.pk, next_check_in_after=later.due_at)
        assert read is not None and read.next_check_in_due_at is None


def test_no_active_enrollment_reads_as_none(make_enrolled):
    patient = make_enrolled()
    Enrollment.objects.filter(patient=patient).update(status=Enrollment.Status.ENDED)
    with transaction.atomic():
        assert active_enrollment_locking_patient(patient_id=patient.pk) is None


def test_a_remembered_version_reads_what_may_change_fresh(protocol_version):
    first = protocol_version_stored(protocol_version.pk)
    assert (first.pk, first.content_hash, first.protocol.slug) == (
        protocol_version.pk,
        protocol_version.content_hash,
        protocol_version.protocol.slug,
    )
    ProtocolVersion.objects.filter(pk=protocol_version.pk).update(is_current=False)
    again = protocol_version_stored(protocol_version.pk)
    assert again is not first  # a new instance each call: nobody shares a mutable row
    assert again.is_current is False  # deferred, so read from the database
