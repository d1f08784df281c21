"""factory_boy factories for the clinic core and lab results. Phone numbers are in ranges reserved for
fiction (+44 20 7946 0xxx, Ofcom's drama range), so nothing here can text a real person."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from backend.models import CareTeam, Clinic, Episode, Patient, Role, User
from followup.models import Observation

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
