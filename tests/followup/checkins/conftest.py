"""Fixtures for the check-in path: an enrolled patient on the published default
protocol (built here, not through the enrollment service, which another area owns),
an on-call surgeon with a phone, and answer sets to start from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
import pytest
from django.utils import timezone

from backend.models import OnCallShift, Patient, Role
from followup.models import Enrollment, ProtocolVersion
from followup.services.protocols import protocol_version_current
from tests.factories import CareTeamFactory, EpisodeFactory, PatientFactory, UserFactory


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    episode = factory.SubFactory(EpisodeFactory)
    patient = factory.SelfAttribute("episode.patient")
    protocol_version = factory.LazyFunction(lambda: protocol_version_current("post-hepatectomy"))
    has_pulse_device = False


@pytest.fixture
def protocol_version(db) -> ProtocolVersion:
    return protocol_version_current("post-hepatectomy")


@pytest.fixture
def care_team(clinic):
    return CareTeamFactory(clinic=clinic)


@pytest.fixture
def on_call_surgeon(clinic, care_team):
    """Level 1 of the care team's chain around now: red alerts page this phone."""
    surgeon = UserFactory(clinic=clinic, role=Role.SURGEON, phone="+442079460777")
    now = timezone.now()
    OnCallShift.objects.create(
        care_team=care_team, user=surgeon, level=1, starts_at=now - timedelta(days=30), ends_at=now + timedelta(days=30)
    )
    return surgeon


@pytest.fixture
def make_enrolled_patient(clinic, care_team, protocol_version) -> Callable[..., Patient]:
    """A patient of the clinic, discharged ``discharged_days_ago`` days ago (surgery a
    week before that), enrolled on the current default protocol."""

    def make(
        *,
        discharged_days_ago: int = 2,
        language: str = "en",
        drain: bool = False,
        pulse: bool = False,
        patient: Patient | None = None,
        **patient_fields: Any,
    ) -> Patient:
        if patient is None:
            patient = PatientFactory(clinic=clinic, care_team=care_team, language=language, **patient_fields)
        else:
            patient.care_team = care_team
            patient.language = language
            patient.save()
        today = timezone.localdate()
        discharge = today - timedelta(days=discharged_days_ago)
        episode = EpisodeFactory(
            patient=patient,
            surgery_date=discharge - timedelta(days=7),
            discharge_date=discharge,
            baseline_weight_kg=Decimal("80.0"),
            drain_at_discharge=drain,
        )
        EnrollmentFactory(episode=episode, protocol_version=protocol_version, has_pulse_device=pulse)
        return patient

    return make


@pytest.fixture
def enrolled(patient, make_enrolled_patient) -> Patient:
    """The standing patient, enrolled (discharged two days ago)."""
    return make_enrolled_patient(patient=patient)
