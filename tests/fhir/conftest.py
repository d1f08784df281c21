"""Fixtures of the FHIR tests: the clinic's service account, a patient on day 5 after
surgery (the 50-50 criteria apply), and Bundle builders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.models import Patient, Role
from tests.conftest import token_client
from tests.factories import EnrollmentFactory, EpisodeFactory, PatientFactory, UserFactory


@pytest.fixture
def integration_user(clinic):
    return UserFactory(clinic=clinic, role=Role.INTEGRATION, username=f"hospital-lis-{clinic.pk}")


@pytest.fixture
def integration_client(integration_user):
    return token_client(integration_user)


@pytest.fixture
def day5_patient(clinic, care_team, protocol_version) -> Patient:
    """Operated five days ago, discharged yesterday, enrolled on the default protocol."""
    patient = PatientFactory(clinic=clinic, care_team=care_team, mrn="H-0042")
    today = timezone.localdate()
    episode = EpisodeFactory(
        patient=patient, surgery_date=today - timedelta(days=5), discharge_date=today - timedelta(days=1)
    )
    EnrollmentFactory(episode=episode)
    return patient
