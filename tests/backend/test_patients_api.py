"""Patients and episodes through the API: strict validation naming the field."""

import pytest

from backend.models import Patient

pytestmark = pytest.mark.django_db

VALID = {
    "mrn": "A-1001",
    "given_name": "Ayşe",
    "family_name": "Yılmaz",
    "phone": "+905301234567",
    "language": "tr",
    "timezone": "Europe/Istanbul",
    "sms_consent": True,
}


def test_nurse_creates_patient_in_own_clinic(nurse_client, nurse):
    response = nurse_client.post("/api/v1/patients/", VALID)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["clinic"] == nurse.clinic_id
    assert body["phone"] == "+905301234567"
    assert body["sms_opted_out_at"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "05301234567"),
        ("phone", "+90530"),
        ("phone", "not a phone"),
        ("language", "fr"),
        ("timezone", "Mars/Olympus"),
        ("timezone", "+03:00"),
        ("sms_consent", "yes"),
    ],
)
def test_bad_field_is_400_naming_it_and_stores_nothing(nurse_client, field, value):
    response = nurse_client.post("/api/v1/patients/", {**VALID, field: value})
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Patient.objects.exists()


def test_mrn_is_unique_per_clinic_only(nurse_client, other_nurse_client):
    assert nurse_client.post("/api/v1/patients/", VALID).status_code == 201
    duplicate = nurse_client.post("/api/v1/patients/", VALID)
    assert duplicate.status_code == 400
    assert "mrn" in duplicate.json()
    assert other_nurse_client.post("/api/v1/patients/", VALID).status_code == 201


def test_sms_opted_out_at_is_read_only(nurse_client, patient):
    response = nurse_client.patch(
        f"/api/v1/patients/{patient.pk}/", {"sms_opted_out_at": "2026-01-01T00:00:00Z", "language": "de"}
    )
    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is None
    assert patient.language == "de"


def test_episode_create_and_strict_types(nurse_client, patient, surgeon):
    good = {
        "patient": patient.pk,
        "procedure": "Right hepatectomy",
        "indication": "Colorectal liver metastasis",
        "surgery_date": "2026-11-01",
        "discharge_date": "2026-11-08",
        "surgeon": surgeon.pk,
        "baseline_weight_kg": 72.5,
    }
    response = nurse_client.post("/api/v1/episodes/", good)
    assert response.status_code == 201, response.json()
    assert response.json()["drain_at_discharge"] is False
    assert response.json()["baseline_weight_kg"] == 72.5

    as_string = nurse_client.post("/api/v1/episodes/", {**good, "baseline_weight_kg": "72.5"})
    assert as_string.status_code == 400
    assert list(as_string.json()) == ["baseline_weight_kg"]

    backwards = nurse_client.post("/api/v1/episodes/", {**good, "discharge_date": "2026-10-01"})
    assert backwards.status_code == 400
    assert "discharge_date" in backwards.json()


def test_malformed_json_is_a_clear_400(nurse_client):
    response = nurse_client.generic("POST", "/api/v1/patients/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_nan_is_rejected(nurse_client, patient):
    response = nurse_client.generic(
        "POST",
        "/api/v1/episodes/",
        f'{{"patient": {patient.pk}, "procedure": "x", "surgery_date": "2026-11-01", '
        '"discharge_date": "2026-11-02", "baseline_weight_kg": NaN}',
        content_type="application/json",
    )
    assert response.status_code == 400


def test_oversized_body_is_413(nurse_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = nurse_client.post("/api/v1/patients/", {**VALID, "given_name": "x" * 5000})
    assert response.status_code == 413
