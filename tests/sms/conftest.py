"""Fixtures of the SMS suite: a running fake Twilio, signed webhook posts, enrolled
patients and their due check-ins.

Webhook tests post real form bodies through the URL, signed with twilio's
RequestValidator over ``PUBLIC_BASE_URL`` + path (the URL Twilio would have called).
Delivery tests run the real twilio client against the fake Twilio server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from backend.models import Patient
from followup.models import Enrollment, ScheduledCheckIn
from followup.services.protocols import protocol_version_current
from notifications.backends import locmem
from notifications.ratelimit import sms_rate_reset
from tests.factories import EpisodeFactory, PatientFactory
from tests.fake_twilio import FakeTwilio
from tests.sms.helpers import PUBLIC_BASE_URL, Webhooks


@pytest.fixture(scope="session")
def running_fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake(running_fake: FakeTwilio) -> Iterator[FakeTwilio]:
    running_fake.reset()
    yield running_fake
    running_fake.wait_idle(timeout=15)


@pytest.fixture(autouse=True)
def _sms_settings(settings: Any, running_fake: FakeTwilio) -> Iterator[None]:
    """Webhooks signed with the fake's token; sends go to the in-memory backend unless a
    test switches to the real twilio client (``twilio_backend``)."""
    settings.TWILIO_AUTH_TOKEN = running_fake.auth_token
    settings.TWILIO_ACCOUNT_SID = running_fake.account_sid
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    settings.SMS_BACKEND = "notifications.backends.locmem.LocmemBackend"
    settings.TWILIO_FROM_NUMBER = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    locmem.reset()
    yield
    locmem.reset()


@pytest.fixture
def twilio_backend(settings: Any, fake: FakeTwilio) -> FakeTwilio:
    """The real twilio client, talking to the fake Twilio server (no rate wait to speak
    of: tests of the rate set their own)."""
    settings.SMS_BACKEND = "notifications.backends.twilio.TwilioBackend"
    settings.TWILIO_API_BASE_URL = fake.base_url
    settings.TWILIO_FROM_NUMBER = fake.phone_number
    settings.TWILIO_TIMEOUT = 2.0
    settings.SMS_RATE_PER_SECOND = 1000.0
    sms_rate_reset(number=fake.phone_number)
    return fake


# --- posting to the webhooks ----------------------------------------------------------------


@pytest.fixture
def webhooks(client: Client, running_fake: FakeTwilio) -> Webhooks:
    return Webhooks(client, running_fake)


# --- patients on a protocol -------------------------------------------------------------------


@pytest.fixture
def protocol_version(db: None) -> Any:
    return protocol_version_current("post-hepatectomy")


@pytest.fixture
def make_enrolled(protocol_version: Any) -> Callable[..., Patient]:
    def make(**patient_fields: Any) -> Patient:
        patient = PatientFactory(**patient_fields)
        episode = EpisodeFactory(patient=patient)
        Enrollment.objects.create(episode=episode, patient=patient, protocol_version=protocol_version)
        return patient

    return make


@pytest.fixture
def make_due_check_in() -> Callable[..., ScheduledCheckIn]:
    def make(
        patient: Patient, *, channel: str = "sms", minutes_ago: int = 5, window_minutes: int = 720
    ) -> ScheduledCheckIn:
        enrollment = Enrollment.objects.get(patient=patient, status=Enrollment.Status.ACTIVE)
        return ScheduledCheckIn.objects.create(
            patient=patient,
            enrollment=enrollment,
            due_at=timezone.now() - timedelta(minutes=minutes_ago),
            window_minutes=window_minutes,
            channel=channel,
            status=ScheduledCheckIn.Status.SENT,
            announced_at=timezone.now(),
        )

    return make
