"""The fixture kit's builders (the pytest fixtures over them are in tests/conftest.py).

- factory_boy factories for the clinic core, enrollments and lab results;
- ``enrolled_patient_create``: the one way to build an enrolled patient;
- ``green_answers`` / ``red_answers`` (from tests/answers.py): the one answer set;
- ``Webhooks``: posts to our Twilio webhooks, signed as Twilio signs; the outbox read back;
- ``write_protocol``: a copy of the default protocol directory, changed;
- ``local``: an aware datetime at a wall-clock time of a zone.

Phone numbers are in ranges reserved for fiction (+44 20 7946 0xxx, Ofcom's drama
range), so nothing here can text a real person."""

from __future__ import annotations

import json
import urllib.parse
import zoneinfo
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import factory
import yaml
from django.test import Client
from django.utils import timezone

from backend.models import CareTeam, Clinic, Episode, Patient, Role, User
from followup.models import Enrollment, Observation
from followup.protocols import DEFAULT_DATA_DIR
from followup.services.enrollment import enrollment_create
from followup.services.protocols import protocol_version_current
from notifications.models import InboundMessage, OutgoingMessage
from tests.answers import ABSENT, green_answers, red_answers

if TYPE_CHECKING:
    from tests.fake_twilio import FakeTwilio

__all__ = ["ABSENT", "green_answers", "red_answers"]  # re-exported: the kit is imported from here

PASSWORD = "correct horse battery staple"


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    phone = factory.Sequence(lambda n: f"+4420794609{n % 100:02d}")
    timezone = "Europe/Istanbul"
    languages = factory.LazyFunction(lambda: ["en", "tr", "de", "ru", "uk", "az"])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff-{n}")
    role = Role.NURSE
    clinic = factory.SubFactory(ClinicFactory)
    phone = factory.Sequence(lambda n: f"+4420794600{n % 100:02d}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(self, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            self.save()


class CareTeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareTeam

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Team {n}")


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    given_name = factory.Sequence(lambda n: f"Given{n}")
    family_name = factory.Sequence(lambda n: f"Family{n}")
    phone = factory.Sequence(lambda n: f"+442079460{300 + n % 600:03d}")
    language = "en"
    timezone = "Europe/Istanbul"
    sms_consent = True


class EpisodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Episode

    patient = factory.SubFactory(PatientFactory)
    procedure = "Right hepatectomy"
    indication = "Colorectal liver metastasis"
    surgery_date = factory.LazyFunction(lambda: date.today() - timedelta(days=8))
    discharge_date = factory.LazyFunction(lambda: date.today() - timedelta(days=2))
    baseline_weight_kg = Decimal("80.0")


class LabResultFactory(factory.django.DjangoModelFactory):
    """A lab result entered in the unit the protocol judges in: bilirubin in µmol/L
    unless told otherwise (the value as entered is the value stored)."""

    class Meta:
        model = Observation

    patient = factory.SubFactory(PatientFactory)
    code = "bilirubin_umol_l"
    value = 20.0
    unit = "umol/L"
    entered_value = factory.SelfAttribute("value")
    entered_unit = factory.SelfAttribute("unit")
    observed_at = factory.LazyFunction(timezone.now)


class EnrollmentFactory(factory.django.DjangoModelFactory):
    """An enrollment row on the current default protocol (no plan scheduled: for that,
    ``enrolled_patient_create(by=...)`` goes through the enrollment service)."""

    class Meta:
        model = Enrollment

    episode = factory.SubFactory(EpisodeFactory)
    patient = factory.SelfAttribute("episode.patient")
    protocol_version = factory.LazyFunction(lambda: protocol_version_current("post-hepatectomy"))
    has_pulse_device = False


def enrolled_patient_create(
    *,
    patient: Patient | None = None,
    discharge: date | None = None,
    discharged_days_ago: int = 2,
    drain: bool = False,
    pulse: bool = False,
    by: User | None = None,
    **patient_fields: Any,
) -> Enrollment:
    """The one way to build an enrolled patient: ``patient`` (or a new one made of
    ``patient_fields``) with an episode discharged on ``discharge`` (default
    ``discharged_days_ago`` days before today; surgery a week before that, baseline
    weight 80 kg), enrolled on the current default protocol.

    With ``by`` (a staff user) the enrollment goes through ``enrollment_create``, which
    also schedules the plan (check-ins, appointments) at the clock's current time;
    without, only the enrollment row is written."""
    if patient is None:
        patient = PatientFactory(**patient_fields)
    elif patient_fields:
        for name, value in patient_fields.items():
            setattr(patient, name, value)
        patient.save()
    if discharge is None:
        discharge = timezone.localdate() - timedelta(days=discharged_days_ago)
    episode = EpisodeFactory(
        patient=patient,
        surgery_date=discharge - timedelta(days=7),
        discharge_date=discharge,
        baseline_weight_kg=Decimal("80.0"),
        drain_at_discharge=drain,
    )
    if by is not None:
        return enrollment_create(episode=episode, protocol_slug="post-hepatectomy", has_pulse_device=pulse, by=by)
    return EnrollmentFactory(episode=episode, has_pulse_device=pulse)


def local(day: date, at: str, tz: str) -> datetime:
    """An aware datetime at a local wall-clock time (``"08:30"``) of a zone."""
    return datetime.combine(day, time.fromisoformat(at), tzinfo=zoneinfo.ZoneInfo(tz))


# --- SMS: our Twilio webhooks, signed as Twilio signs, and the outbox ------------------------

SMS_PATH = "/webhooks/twilio/sms/"
STATUS_PATH = "/webhooks/twilio/status/"
PUBLIC_BASE_URL = "https://vigil.example.org"


class Webhooks:
    """Posts to our webhooks as Twilio does: form-encoded, signed with twilio's
    RequestValidator over ``PUBLIC_BASE_URL`` + path (the URL Twilio would have called)."""

    def __init__(self, client: Client, fake: FakeTwilio) -> None:
        self.client = client
        self.fake = fake

    def post(self, path: str, params: dict[str, str], *, signature: str | None = None, query: str = "") -> Any:
        full = f"{path}?{query}" if query else path
        if signature is None:
            signature = self.fake.sign(PUBLIC_BASE_URL + full, params)
        headers = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
        return self.client.post(
            full, urllib.parse.urlencode(params), content_type="application/x-www-form-urlencoded", **headers
        )

    def sms(self, from_: str, body: str, *, message_sid: str | None = None, handle: bool = True) -> Any:
        """Post an inbound SMS; with ``handle`` a worker's task then runs for it, as
        after the webhook's commit in production (``handle=False``: stored only)."""
        params = self.fake.inbound_sms_params(from_, body, message_sid=message_sid)
        response = self.post(SMS_PATH, params)
        assert response.status_code == 200, response.status_code
        if handle:
            inbound_task_run(message_sid=params["MessageSid"])
        return response

    def status(self, *, sid: str, status: str, outbox_id: int | None = None, error_code: int | None = None) -> Any:
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.fake.account_sid,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return self.post(STATUS_PATH, params, query=f"m={outbox_id}" if outbox_id is not None else "")


def inbound_task_run(*, message_sid: str) -> None:
    """Run the inbound handling task for a stored message here, as a worker runs it
    (Celery's ``apply``: the task itself, its retries included)."""
    from notifications.tasks import sms_inbound_handle

    inbound_id = InboundMessage.objects.values_list("pk", flat=True).get(message_sid=message_sid)
    sms_inbound_handle.apply(args=[inbound_id]).get()  # a failure is raised here


def outbound(patient: Patient) -> list[OutgoingMessage]:
    return list(OutgoingMessage.objects.filter(patient=patient).order_by("id"))


def last_outbound(patient: Patient) -> OutgoingMessage:
    message = OutgoingMessage.objects.filter(patient=patient).order_by("-id").first()
    assert message is not None
    return message


# --- protocol directories: the default protocol, or a changed copy ----------------------------

DEFAULT_PROTOCOL_DIR = DEFAULT_DATA_DIR / "post-hepatectomy"


def _plain(data: Any) -> Any:
    # A JSON round trip drops YAML anchors, so a mutation touches one entry only.
    return json.loads(json.dumps(data))


def default_protocol_data() -> dict[str, Any]:
    return _plain(yaml.safe_load((DEFAULT_PROTOCOL_DIR / "protocol.yaml").read_text(encoding="utf-8")))


def default_rules_data() -> list[dict[str, Any]]:
    return _plain(yaml.safe_load((DEFAULT_PROTOCOL_DIR / "rules.yaml").read_text(encoding="utf-8")))


def write_protocol(
    directory: Path,
    mutate: Callable[[dict[str, Any]], object] | None = None,
    *,
    mutate_rules: Callable[[list[dict[str, Any]]], object] | None = None,
) -> Path:
    """A copy of the default protocol in ``directory``, changed by ``mutate``."""
    data = default_protocol_data()
    rules = default_rules_data()
    if mutate is not None:
        mutate(data)
    if mutate_rules is not None:
        mutate_rules(rules)
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in (("protocol.yaml", data), ("rules.yaml", rules)):
        text = yaml.safe_dump(content, allow_unicode=True, sort_keys=False)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def question(data: dict[str, Any], question_id: str) -> dict[str, Any]:
    return next(q for q in data["questions"] if q["id"] == question_id)
