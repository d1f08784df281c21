"""A populated clinic for the security tests: two patients with the whole range of
their data (episode, enrollment, scheduled check-in, appointment, check-in with a red
alert, observation, worklist item, SMS history), staff of every role, and a nurse
of another clinic. Built with the fixture kit (tests/factories.py, tests/answers.py)
and the check-in service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from backend.models import Clinic, Patient, Role, User
from backend.services import patient_user_get_or_create
from followup.models import Alert, Appointment, CheckIn, Enrollment, Observation, ScheduledCheckIn, WorklistItem
from followup.services.checkins import checkin_submit
from notifications.models import MessageKind
from notifications.services import sms_enqueue
from tests.answers import red_answers
from tests.factories import (
    CareTeamFactory,
    ClinicFactory,
    LabResultFactory,
    PatientFactory,
    UserFactory,
    enrolled_patient_create,
)

STAFF_ROLES = ("nurse", "surgeon", "coordinator", "admin")
ACTORS = ("anonymous", "patient", "other_patient", *STAFF_ROLES, "other_nurse")


@dataclass
class PatientData:
    patient: Patient
    user: User
    episode: Any
    enrollment: Enrollment
    scheduled_check_in: ScheduledCheckIn
    appointment: Appointment
    check_in: CheckIn
    alert: Alert
    observation: Observation
    worklist_item: WorklistItem


@dataclass
class Population:
    clinic: Clinic
    other_clinic: Clinic
    staff: dict[str, User]
    other_nurse: User
    own: PatientData
    other: PatientData

    def user_of(self, actor: str) -> User | None:
        if actor == "anonymous":
            return None
        if actor == "patient":
            return self.own.user
        if actor == "other_patient":
            return self.other.user
        if actor == "other_nurse":
            return self.other_nurse
        return self.staff[actor]


def patient_data_create(*, clinic: Clinic, care_team: Any, by: User, **fields: Any) -> PatientData:
    patient = PatientFactory(clinic=clinic, care_team=care_team, **fields)
    enrollment = enrolled_patient_create(patient=patient)
    episode = enrollment.episode
    now = timezone.now()
    scheduled = ScheduledCheckIn.objects.create(
        patient=patient, enrollment=enrollment, due_at=now + timedelta(hours=3), channel="sms"
    )
    appointment = Appointment.objects.create(
        patient=patient, enrollment=enrollment, kind="clinic_visit", starts_at=now + timedelta(days=5)
    )
    result = checkin_submit(
        patient_id=patient.pk,
        answers=red_answers(),
        scheduled_check_in_id=None,
        channel="staff",
        submitted_by=by,
        taken_at=None,
        audit=None,
    )
    alert = Alert.objects.get(pk=result.alert_ids[0])
    observation = LabResultFactory(patient=patient, observed_at=now - timedelta(hours=1), entered_by=by)
    worklist_item = WorklistItem.objects.create(patient=patient, clinic=clinic, kind="nurse_call", detail="call")
    sms_enqueue(
        clinic_id=clinic.pk,
        to_phone=str(patient.phone),
        body="Hello",
        kind=MessageKind.REPLY,
        idempotency_key=f"security-{patient.pk}",
        patient=patient,
    )
    return PatientData(
        patient=patient,
        user=patient_user_get_or_create(patient),
        episode=episode,
        enrollment=enrollment,
        scheduled_check_in=scheduled,
        appointment=appointment,
        check_in=result.check_in,
        alert=alert,
        observation=observation,
        worklist_item=worklist_item,
    )


@pytest.fixture
def population(db) -> Population:
    clinic = ClinicFactory()
    other_clinic = ClinicFactory()
    care_team = CareTeamFactory(clinic=clinic)
    staff = {role: UserFactory(clinic=clinic, role=role) for role in STAFF_ROLES}
    other_nurse = UserFactory(clinic=other_clinic, role=Role.NURSE)
    own = patient_data_create(clinic=clinic, care_team=care_team, by=staff["nurse"])
    other = patient_data_create(clinic=clinic, care_team=care_team, by=staff["nurse"])
    return Population(
        clinic=clinic, other_clinic=other_clinic, staff=staff, other_nurse=other_nurse, own=own, other=other
    )


def token_for(user: User) -> str:
    _instance, key = AuthToken.objects.create(user=user)
    return key


def api_client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client
