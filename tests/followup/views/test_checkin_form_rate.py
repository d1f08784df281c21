"""The web check-in past the protocol's rate (issue 17). A link whose check-in was
missed a moment ago still takes answers, as unscheduled check-ins, until the window's
slack runs out: a page re-sent in a loop is refused like the app, with a page in the
patient's language, Retry-After and nothing stored."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client

from followup.links import checkin_link_token
from followup.models import CheckIn, ScheduledCheckIn, WorklistItem
from tests.factories import green_answers, local

pytestmark = pytest.mark.django_db

TZ = "Europe/Istanbul"
DISCHARGE = date(2026, 6, 1)
NOW = local(DISCHARGE + timedelta(days=2), "10:00", TZ)


def form_data() -> dict[str, str]:
    data = {}
    for key, value in green_answers().items():
        if value is None:
            continue
        data[key] = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    return data


def test_a_missed_checkins_link_posted_past_the_rate_is_refused(make_enrollment, clock, patient):
    clock.at(NOW)
    patient.timezone, patient.language = TZ, "de"
    patient.save()
    enrollment = make_enrollment(discharge=DISCHARGE, patient=patient)
    scheduled = ScheduledCheckIn.objects.get(enrollment=enrollment, day=2)
    ScheduledCheckIn.objects.filter(pk=scheduled.pk).update(status=ScheduledCheckIn.Status.MISSED)
    url = f"/c/{checkin_link_token(scheduled_check_in_id=scheduled.pk)}/"
    client = Client()
    for _ in range(12):
        assert client.post(url, form_data()).status_code == 200

    response = client.post(url, form_data())

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert response["Content-Language"] == "de"
    assert patient.clinic.phone.as_e164 in response.content.decode()
    assert CheckIn.objects.filter(patient=patient).count() == 12
    assert WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.CHECK_IN_BURST).count() == 1
