"""`make run` seeds the demo and then enrols its patients, so a new user finds plans
and due check-ins at once (a demo with nobody enrolled answered every check-in with
"not enrolled")."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from backend.models import Patient
from followup.models import Enrollment, ScheduledCheckIn

pytestmark = pytest.mark.django_db


def test_every_demo_patient_is_enrolled_with_a_plan_once(settings):
    settings.VIGIL_DEMO_PASSWORD = "demo-only-password-1"
    call_command("seed_demo", "--if-empty", stdout=StringIO())
    out = StringIO()
    call_command("seed_demo_plans", "--if-empty", stdout=out)

    patients = Patient.objects.filter(mrn__startswith="DEMO-")
    assert patients.exists()
    enrolled = Enrollment.objects.filter(status=Enrollment.Status.ACTIVE)
    assert set(enrolled.values_list("patient_id", flat=True)) == set(patients.values_list("id", flat=True))
    assert f"{patients.count()} patients enrolled" in out.getvalue()
    for patient in patients:
        assert ScheduledCheckIn.objects.filter(patient=patient).exists(), patient.mrn

    before = ScheduledCheckIn.objects.count()
    call_command("seed_demo_plans", "--if-empty", stdout=StringIO())
    call_command("seed_demo_plans", stdout=StringIO())  # without --if-empty: skips the enrolled
    assert Enrollment.objects.count() == patients.count()
    assert ScheduledCheckIn.objects.count() == before
