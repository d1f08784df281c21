"""Issue 17: ``CheckInOutputSerializer`` builds a check-in's representation in one go
(the POST is the hot path) while its declared fields remain the API schema. The two
must not drift: the representation equals DRF's field-by-field one, value by value,
for staff (with the rules' trace) and for the patient (without), whatever time zone is
active."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework import serializers

from followup.api.checkins import CheckInOutputSerializer
from followup.models import CheckIn
from followup.services.checkins import checkin_submit
from tests.factories import green_answers

pytestmark = pytest.mark.django_db


def _field_by_field(check_in: CheckIn, context: dict) -> dict:
    serializer = CheckInOutputSerializer(context=context)
    data = serializers.Serializer.to_representation(serializer, check_in)
    if not context["staff"]:
        data.pop("evaluation_trace", None)
    return dict(data)


@pytest.mark.parametrize("staff", [True, False])
@pytest.mark.parametrize("zone", ["UTC", "Asia/Baku"])
def test_the_representation_is_drfs_field_by_field_one(make_enrolled, nurse, staff, zone):
    patient = make_enrolled(discharged_days_ago=3)
    answers = green_answers()
    answers.pop("itching")
    result = checkin_submit(
        patient_id=patient.pk,
        answers=answers,
        channel=CheckIn.Source.STAFF,
        submitted_by=nurse,
        partial=True,
        taken_at=timezone.now(),
    )
    check_in = result.check_in
    context = {"alert_ids": {check_in.pk: [7, 9]}, "staff": staff}
    with timezone.override(zone):
        fast = CheckInOutputSerializer(check_in, context=context).data
        reference = _field_by_field(check_in, context)
    assert dict(fast) == reference
    assert set(reference) == set(CheckInOutputSerializer().fields) - (set() if staff else {"evaluation_trace"})
    assert fast["unanswered"] == ["itching"] and fast["complete"] is False
    assert fast["submitted_by"] == nurse.pk and fast["triage"]["alerts"] == [7, 9]
    assert ("evaluation_trace" in fast) is staff
