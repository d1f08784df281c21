"""Object-level access: staff see only their clinic, a patient only their own data (H12)."""

import pytest

from tests.factories import EpisodeFactory, PatientFactory

pytestmark = pytest.mark.django_db


def test_nurse_gets_404_for_another_clinics_patient(nurse_client, other_clinic):
    foreign = PatientFactory(clinic=other_clinic)
    assert nurse_client.get(f"/api/v1/patients/{foreign.pk}/").status_code == 404
    assert nurse_client.patch(f"/api/v1/patients/{foreign.pk}/", {"given_name": "X"}).status_code == 404


def test_nurse_list_holds_only_own_clinic(nurse_client, patient, other_clinic):
    PatientFactory(clinic=other_clinic)
    body = nurse_client.get("/api/v1/patients/").json()
    assert body["count"] == 1
    assert [row["id"] for row in body["results"]] == [patient.pk]


def test_nurse_gets_404_for_another_clinics_episode(nurse_client, other_clinic):
    foreign = EpisodeFactory(patient=PatientFactory(clinic=other_clinic))
    assert nurse_client.get(f"/api/v1/episodes/{foreign.pk}/").status_code == 404


def test_nurse_cannot_create_episode_for_another_clinics_patient(nurse_client, other_clinic):
    foreign = PatientFactory(clinic=other_clinic)
    response = nurse_client.post(
        "/api/v1/episodes/",
        {
            "patient": foreign.pk,
            "procedure": "Right hepatectomy",
            "surgery_date": "2026-11-01",
            "discharge_date": "2026-11-08",
        },
    )
    assert response.status_code == 400
    assert "patient" in response.json()


def test_nurse_sees_own_clinic_only(nurse_client, clinic, other_clinic):
    assert nurse_client.get(f"/api/v1/clinics/{clinic.pk}/").status_code == 200
    assert nurse_client.get(f"/api/v1/clinics/{other_clinic.pk}/").status_code == 404


def test_patient_token_is_403_on_staff_endpoints(patient_client, patient, episode):
    assert patient_client.get("/api/v1/patients/").status_code == 403
    assert patient_client.get(f"/api/v1/patients/{patient.pk}/").status_code == 403
    assert patient_client.get("/api/v1/episodes/").status_code == 403
    assert patient_client.post(f"/api/v1/patients/{patient.pk}/enrollment-code/").status_code == 403
    assert patient_client.get(f"/api/v1/clinics/{patient.clinic_id}/").status_code == 403


def test_anonymous_is_401(anonymous_client, patient):
    assert anonymous_client.get("/api/v1/patients/").status_code == 401
    assert anonymous_client.get(f"/api/v1/patients/{patient.pk}/").status_code == 401
