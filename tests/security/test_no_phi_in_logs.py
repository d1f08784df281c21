"""H13: no PHI in logs. A canary patient with a name and a phone number found nowhere
else goes through a realistic path - created through the API, enrolled, sent a sign-in
code, checking in red, texting the clinic (a signed Twilio webhook, with their name in
the message), a bad check-in, staff reading the alerts and messages, acknowledging and
resolving - while every log record of every logger is captured at DEBUG, together
with stdout and stderr. Neither the name nor the number (as dialled, without "+", or
URL-encoded) may appear anywhere.

The same check runs over the real processes' logs in the fault suite
(tests/faults/test_no_phi_in_process_logs.py)."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.utils import timezone
from twilio.request_validator import RequestValidator

from backend.services import patient_user_get_or_create
from followup.models import Alert, Enrollment
from tests.answers import red_answers
from tests.factories import CareTeamFactory, inbound_task_run
from tests.security.conftest import api_client_for

CANARY_GIVEN = "Zebulonia"
CANARY_FAMILY = "Quillfeather"
CANARY_PHONE = "+442079460987"
AUTH_TOKEN = "canary-twilio-auth-token"


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


@pytest.fixture
def every_log_record():
    handler = _Everything()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # Loggers with their own level (django.request) are opened up too.
    touched = {}
    for name in list(logging.root.manager.loggerDict):
        logger = logging.getLogger(name)
        if logger.level and logger.level > logging.DEBUG:
            touched[name] = logger.level
            logger.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)
    for name, level in touched.items():
        logging.getLogger(name).setLevel(level)


def _signed_webhook(client, path: str, params: dict[str, str]):
    url = settings.PUBLIC_BASE_URL + path
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    form = "application/x-www-form-urlencoded"
    return client.post(path, data=urlencode(params), content_type=form, HTTP_X_TWILIO_SIGNATURE=signature)


def test_a_canary_patient_never_appears_in_any_log(population, every_log_record, capfd, settings, client):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    nurse = api_client_for(population.staff["nurse"])
    team = CareTeamFactory(clinic=population.clinic)

    created = nurse.post(
        "/api/v1/patients/",
        {
            "mrn": "CANARY-0001",
            "given_name": CANARY_GIVEN,
            "family_name": CANARY_FAMILY,
            "phone": CANARY_PHONE,
            "language": "en",
            "timezone": "Europe/Istanbul",
            "sms_consent": True,
            "care_team": team.pk,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    patient_id = created.json()["id"]
    today = timezone.localdate()
    episode = nurse.post(
        "/api/v1/episodes/",
        {
            "patient": patient_id,
            "procedure": "Right hepatectomy",
            "surgery_date": str(today - timedelta(days=9)),
            "discharge_date": str(today - timedelta(days=2)),
            "baseline_weight_kg": 80.0,
        },
        format="json",
    )
    assert episode.status_code == 201, episode.content
    enrolled = nurse.post(
        "/api/v1/enrollments/", {"episode": episode.json()["id"], "protocol": "post-hepatectomy"}, format="json"
    )
    assert enrolled.status_code == 201, enrolled.content
    assert nurse.post(f"/api/v1/patients/{patient_id}/enrollment-code/").status_code == 202
    # A wrong code for the canary's phone (a failed sign-in is logged by many apps).
    assert client.post(
        "/api/v1/auth/patient-token/", {"phone": CANARY_PHONE, "code": "000000"}, content_type="application/json"
    ).status_code in (400, 429)

    from backend.models import Patient

    canary = Patient.objects.get(pk=patient_id)
    patient = api_client_for(patient_user_get_or_create(canary))
    red = patient.post("/api/v1/check-ins/", {"answers": red_answers(), "scheduled_check_in": None}, format="json")
    assert red.status_code == 201, red.content
    bad = patient.post(
        "/api/v1/check-ins/",
        {"answers": {**red_answers(), "temperature_c": f"{CANARY_GIVEN} {CANARY_PHONE}"}, "scheduled_check_in": None},
        format="json",
    )
    assert bad.status_code == 400

    # The canary texts the clinic, naming themself, twice (Twilio retries).
    params = {
        "MessageSid": "SMcanary0000000000000000000000000",
        "SmsSid": "SMcanary0000000000000000000000000",
        "AccountSid": "ACcanary",
        "From": CANARY_PHONE,
        "To": str(population.clinic.phone),
        "Body": f"Hello it is {CANARY_GIVEN} {CANARY_FAMILY}, call me on {CANARY_PHONE}",
        "NumMedia": "0",
    }
    for _ in range(2):
        assert _signed_webhook(client, "/webhooks/twilio/sms/", params).status_code == 200
    inbound_task_run(message_sid=params["MessageSid"])  # the worker's handling logs too
    # An unsigned copy is refused (and must not be logged either).
    assert client.post("/webhooks/twilio/sms/", params).status_code == 403

    alert = Alert.objects.filter(patient=canary).first()
    assert alert is not None
    assert nurse.get(f"/api/v1/alerts/?patient={patient_id}").status_code == 200
    assert nurse.get(f"/api/v1/alerts/{alert.pk}/").status_code == 200
    assert nurse.get(f"/api/v1/patients/{patient_id}/messages/").status_code == 200
    assert nurse.get("/api/v1/patients/?mrn=CANARY-0001").status_code == 200
    assert nurse.post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 200
    resolved = nurse.post(f"/api/v1/alerts/{alert.pk}/resolve/", {"outcome": "advised", "note": "ok"}, format="json")
    assert resolved.status_code == 200
    assert Enrollment.objects.filter(patient=canary).exists()

    captured = capfd.readouterr()
    haystack = "\n".join([*every_log_record.lines, captured.out, captured.err])
    assert len(every_log_record.lines) > 5, "the capture saw no log records: is logging configured?"
    needles = [CANARY_GIVEN, CANARY_FAMILY, CANARY_PHONE, CANARY_PHONE.lstrip("+"), "%2B" + CANARY_PHONE[1:]]
    leaks = [line for line in haystack.splitlines() if any(needle in line for needle in needles)]
    assert not leaks, "PHI in logs or output:\n" + "\n".join(leaks[:10])
