"""Signing in to the patient app with the SMS code: a session as long as a patient
token, HttpOnly and SameSite=Lax; a wrong code signs nobody in; sign-out ends it; a
staff session cannot use /app/ (H12)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from backend.models import AuditRecord
from backend.services import enrollment_code_create
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_it_signs_a_patient_in_with_the_code_for_as_long_as_a_token_lasts(enrolled, nurse, app_client):
    client = app_client(enrolled)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert int(cookie["max-age"]) == int(settings.PATIENT_TOKEN_TTL.total_seconds())
    home = client.get("/app/")
    assert home.status_code == 200
    assert enrolled.given_name in home.content.decode()
    assert home["Cache-Control"].startswith("max-age=0") or "no-store" in home["Cache-Control"]
    assert AuditRecord.objects.filter(action="login", patient_id=enrolled.pk).exists()


def test_a_code_works_once_and_a_wrong_code_signs_nobody_in(enrolled, nurse):
    code = enrollment_code_create(patient=enrolled, by=nurse)
    client = Client()
    wrong = client.post(
        "/app/sign-in/", {"phone": str(enrolled.phone), "code": "000000" if code != "000000" else "111111"}
    )
    assert wrong.status_code == 400
    assert client.get("/app/").status_code == 302
    assert client.post("/app/sign-in/", {"phone": str(enrolled.phone), "code": code}).status_code == 302
    again = Client().post("/app/sign-in/", {"phone": str(enrolled.phone), "code": code})
    assert again.status_code == 400


def test_the_sign_in_form_needs_its_csrf_token(enrolled, nurse):
    code = enrollment_code_create(patient=enrolled, by=nurse)
    client = Client(enforce_csrf_checks=True)
    assert client.post("/app/sign-in/", {"phone": str(enrolled.phone), "code": code}).status_code == 403


def test_sign_out_ends_the_session(enrolled, app_client):
    client = app_client(enrolled)
    assert client.post("/app/sign-out/").status_code == 302
    assert client.get("/app/").status_code == 302


def test_anonymous_visitors_go_to_the_sign_in_page(db):
    response = Client().get("/app/history/")
    assert response.status_code == 302 and response["Location"] == "/app/sign-in/"


@pytest.mark.parametrize("path", ["/app/", "/app/check-in/", "/app/history/", "/app/plan/", "/app/messages/"])
def test_a_staff_session_cannot_use_the_app(nurse, path):
    """H12: a nurse's session is not a patient's."""
    client = Client()
    assert client.login(username=nurse.username, password=PASSWORD)
    assert client.get(path).status_code == 403
