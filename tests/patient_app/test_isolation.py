"""A patient sees their own pages, chart values and messages and nobody else's: two
patients of one clinic and one of another (H12). Another patient's check-in result or
appointment is a 404, never a 403."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.models import Role
from followup.models import Appointment, CheckIn, Observation
from followup.services.checkins import checkin_submit
from followup.services.patient_messages import patient_message_send
from followup.services.staff_replies import staff_reply_send
from tests.answers import green_answers
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(clinic, other_clinic, make_enrolled, protocol_version, care_team):
    from tests.factories import CareTeamFactory, enrolled_patient_create

    first = make_enrolled(given_name="Ayse", timezone="Europe/Istanbul")
    second = make_enrolled(given_name="Boris", timezone="Europe/Kyiv")
    third = enrolled_patient_create(
        patient=PatientFactory(clinic=other_clinic, given_name="Clara", care_team=CareTeamFactory(clinic=other_clinic))
    ).patient
    nurse_of = {
        clinic.pk: UserFactory(clinic=clinic, role=Role.NURSE),
        other_clinic.pk: UserFactory(clinic=other_clinic, role=Role.NURSE),
    }
    weights = {first.pk: 71.3, second.pk: 82.7, third.pk: 93.9}
    for patient in (first, second, third):
        checkin_submit(patient_id=patient.pk, answers=green_answers(weight_kg=weights[patient.pk]), channel="app")
        Observation.objects.create(
            patient=patient,
            code="cea_ng_ml",
            value=weights[patient.pk] / 10,
            unit="ng/mL",
            entered_value=weights[patient.pk] / 10,
            entered_unit="ng/mL",
            observed_at=timezone.now(),
        )
        patient_message_send(patient=patient, body=f"message of {patient.given_name}")
        staff_reply_send(patient=patient, body=f"reply to {patient.given_name}", by=nurse_of[patient.clinic_id])
        Appointment.objects.create(
            patient=patient,
            kind=Appointment.Kind.CLINIC_VISIT,
            status=Appointment.Status.PROPOSED,
            starts_at=timezone.now() + timedelta(days=3),
        )
    return [first, second, third], weights


def test_each_patient_sees_only_their_own_pages_chart_and_messages(three, app_client):
    patients, weights = three
    for patient in patients:
        client = app_client(patient)
        others = [other for other in patients if other != patient]
        pages = {
            path: client.get(path).content.decode()
            for path in ("/app/", "/app/history/", "/app/plan/", "/app/messages/")
        }
        assert patient.given_name in pages["/app/"]
        chart = json.loads(
            re.search(
                r'<script id="series-data" type="application/json">(.*?)</script>', pages["/app/history/"], re.S
            ).group(1)
        )
        weight_points = [value for one in chart if one["id"] == "weight_kg" for _at, value in one["points"]]
        assert weight_points == [weights[patient.pk]]
        assert f"message of {patient.given_name}" in pages["/app/messages/"]
        assert f"reply to {patient.given_name}" in pages["/app/messages/"]
        for other in others:
            for path, text in pages.items():
                assert other.given_name not in text, (patient.given_name, path)
                assert f"{weights[other.pk]}" not in text.replace(",", "."), (patient.given_name, path)
            foreign_check_in = CheckIn.objects.get(patient=other)
            assert client.get(f"/app/check-ins/{foreign_check_in.pk}/").status_code == 404
            foreign_visit = Appointment.objects.get(patient=other, kind=Appointment.Kind.CLINIC_VISIT)
            assert client.post(f"/app/appointments/{foreign_visit.pk}/confirm/").status_code == 404
            assert client.post(f"/app/appointments/{foreign_visit.pk}/decline/").status_code == 404
            foreign_visit.refresh_from_db()
            assert foreign_visit.status == Appointment.Status.PROPOSED
        own = CheckIn.objects.get(patient=patient)
        assert client.get(f"/app/check-ins/{own.pk}/").status_code == 200
