"""Staff tokens, patient one-time codes and their throttles."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from backend.models import EnrollmentCode
from backend.services import AuthenticationFailed, enrollment_code_create, patient_token_exchange
from notifications.models import OutgoingMessage
from tests.factories import PASSWORD, PatientFactory

pytestmark = pytest.mark.django_db


def test_staff_login_returns_expiring_token_and_user(anonymous_client, nurse):
    response = anonymous_client.post("/api/v1/auth/token/", {"username": nurse.username, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {"id": nurse.pk, "username": nurse.username, "role": "nurse", "clinic": nurse.clinic_id}
    assert body["expires_at"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert client.get("/api/v1/patients/").status_code == 200


def test_staff_token_is_stored_hashed(anonymous_client, nurse):
    from knox.models import AuthToken

    token = anonymous_client.post("/api/v1/auth/token/", {"username": nurse.username, "password": PASSWORD}).json()[
        "token"
    ]
    stored = AuthToken.objects.get(user=nurse)
    assert token not in (stored.digest, stored.token_key)


def test_staff_token_expires_within_a_working_day(anonymous_client, nurse):
    token = anonymous_client.post("/api/v1/auth/token/", {"username": nurse.username, "password": PASSWORD}).json()[
        "token"
    ]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with time_machine.travel(timezone.now() + timedelta(hours=11)):
        assert client.get("/api/v1/patients/").status_code == 401


def test_bad_credentials_are_400(anonymous_client, nurse):
    response = anonymous_client.post("/api/v1/auth/token/", {"username": nurse.username, "password": "wrong"})
    assert response.status_code == 400
    assert "token" not in response.json()


def test_login_is_throttled_per_account(anonymous_client, nurse):
    statuses = [
        anonymous_client.post("/api/v1/auth/token/", {"username": nurse.username, "password": "wrong"}).status_code
        for _ in range(6)
    ]
    assert statuses[:5] == [400] * 5
    assert statuses[5] == 429
    blocked = anonymous_client.post("/api/v1/auth/token/", {"username": nurse.username, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Retry-After" in blocked.headers


def test_a_made_up_forwarded_for_header_does_not_dodge_the_address_throttle(anonymous_client, nurse):
    """One address guessing 21 accounts, each try under a new X-Forwarded-For: still the
    same address to the throttle (20/min), since no proxy of ours wrote that header."""
    statuses = [
        anonymous_client.post(
            "/api/v1/auth/token/",
            {"username": f"guess-{attempt}", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}",
        ).status_code
        for attempt in range(21)
    ]
    assert statuses[:20] == [400] * 20
    assert statuses[20] == 429


def test_logout_revokes_token(nurse_client):
    assert nurse_client.post("/api/v1/auth/logout/").status_code == 204
    assert nurse_client.get("/api/v1/patients/").status_code == 401


def test_enrollment_code_is_sent_by_sms_and_masked(nurse_client, patient):
    response = nurse_client.post(f"/api/v1/patients/{patient.pk}/enrollment-code/")
    assert response.status_code == 202
    message = OutgoingMessage.objects.get(patient=patient)
    assert message.to_phone == str(patient.phone)
    code = "".join(ch for ch in message.body if ch.isdigit())[:6]
    assert len(code) == 6
    assert code not in message.display_body
    assert EnrollmentCode.objects.get(patient=patient).code_hash != code


def test_enrollment_code_works_once(anonymous_client, patient, nurse):
    code = enrollment_code_create(patient=patient, by=nurse)
    body = {"phone": str(patient.phone), "code": code}
    first = anonymous_client.post("/api/v1/auth/patient-token/", body)
    assert first.status_code == 200
    assert first.json()["patient"] == patient.pk
    assert anonymous_client.post("/api/v1/auth/patient-token/", body).status_code == 400


def test_enrollment_code_expires(anonymous_client, patient, nurse):
    code = enrollment_code_create(patient=patient, by=nurse)
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = anonymous_client.post("/api/v1/auth/patient-token/", {"phone": str(patient.phone), "code": code})
    assert response.status_code == 400


def test_enrollment_code_dies_after_wrong_guesses(patient, nurse):
    # At the service, below the throttles: the code's own attempt cap is what stops it.
    code = enrollment_code_create(patient=patient, by=nurse)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            patient_token_exchange(phone=str(patient.phone), code=wrong, request=None)
    with pytest.raises(AuthenticationFailed):
        patient_token_exchange(phone=str(patient.phone), code=code, request=None)
    assert EnrollmentCode.objects.get(patient=patient).failed_attempts == 5


def test_code_guesses_are_throttled(anonymous_client, patient, nurse):
    enrollment_code_create(patient=patient, by=nurse)
    statuses = [
        anonymous_client.post(
            "/api/v1/auth/patient-token/", {"phone": str(patient.phone), "code": f"{n:06d}"}
        ).status_code
        for n in range(7)
    ]
    assert 429 in statuses
    assert statuses[:5] == [400] * 5


def test_patient_token_reaches_nothing_of_staff(anonymous_client, patient, nurse):
    code = enrollment_code_create(patient=patient, by=nurse)
    token = anonymous_client.post("/api/v1/auth/patient-token/", {"phone": str(patient.phone), "code": code}).json()[
        "token"
    ]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/patients/").status_code == 403


def test_patient_token_lasts_weeks_then_expires(anonymous_client, patient, nurse):
    code = enrollment_code_create(patient=patient, by=nurse)
    body = anonymous_client.post("/api/v1/auth/patient-token/", {"phone": str(patient.phone), "code": code}).json()
    expires = timezone.datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=14) < expires - timezone.now() <= timedelta(days=29)


def test_other_patients_code_does_not_open_this_patient(anonymous_client, patient, other_patient, nurse):
    code = enrollment_code_create(patient=other_patient, by=nurse)
    response = anonymous_client.post("/api/v1/auth/patient-token/", {"phone": str(patient.phone), "code": code})
    assert response.status_code == 400


def test_the_sign_in_code_is_texted_in_the_patients_language(nurse_client, clinic):
    patient = PatientFactory(clinic=clinic, language="de")
    assert nurse_client.post(f"/api/v1/patients/{patient.pk}/enrollment-code/").status_code == 202
    body = OutgoingMessage.objects.get(patient=patient).body
    [code] = re.findall(r"\b\d{6}\b", body)
    assert body == f"Ihr Anmeldecode für {clinic.name} lautet {code}. Er ist 15 Minuten gültig."
