"""The clinic admin's audit viewer (issue 20): their clinic's records only, filtered by
user, patient and day, paged, exported as CSV; other roles are refused; each read and
export is itself in the audit trail (H12: another clinic's records are never shown)."""

from __future__ import annotations

import csv
import io
import zoneinfo
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from backend.audit import audit_record
from backend.models import AuditAction, AuditRecord, Role
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(clinic):
    return UserFactory(clinic=clinic, role=Role.ADMIN)


@pytest.fixture
def trail(clinic, other_clinic, nurse, surgeon, other_nurse):
    """Reads of two patients of the clinic by two staff members, and one of another
    clinic's patient by that clinic's nurse."""
    first = PatientFactory(clinic=clinic)
    second = PatientFactory(clinic=clinic)
    foreign = PatientFactory(clinic=other_clinic)
    for actor, patient, times in ((nurse, first, 3), (surgeon, second, 2), (nurse, second, 1)):
        for _ in range(times):
            audit_record(
                actor=actor,
                action=AuditAction.READ,
                object_type="patient",
                objects=[(patient.pk, patient.pk)],
                clinic_id=clinic.pk,
            )
    audit_record(
        actor=other_nurse,
        action=AuditAction.READ,
        object_type="patient",
        objects=[(foreign.pk, foreign.pk)],
        clinic_id=other_clinic.pk,
    )
    return {"first": first, "second": second, "foreign": foreign}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows_shown(response) -> list[int]:
    return [int(record.pk) for record in response.context["page"].object_list]


def test_the_admin_sees_only_their_clinics_records_and_the_filters_narrow_them(admin, nurse, surgeon, trail):
    client = signed_in(admin)
    everything = client.get("/audit/")
    assert everything.status_code == 200
    shown = AuditRecord.objects.filter(pk__in=rows_shown(everything))
    # Six reads of the clinic's patients and the admin's own read of this page.
    assert shown.count() == 7
    assert trail["foreign"].pk not in set(shown.values_list("patient_id", flat=True))
    assert {record.clinic_id for record in shown} == {admin.clinic_id}

    by_nurse = client.get("/audit/", {"user": nurse.pk})
    assert {AuditRecord.objects.get(pk=pk).actor_user_id for pk in rows_shown(by_nurse)} == {nurse.pk}
    assert len(rows_shown(by_nurse)) == 4

    # Three reads of the second patient, and the admin's read naming that patient just now.
    by_patient = client.get("/audit/", {"patient": trail["second"].pk})
    assert len(rows_shown(by_patient)) == 3 + 1
    both = client.get("/audit/", {"patient": trail["second"].pk, "user": surgeon.pk})
    assert len(rows_shown(both)) == 2

    today = timezone.now().astimezone(zoneinfo.ZoneInfo(admin.clinic.timezone)).date()
    assert len(rows_shown(client.get("/audit/", {"until": (today - timedelta(days=1)).isoformat()}))) == 0
    assert len(rows_shown(client.get("/audit/", {"since": today.isoformat(), "user": nurse.pk}))) == 4

    # A staff member of another clinic is not a choice: the filter is refused, not widened.
    refused = client.get("/audit/", {"user": UserFactory(role=Role.NURSE).pk})
    assert refused.status_code == 400 and refused.context["page"] is None


def test_pages_hold_fifty_records(admin, nurse, trail):
    patient = trail["first"]
    audit_record(
        actor=nurse,
        action=AuditAction.READ,
        object_type="check_in",
        objects=[(n, patient.pk) for n in range(60)],
        clinic_id=admin.clinic_id,
    )
    client = signed_in(admin)
    first = client.get("/audit/", {"patient": patient.pk})
    assert len(rows_shown(first)) == 50 and first.context["page"].has_next()
    # 3 + 60 records of the patient, and the two reads naming the patient.
    second = client.get("/audit/", {"patient": patient.pk, "page": 2})
    assert len(rows_shown(second)) == 3 + 60 + 2 - 50
    # Between them, the two pages show every record of the patient written before.
    reads_of_others = AuditRecord.objects.filter(patient_id=patient.pk).exclude(object_type="audit_log")
    assert set(reads_of_others.values_list("pk", flat=True)) <= set(rows_shown(first)) | set(rows_shown(second))


def test_the_csv_export_has_the_rows_and_is_audited(admin, nurse, trail):
    client = signed_in(admin)
    response = client.get("/audit/", {"user": nurse.pk, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 4
    assert {row["actor_username"] for row in rows} == {nurse.username}
    assert {int(row["patient_id"]) for row in rows} == {trail["first"].pk, trail["second"].pk}

    export = AuditRecord.objects.get(object_type="audit_log_export")
    assert export.actor_user_id == admin.pk and export.clinic_id == admin.clinic_id
    assert export.object_id == f"user={nurse.pk}" and export.path == "/audit/"


def test_each_read_of_the_trail_is_itself_audited(admin, trail):
    client = signed_in(admin)
    client.get("/audit/", {"patient": trail["first"].pk})
    client.get("/audit/")
    reads = AuditRecord.objects.filter(object_type="audit_log", actor_user_id=admin.pk).order_by("id")
    assert [(read.object_id, read.patient_id) for read in reads] == [
        (f"patient={trail['first'].pk}", trail["first"].pk),
        ("", None),
    ]


@pytest.mark.parametrize("role", [Role.NURSE, Role.SURGEON, Role.COORDINATOR])
def test_other_roles_are_refused_and_nothing_is_recorded(clinic, trail, role):
    user = UserFactory(clinic=clinic, role=role)
    before = AuditRecord.objects.count()
    assert signed_in(user).get("/audit/").status_code == 403
    assert signed_in(user).get("/audit/", {"format": "csv"}).status_code == 403
    assert AuditRecord.objects.count() == before


def test_anonymous_is_sent_to_sign_in(trail):
    response = Client().get("/audit/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
