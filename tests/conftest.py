"""Shared fixtures: three standing actors (a clinician of the clinic, one of another
clinic, and a patient) and API clients signed in as each."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient

from backend.models import Role
from backend.services import patient_user_get_or_create
from tests.factories import ClinicFactory, EpisodeFactory, PatientFactory, UserFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache (Redis); each test starts from zero.
    cache.clear()


@pytest.fixture
def clinic(db):
    return ClinicFactory()


@pytest.fixture
def other_clinic(db):
    return ClinicFactory()


@pytest.fixture
def nurse(clinic):
    return UserFactory(clinic=clinic, role=Role.NURSE)


@pytest.fixture
def surgeon(clinic):
    return UserFactory(clinic=clinic, role=Role.SURGEON)


@pytest.fixture
def other_nurse(other_clinic):
    return UserFactory(clinic=other_clinic, role=Role.NURSE)


@pytest.fixture
def patient(clinic):
    return PatientFactory(clinic=clinic)


@pytest.fixture
def other_patient(clinic):
    return PatientFactory(clinic=clinic)


@pytest.fixture
def episode(patient):
    return EpisodeFactory(patient=patient)


def token_client(user) -> APIClient:
    _instance, key = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def make_client():
    return token_client


@pytest.fixture
def nurse_client(nurse):
    return token_client(nurse)


@pytest.fixture
def other_nurse_client(other_nurse):
    return token_client(other_nurse)


@pytest.fixture
def patient_client(patient):
    return token_client(patient_user_get_or_create(patient))


@pytest.fixture
def anonymous_client():
    return APIClient()
