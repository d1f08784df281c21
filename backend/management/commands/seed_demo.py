"""Demo data: two clinics (so the wall between clinics can be seen), care teams with an
on-call chain, staff logins and a dozen discharged patients.

Phone numbers are in ranges reserved for fiction (+44 20 7946 0xxx, Ofcom's drama range), so a
demo never texts a real person."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from backend.models import CareTeam, Clinic, Episode, OnCallShift, Patient, Role, User

DEMO_PATIENTS = [
    # given, family, language, timezone, days since discharge
    ("Ayşe", "Yılmaz", "tr", "Europe/Istanbul", 2),
    ("Mehmet", "Demir", "tr", "Europe/Istanbul", 6),
    ("Leyla", "Məmmədova", "az", "Asia/Baku", 1),
    ("Rauf", "Əliyev", "az", "Asia/Baku", 12),
    ("Klaus", "Becker", "de", "Europe/Berlin", 4),
    ("Anna", "Schmidt", "de", "Europe/Berlin", 25),
    ("Ivan", "Petrov", "ru", "Europe/Moscow", 9),
    ("Olga", "Smirnova", "ru", "Asia/Almaty", 40),
    ("Oksana", "Kovalenko", "uk", "Europe/Kyiv", 3),
    ("Taras", "Shevchuk", "uk", "Europe/Kyiv", 70),
    ("John", "Smith", "en", "Europe/London", 15),
    ("Mary", "Jones", "en", "America/New_York", 120),
]


class Command(BaseCommand):
    help = "Create the demo clinics, staff, on-call chains and patients."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--if-empty", action="store_true", help="do nothing if any clinic exists")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if options["if_empty"] and Clinic.objects.exists():
            self.stdout.write("Database already has clinics; demo not seeded.")
            return
        password = settings.VIGIL_DEMO_PASSWORD or secrets.token_urlsafe(9)
        with transaction.atomic():
            self._seed(password)
        self.stdout.write(self.style.SUCCESS("Demo data created. Staff logins (password below):"))
        for username in ("demo-surgeon", "demo-nurse", "demo-coordinator", "demo-nurse-2"):
            self.stdout.write(f"  {username}")
        self.stdout.write(f"  password: {password}")
        if not settings.VIGIL_DEMO_PASSWORD:
            self.stdout.write("  (generated; set VIGIL_DEMO_PASSWORD to choose it)")

    def _seed(self, password: str) -> None:
        first = Clinic.objects.create(
            name="Vigil Liver Surgery Clinic",
            phone="+442079460900",
            fallback_phone="+442079460901",
            timezone="Europe/Istanbul",
            languages=["en", "tr", "de", "ru", "uk", "az"],
        )
        second = Clinic.objects.create(
            name="Second Demo Clinic",
            phone="+442079460910",
            timezone="Europe/Berlin",
            languages=["en", "de"],
        )
        users = {}
        for username, role, clinic, phone in [
            ("demo-surgeon", Role.SURGEON, first, "+442079460001"),
            ("demo-nurse", Role.NURSE, first, "+442079460002"),
            ("demo-coordinator", Role.COORDINATOR, first, "+442079460003"),
            ("demo-nurse-2", Role.NURSE, second, "+442079460004"),
        ]:
            user = User.objects.create(username=username, role=role, clinic=clinic, phone=phone)
            user.set_password(password)
            user.save()
            users[username] = user
        second_surgeon = User.objects.create(
            username="demo-surgeon-2", role=Role.SURGEON, clinic=first, phone="+442079460005"
        )
        second_surgeon.set_password(password)
        second_surgeon.save()

        now = timezone.now()
        team = CareTeam.objects.create(clinic=first, name="Hepatobiliary team")
        team.members.set([users["demo-surgeon"], users["demo-nurse"], users["demo-coordinator"], second_surgeon])
        other_team = CareTeam.objects.create(clinic=second, name="Surgical team")
        other_team.members.set([users["demo-nurse-2"]])
        # A chain that covers the next 30 days: surgeon first, second surgeon, then the
        # coordinator (who holds the clinic's phone).
        for level, user in enumerate([users["demo-surgeon"], second_surgeon, users["demo-coordinator"]], start=1):
            OnCallShift.objects.create(
                care_team=team,
                user=user,
                level=level,
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=30),
            )
        OnCallShift.objects.create(
            care_team=other_team,
            user=users["demo-nurse-2"],
            level=1,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=30),
        )

        today = date.today()
        for index, (given, family, language, tz, days) in enumerate(DEMO_PATIENTS, start=1):
            clinic = first if index <= 10 else second
            patient = Patient.objects.create(
                clinic=clinic,
                care_team=team if clinic == first else other_team,
                mrn=f"DEMO-{index:04d}",
                given_name=given,
                family_name=family,
                phone=f"+442079460{300 + index:03d}",
                language=language,
                timezone=tz,
                sms_consent=True,
            )
            discharge = today - timedelta(days=days)
            Episode.objects.create(
                patient=patient,
                procedure="Right hepatectomy" if index % 2 else "Segmentectomy (S6-7)",
                indication="Colorectal liver metastasis",
                surgery_date=discharge - timedelta(days=6),
                discharge_date=discharge,
                surgeon=users["demo-surgeon"] if clinic == first else None,
                baseline_weight_kg=Decimal("60.0") + index,
                drain_at_discharge=index in (2, 5),
            )
