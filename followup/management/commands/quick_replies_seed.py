"""Give every clinic that has no quick replies the two examples in the six languages
(migration 0009 did so for the clinics that existed then; a clinic added later gets
them here). A clinic with quick replies of its own is left alone."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from backend.models import Clinic
from followup.services.quick_replies import quick_replies_seed


class Command(BaseCommand):
    help = "Seed the example quick replies for each clinic that has none."

    def handle(self, *args: Any, **options: Any) -> None:
        seeded = sum(quick_replies_seed(clinic_id=pk) for pk in Clinic.objects.values_list("pk", flat=True))
        self.stdout.write(f"Quick replies: {seeded} written.")
