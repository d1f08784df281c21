"""manage.py create_service_account <clinic id or exact name> [--days N] [--keep-existing]

Issues a token for the clinic's hospital-system service account (creating the account
on first use) and prints it once: it is stored only as a digest and cannot be shown
again. Earlier tokens of the account are revoked unless --keep-existing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.models import Clinic
from backend.service_accounts import DEFAULT_TOKEN_DAYS, service_account_issue


class Command(BaseCommand):
    help = "Issue the token of a clinic's hospital-system service account (printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("clinic", help="the clinic's id or exact name")
        parser.add_argument("--days", type=int, default=DEFAULT_TOKEN_DAYS, help="how long the token is valid")
        parser.add_argument("--keep-existing", action="store_true", help="do not revoke the earlier tokens")

    def handle(self, *args: Any, **options: Any) -> None:
        given = str(options["clinic"])
        clinics = Clinic.objects.filter(pk=int(given)) if given.isdigit() else Clinic.objects.filter(name=given)
        clinic = clinics.first()
        if clinic is None or clinics.count() > 1:
            raise CommandError(f"no single clinic {given!r}: give its id or exact name")
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        try:
            issued = service_account_issue(clinic=clinic, days=options["days"], keep_existing=options["keep_existing"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        what = "created" if issued.created else "exists"
        expires = issued.expires_at.isoformat() if issued.expires_at else "never"
        self.stderr.write(
            f"Service account {issued.user.username} ({what}) of clinic {clinic.pk}; "
            f"{issued.revoked} earlier token(s) revoked; expires {expires}. The token is shown once:"
        )
        self.stdout.write(issued.token)
