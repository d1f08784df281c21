"""Enrol the demo patients on the default protocol, so that `make run` opens on plans,
due check-ins and a dashboard that fills as the beat sends the first invitations.

A command of its own, run after backend's ``seed_demo``: backend imports nothing of
followup, so its seed creates clinics, staff, patients and episodes but cannot enrol.
Every enrolment goes through ``enrollment_create``, as a nurse's would."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from backend.models import Patient, Role, User
from followup.models import Enrollment
from followup.services.enrollment import enrollment_create

DEMO_MRN_PREFIX = "DEMO-"  # seed_demo's patients
PROTOCOL = "post-hepatectomy"


class Command(BaseCommand):
    help = "Enrol seed_demo's patients on the post-hepatectomy protocol (their latest episode)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="do nothing if any enrollment exists")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and Enrollment.objects.exists():
            return
        # The clinics seed_demo just made had no quick replies when migration 0009 ran.
        call_command("quick_replies_seed", stdout=self.stdout)
        enrolled = 0
        patients = Patient.objects.filter(mrn__startswith=DEMO_MRN_PREFIX).order_by("id")
        for patient in patients:
            episode = patient.episodes.order_by("-discharge_date", "-id").first()
            if episode is None or Enrollment.objects.filter(patient=patient, status=Enrollment.Status.ACTIVE).exists():
                continue
            nurse = (
                User.objects.filter(clinic_id=patient.clinic_id, role=Role.NURSE, is_active=True).order_by("id").first()
            )
            if nurse is None:
                continue
            enrollment_create(episode=episode, protocol_slug=PROTOCOL, has_pulse_device=False, by=nurse)
            enrolled += 1
        self.stdout.write(f"Demo plans: {enrolled} patients enrolled on {PROTOCOL}.")
