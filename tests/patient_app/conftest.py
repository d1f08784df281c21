"""Signing a patient in to the app the way a phone does: a code from the clinic
(``enrollment_code_create``, the code the SMS carries) typed on the sign-in page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from backend.models import Patient
from backend.services import enrollment_code_create


def app_sign_in(client: Client, patient: Patient, nurse) -> Client:  # type: ignore[no-untyped-def]
    code = enrollment_code_create(patient=patient, by=nurse)
    client.get("/app/sign-in/")
    token = client.cookies["csrftoken"].value
    response = client.post("/app/sign-in/", {"phone": str(patient.phone), "code": code, "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/app/", response.content[:500]
    return client


@pytest.fixture
def app_client(nurse) -> Callable[[Patient], Client]:
    def make(patient: Patient, *, enforce_csrf: bool = False) -> Client:
        return app_sign_in(Client(enforce_csrf_checks=enforce_csrf), patient, nurse)

    return make
