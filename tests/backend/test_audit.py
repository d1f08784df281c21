"""Every patient read and write leaves an audit record; the log is append-only (H12)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from backend.models import AuditRecord

pytestmark = pytest.mark.django_db


def test_patient_read_is_audited(nurse_client, nurse, patient):
    nurse_client.get(f"/api/v1/patients/{patient.pk}/")
    record = AuditRecord.objects.get(action="read", object_type="patient")
    assert record.actor_user_id == nurse.pk
    assert record.patient_id == patient.pk
    assert record.ip_address == "127.0.0.1"
    assert record.path == f"/api/v1/patients/{patient.pk}/"


def test_patient_list_audits_each_patient_shown(nurse_client, patient, other_patient):
    nurse_client.get("/api/v1/patients/")
    assert set(AuditRecord.objects.filter(action="read").values_list("patient_id", flat=True)) == {
        patient.pk,
        other_patient.pk,
    }


def test_patient_write_is_audited(nurse_client, patient):
    nurse_client.patch(f"/api/v1/patients/{patient.pk}/", {"language": "ru"})
    assert AuditRecord.objects.filter(action="update", patient_id=patient.pk).count() == 1


def test_episode_create_and_read_are_audited(nurse_client, patient):
    created = nurse_client.post(
        "/api/v1/episodes/",
        {
            "patient": patient.pk,
            "procedure": "Left hepatectomy",
            "surgery_date": "2026-11-01",
            "discharge_date": "2026-11-07",
        },
    ).json()
    nurse_client.get(f"/api/v1/episodes/{created['id']}/")
    assert list(AuditRecord.objects.filter(object_type="episode").values_list("action", "patient_id")) == [
        ("create", patient.pk),
        ("read", patient.pk),
    ]


def test_refused_read_writes_nothing(other_nurse_client, patient):
    other_nurse_client.get(f"/api/v1/patients/{patient.pk}/")
    assert not AuditRecord.objects.filter(patient_id=patient.pk).exists()


def test_audit_record_update_fails_in_the_database(nurse_client, patient):
    nurse_client.get(f"/api/v1/patients/{patient.pk}/")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditRecord.objects.filter(patient_id=patient.pk).update(action="delete")


def test_audit_record_delete_is_refused(nurse_client, patient):
    """PostgreSQL refuses the DELETE itself; the embedded SQLite refuses it in the model
    (its test flush needs DELETE, see migration 0002)."""
    nurse_client.get(f"/api/v1/patients/{patient.pk}/")
    record = AuditRecord.objects.get(patient_id=patient.pk)
    with pytest.raises(ValidationError):
        record.delete()
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditRecord.objects.filter(patient_id=patient.pk).delete()
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM backend_auditrecord")
    assert AuditRecord.objects.filter(patient_id=patient.pk).count() == 1


def test_a_made_up_forwarded_for_header_is_not_the_audited_address(nurse_client, patient):
    """Without a trusted proxy (TRUSTED_PROXIES=0, the default) the client wrote the
    header: the audit keeps the connection's address."""
    nurse_client.get(f"/api/v1/patients/{patient.pk}/", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert AuditRecord.objects.get(action="read", object_type="patient").ip_address == "127.0.0.1"


def test_behind_our_proxy_the_address_it_forwarded_is_audited(nurse_client, patient, settings):
    """With one trusted proxy (docker-compose's nginx) the last X-Forwarded-For entry is
    the one nginx appended; anything the client put before it is ignored."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    nurse_client.get(f"/api/v1/patients/{patient.pk}/", HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.9")
    assert AuditRecord.objects.get(action="read", object_type="patient").ip_address == "203.0.113.9"
    nurse_client.get(f"/api/v1/patients/{patient.pk}/", HTTP_X_FORWARDED_FOR="not-an-address")
    assert AuditRecord.objects.filter(action="read", object_type="patient").latest("id").ip_address == "127.0.0.1"
