"""A discharged patient enrolled from the hospital's system (issue 21): Patient +
Encounter (the discharge) + Procedure (the operation) in one transaction, so nobody
types the patient twice; the enrolment goes through the enrollment service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.models import AuditRecord, Episode, Patient
from followup.models import Enrollment, Observation, ScheduledCheckIn
from tests.fhir.fhir_kit import bundle, lab_entry, post_bundle

pytestmark = pytest.mark.django_db


def _enrolment(clinic, mrn: str = "H-7001") -> list[dict]:
    today = timezone.localdate()
    system = f"urn:vigil:clinic:{clinic.pk}:mrn"
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": system, "value": mrn}],
        "name": [{"family": "Yılmaz", "given": ["Ayşe"]}],
        "telecom": [{"system": "phone", "value": "+905321234567"}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "tr"}]}}],
    }
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "urn:uuid:patient-1"},
        "period": {"start": str(today - timedelta(days=9)), "end": str(today - timedelta(days=2))},
    }
    procedure = {
        "resourceType": "Procedure",
        "status": "completed",
        "code": {"text": "Right hepatectomy"},
        "subject": {"reference": "urn:uuid:patient-1"},
        "performedDateTime": str(today - timedelta(days=8)),
    }
    return [
        {"fullUrl": "urn:uuid:patient-1", "resource": patient, "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:encounter-1", "resource": encounter, "request": {"method": "POST", "url": "Encounter"}},
        {"fullUrl": "urn:uuid:procedure-1", "resource": procedure, "request": {"method": "POST", "url": "Procedure"}},
    ]


def test_it_enrols_a_discharged_patient_with_a_lab_in_one_transaction(integration_client, integration_user, clinic):
    entries = _enrolment(clinic)
    entries.append(lab_entry(9, {"reference": "urn:uuid:patient-1"}, "1742-6", 30, "U/L", high=45))
    response = post_bundle(integration_client, bundle(entries))
    assert response.status_code == 200, response.json()
    statuses = [entry["response"]["status"] for entry in response.json()["entry"]]
    assert statuses == ["201 Created", "201 Created", "200 OK", "201 Created"]

    patient = Patient.objects.get(clinic=clinic, mrn="H-7001")
    assert (patient.given_name, patient.family_name, patient.language) == ("Ayşe", "Yılmaz", "tr")
    assert patient.timezone == clinic.timezone
    episode = Episode.objects.get(patient=patient)
    today = timezone.localdate()
    assert episode.procedure == "Right hepatectomy"
    assert (episode.surgery_date, episode.discharge_date) == (today - timedelta(days=8), today - timedelta(days=2))
    enrollment = Enrollment.objects.get(patient=patient, status="active")
    assert enrollment.enrolled_by == integration_user
    assert ScheduledCheckIn.objects.filter(enrollment=enrollment).exists()
    assert Observation.objects.get(patient=patient).reference_high == 45
    created = set(
        AuditRecord.objects.filter(action="create", patient_id=patient.pk).values_list("object_type", flat=True)
    )
    assert {"patient", "episode", "enrollment", "observation"} <= created


def test_posting_the_enrolment_again_is_refused_and_adds_nothing(integration_client, clinic):
    assert post_bundle(integration_client, bundle(_enrolment(clinic))).status_code == 200
    counts = (Patient.objects.count(), Episode.objects.count(), Enrollment.objects.count())
    response = post_bundle(integration_client, bundle(_enrolment(clinic)))
    assert response.status_code == 409
    assert "entry 1 (urn:uuid:encounter-1)" in response.json()["issue"][0]["diagnostics"]
    assert (Patient.objects.count(), Episode.objects.count(), Enrollment.objects.count()) == counts


def test_a_patient_without_the_clinics_mrn_system_is_refused(integration_client, clinic):
    entries = _enrolment(clinic)
    entries[0]["resource"]["identifier"][0]["system"] = "urn:oid:9.9.9"
    response = post_bundle(integration_client, bundle(entries))
    assert response.status_code == 400
    assert "entry 0 (urn:uuid:patient-1)" in response.json()["issue"][0]["diagnostics"]
    assert not Patient.objects.exists()


def test_a_clinic_names_its_own_mrn_system(integration_client, clinic):
    clinic.mrn_system = "urn:oid:1.2.792.1.5.42"
    clinic.save()
    entries = _enrolment(clinic)
    entries[0]["resource"]["identifier"][0]["system"] = "urn:oid:1.2.792.1.5.42"
    assert post_bundle(integration_client, bundle(entries)).status_code == 200
    assert Patient.objects.filter(clinic=clinic, mrn="H-7001").exists()


def test_a_patient_token_enrols_nobody(enrolled, patient_client, clinic):
    response = post_bundle(patient_client, bundle(_enrolment(clinic)))
    assert response.status_code == 403
    assert Patient.objects.count() == 1
